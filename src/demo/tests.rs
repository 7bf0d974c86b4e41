use super::*;
use crate::sim::source::AlertMaker;
use geo::{Area as _, BooleanOps, BoundingRect, Contains, Intersects, Point, Validation, Winding};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashSet;

fn grids(c: &DemoCounty) -> Vec<&DemoZone> {
    c.zones.iter().filter(|z| z.kind == "grid").collect()
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
}

#[test]
fn counts_and_ids() {
    let c = county();
    let g = grids(&c);
    assert!((5..=6).contains(&g.len()));
    assert_eq!(c.zones.iter().filter(|z| z.kind == "beat").count(), 1);
    let gw = c
        .responders
        .iter()
        .filter(|r| r.kind == "grid_worker")
        .count();
    let pt = c.responders.iter().filter(|r| r.kind == "patrol").count();
    assert_eq!((gw, pt), (20, 5));
    assert_eq!(c.cameras.len(), 10);
    assert_eq!(c.cameras[0].id, "cam-01");
    assert_eq!(c.source_id, "demo-source");
    let mut ids = HashSet::new();
    for id in c
        .zones
        .iter()
        .map(|z| &z.id)
        .chain(c.responders.iter().map(|r| &r.id))
        .chain(c.cameras.iter().map(|c| &c.id))
    {
        assert!(valid_id(id), "bad id {id}");
        assert!(ids.insert(id.clone()), "duplicate id {id}");
    }
    for z in &c.zones {
        assert!(!z.name.is_empty() && !z.name_en.is_empty());
    }
}

#[test]
fn polygons_are_valid_and_sized() {
    let c = county();
    for z in &c.zones {
        assert!(z.polygon.is_valid(), "{} invalid", z.id);
        assert!(z.polygon.exterior().is_closed());
        assert!(
            z.polygon.exterior().is_ccw(),
            "{} should be counter-clockwise",
            z.id
        );
        let bb = z.polygon.bounding_rect().unwrap();
        let pos = |lat: f64, lon: f64| LatLon { lat, lon };
        let sw = pos(bb.min().y, bb.min().x);
        let w = sw.distance_m(pos(bb.min().y, bb.max().x));
        let h = sw.distance_m(pos(bb.max().y, bb.min().x));
        if z.kind == "grid" {
            for d in [w, h] {
                assert!((300.0..=1500.0).contains(&d), "{} is {d:.0} m across", z.id);
            }
        }
        // Somewhere around Wuda.
        let p = z.area().center();
        assert!(p.distance_m(pos(39.50, 106.70)) < 5000.0);
    }
}

#[test]
fn grids_do_not_overlap_and_are_adjacent() {
    let c = county();
    let g = grids(&c);
    for (i, a) in g.iter().enumerate() {
        let mut neighbours = 0;
        for (j, b) in g.iter().enumerate() {
            if i == j {
                continue;
            }
            let overlap = a.polygon.intersection(&b.polygon).unsigned_area();
            // Shared borders have zero area; allow only float noise (≪ 1 m²).
            assert!(overlap < 1e-12, "{} overlaps {}", a.id, b.id);
            if a.polygon.intersects(&b.polygon) {
                neighbours += 1;
            }
        }
        assert!(neighbours >= 2, "{} has {neighbours} neighbours", a.id);
    }
}

#[test]
fn beat_covers_all_grids() {
    let c = county();
    let beat = c.zone(BEAT_ID).unwrap();
    assert_eq!(beat.kind, "beat");
    for z in grids(&c) {
        assert!(beat.polygon.contains(&z.polygon), "beat misses {}", z.id);
    }
}

#[test]
fn everyone_is_inside_their_zone() {
    let c = county();
    for r in &c.responders {
        let z = c.zone(&r.zone_id).unwrap();
        if r.kind == "patrol" {
            assert_eq!(z.kind, "beat");
            assert_eq!(r.travel, TravelMode::Car);
        } else {
            assert_eq!(z.kind, "grid");
            assert!(matches!(r.travel, TravelMode::Foot | TravelMode::Bike));
        }
        assert!(z.area().contains(r.home), "{} outside {}", r.id, z.id);
        assert!(!r.name.is_empty());
    }
    for cam in &c.cameras {
        let z = c.zone(&cam.zone_id).unwrap();
        assert!(
            z.polygon.contains(&Point::new(cam.lon, cam.lat)),
            "{} outside {}",
            cam.id,
            z.id
        );
    }
    for l in &c.landmarks {
        assert!(c.zone(&l.zone_id).unwrap().area().contains(l.position));
    }
    // Every grid has workers.
    for z in grids(&c) {
        assert!(c.responders.iter().any(|r| r.zone_id == z.id));
    }
}

#[test]
fn features_match_the_contract() {
    let c = county();
    for z in &c.zones {
        let v = serde_json::to_value(z.feature()).unwrap();
        assert_eq!(v["type"], "Feature");
        assert_eq!(v["geometry"]["type"], "Polygon");
        assert_eq!(v["properties"]["id"], z.id.as_str());
        assert_eq!(v["properties"]["kind"], z.kind.as_str());
        assert_eq!(v["properties"]["name"], z.name.as_str());
        let ring = v["geometry"]["coordinates"][0].as_array().unwrap();
        assert!(ring.len() >= 4);
        assert_eq!(ring.first(), ring.last());
        // GeoJSON order is [lon, lat].
        assert!(ring[0][0].as_f64().unwrap() > 100.0);
    }
}

#[test]
fn demo_alerts_are_plausible() {
    let c = county();
    let beat = c.zone(BEAT_ID).unwrap().area();
    let cams: HashSet<&str> = c.cameras.iter().map(|c| c.id.as_str()).collect();
    let mut maker = DemoAlerts::new(&c.zones, &c.landmarks, &c.cameras);
    let mut rng = StdRng::seed_from_u64(3);
    let mut kinds = HashSet::new();
    let mut with_rendezvous = 0;
    for i in 0..400 {
        let a = maker.make(&mut rng, format!("demo-{i}"));
        kinds.insert(a.kind.clone());
        assert!((1..=4).contains(&a.severity));
        match (a.location(), &a.camera_id) {
            (Some(p), None) => assert!(beat.contains(p), "{a:?} outside county"),
            (None, Some(cam)) => assert!(cams.contains(cam.as_str())),
            other => panic!("alert needs exactly one of location/camera: {other:?}"),
        }
        let d = a.description.as_deref().unwrap();
        assert!(d.contains(" / "), "bilingual description expected: {d}");
        if let Some(r) = &a.rendezvous {
            with_rendezvous += 1;
            assert!(beat.contains(LatLon {
                lat: r.lat,
                lon: r.lon
            }));
            assert!(!r.note.is_empty());
        }
    }
    for k in [
        "fall",
        "guidance",
        "fire",
        "flood",
        "fight",
        "intrusion",
        "medical",
        "traffic",
    ] {
        assert!(kinds.contains(k), "never produced {k}");
    }
    assert!(with_rendezvous > 0);
}

#[test]
fn the_street_sketch_reaches_everyone_and_its_park_is_for_walkers() {
    let dir = tempfile::tempdir().map_err(|e| e.to_string());
    let Ok(dir) = dir else {
        panic!("tempdir: {dir:?}");
    };
    assert_eq!(streets::prepare(dir.path()).ok(), Some(true));
    // A roads file already there (an imported region) is never replaced.
    assert_eq!(streets::prepare(dir.path()).ok(), Some(false));
    let roads = crate::roads::Roads::load(&dir.path().join(crate::roads::FILE_NAME));
    let Ok(roads) = roads else {
        panic!("the sketch's roads file reads back");
    };
    let c = county();
    for r in &c.responders {
        for other in &c.responders {
            let route = roads.route(r.travel, r.home, other.home, 200.0);
            assert!(
                route.is_some(),
                "{} ({:?}) reaches {} by road",
                r.id,
                r.travel,
                other.id
            );
        }
    }
    // Across the park: a walker takes the footpaths, a car the streets round it.
    let sw = data::at(1, 1, 0.25, 0.25);
    let ne = data::at(1, 1, 0.5, 0.5);
    let walk = roads
        .route(TravelMode::Foot, sw, ne, 200.0)
        .map(|r| r.distance_m);
    let drive = roads
        .route(TravelMode::Car, sw, ne, 200.0)
        .map(|r| r.distance_m);
    let straight = sw.distance_m(ne);
    assert!(
        walk.is_some_and(|w| (w - straight).abs() < 1.0),
        "walk {walk:?}, straight {straight}"
    );
    assert!(drive.is_some_and(|d| d > straight * 1.3), "drive {drive:?}");
}

#[test]
fn a_sketch_of_an_older_layout_is_imported_again_and_the_old_file_kept() {
    let dir = tempfile::tempdir().map_err(|e| e.to_string());
    let Ok(dir) = dir else {
        panic!("tempdir: {dir:?}");
    };
    let out = dir.path().join(crate::roads::FILE_NAME);
    assert_eq!(streets::prepare(dir.path()).ok(), Some(true));
    // As if written by the version before: same kind of file, older layout.
    std::fs::write(&out, b"GDROADS1 an older body").unwrap_or_default();
    assert_eq!(streets::prepare(dir.path()).ok(), Some(true));
    assert!(
        crate::roads::Roads::load(&out).is_ok(),
        "the new sketch loads"
    );
    let kept = std::fs::read(out.with_extension("bin.old")).unwrap_or_default();
    assert_eq!(kept, b"GDROADS1 an older body");
    // Without the sketch's extract beside it, an older file is someone's import: left.
    let other = tempfile::tempdir().map_err(|e| e.to_string());
    let Ok(other) = other else {
        panic!("tempdir: {other:?}");
    };
    let theirs = other.path().join(crate::roads::FILE_NAME);
    std::fs::write(&theirs, b"GDROADS1 a region").unwrap_or_default();
    assert_eq!(streets::prepare(other.path()).ok(), Some(false));
    assert_eq!(
        std::fs::read(&theirs).unwrap_or_default(),
        b"GDROADS1 a region"
    );
}
