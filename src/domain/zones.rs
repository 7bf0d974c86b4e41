//! Coverage zones (grids and patrol beats) and the index that says which zone a point is in.

use std::collections::HashMap;

use geo::{Area, BoundingRect, Contains, MultiPolygon};
use rstar::{RTree, RTreeObject, AABB};

use super::{Ident, Invalid, LatLon, ZoneKind};

/// One coverage zone.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Administrator-chosen id.
    pub id: Ident,
    /// Display name (often Chinese).
    pub name: String,
    /// Grid or beat.
    pub kind: ZoneKind,
    /// Outline in WGS-84 degrees (x = lon, y = lat).
    pub shape: MultiPolygon<f64>,
}

/// A GeoJSON Polygon or MultiPolygon with sane coordinates, as a `geo` shape (how a zone's
/// outline enters from the API and from the database).
///
/// # Units
/// Coordinates are `[lon, lat]` in WGS-84 degrees.
pub fn to_multipolygon(g: &geojson::Geometry) -> Result<MultiPolygon<f64>, Invalid> {
    let shape: geo::Geometry<f64> = g
        .clone()
        .try_into()
        .map_err(|e| Invalid::new("geometry", format!("not valid GeoJSON geometry: {e}")))?;
    let mp = match shape {
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(mp) => mp,
        _ => {
            return Err(Invalid::new(
                "geometry",
                "must be a Polygon or MultiPolygon",
            ))
        }
    };
    for poly in &mp.0 {
        if poly.exterior().0.len() < 4 {
            return Err(Invalid::new(
                "geometry",
                "each ring needs at least 4 positions (closed)",
            ));
        }
    }
    let rect = mp
        .bounding_rect()
        .ok_or_else(|| Invalid::new("geometry", "is empty"))?;
    let ok = |x: f64, y: f64| {
        x.is_finite()
            && y.is_finite()
            && (-180.0..=180.0).contains(&x)
            && (-90.0..=90.0).contains(&y)
    };
    if !ok(rect.min().x, rect.min().y) || !ok(rect.max().x, rect.max().y) {
        return Err(Invalid::new(
            "geometry",
            "coordinates must be [lon, lat] in WGS-84 degrees",
        ));
    }
    Ok(mp)
}

/// A zone's bounding box in the R-tree, pointing back into the zone list.
#[derive(Debug, Clone)]
struct Entry {
    /// Position in [`ZoneIndex::zones`].
    slot: usize,
    /// Bounding box in degrees.
    bbox: AABB<[f64; 2]>,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.bbox
    }
}

/// Point-in-zone lookups: R-tree on bounding boxes, then an exact polygon test.
#[derive(Debug, Default, Clone)]
pub struct ZoneIndex {
    /// The zones, in load order.
    zones: Vec<Zone>,
    /// Area in square degrees, to prefer the smaller of two overlapping zones.
    areas: Vec<f64>,
    /// Zone id → slot.
    by_id: HashMap<Ident, usize>,
    /// Bounding boxes.
    tree: RTree<Entry>,
}

impl ZoneIndex {
    /// Builds the index (bulk-loaded R-tree).
    pub fn new(zones: Vec<Zone>) -> ZoneIndex {
        let mut entries = Vec::with_capacity(zones.len());
        let mut areas = Vec::with_capacity(zones.len());
        let mut by_id = HashMap::with_capacity(zones.len());
        for (slot, zone) in zones.iter().enumerate() {
            if let Some(rect) = zone.shape.bounding_rect() {
                entries.push(Entry {
                    slot,
                    bbox: AABB::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                });
            }
            areas.push(zone.shape.unsigned_area());
            by_id.insert(zone.id.clone(), slot);
        }
        ZoneIndex {
            zones,
            areas,
            by_id,
            tree: RTree::bulk_load(entries),
        }
    }

    /// The zone responsible for `p`: a grid wins over a beat, and of two zones of the same
    /// kind the smaller wins (the more specific one). Ties go to the lower id, so the answer
    /// never depends on load order.
    pub fn locate(&self, p: LatLon) -> Option<&Zone> {
        let pt = p.point();
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([p.lon, p.lat]))
            .filter(|e| self.zones[e.slot].shape.contains(&pt))
            .min_by(|a, b| {
                let (za, zb) = (&self.zones[a.slot], &self.zones[b.slot]);
                za.kind
                    .cmp(&zb.kind)
                    .then(self.areas[a.slot].total_cmp(&self.areas[b.slot]))
                    .then(za.id.cmp(&zb.id))
            })
            .map(|e| &self.zones[e.slot])
    }

    /// Every zone containing `p`, in no particular order.
    pub fn containing(&self, p: LatLon) -> impl Iterator<Item = &Ident> + '_ {
        let pt = p.point();
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([p.lon, p.lat]))
            .filter(move |e| self.zones[e.slot].shape.contains(&pt))
            .map(|e| &self.zones[e.slot].id)
    }

    /// Whether zone `id` contains `p` (false for an unknown zone).
    pub fn contains(&self, id: &Ident, p: LatLon) -> bool {
        self.by_id
            .get(id)
            .is_some_and(|&slot| self.zones[slot].shape.contains(&p.point()))
    }

    /// The zone with this id.
    pub fn get(&self, id: &Ident) -> Option<&Zone> {
        self.by_id.get(id).map(|&slot| &self.zones[slot])
    }

    /// Number of zones.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// True when there are no zones.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use geo::{polygon, MultiPolygon};

    /// A rectangle zone between two corners (lat, lon).
    pub(crate) fn rect(id: &str, kind: ZoneKind, sw: (f64, f64), ne: (f64, f64)) -> Zone {
        let poly = polygon![
            (x: sw.1, y: sw.0), (x: ne.1, y: sw.0), (x: ne.1, y: ne.0), (x: sw.1, y: ne.0), (x: sw.1, y: sw.0)
        ];
        Zone {
            id: Ident::parse(id).unwrap(),
            name: id.to_owned(),
            kind,
            shape: MultiPolygon(vec![poly]),
        }
    }

    #[test]
    fn grid_wins_over_beat_and_outside_is_none() {
        let idx = ZoneIndex::new(vec![
            rect("beat", ZoneKind::Beat, (39.4, 106.6), (39.6, 106.8)),
            rect("g1", ZoneKind::Grid, (39.49, 106.69), (39.50, 106.70)),
            rect("g2", ZoneKind::Grid, (39.50, 106.69), (39.51, 106.70)),
        ]);
        let at = |lat, lon| {
            idx.locate(LatLon::new(lat, lon).unwrap())
                .map(|z| z.id.as_str())
        };
        assert_eq!(at(39.495, 106.695), Some("g1"));
        assert_eq!(at(39.505, 106.695), Some("g2"));
        assert_eq!(at(39.45, 106.65), Some("beat"));
        assert_eq!(at(10.0, 10.0), None);
        assert!(idx.contains(
            &Ident::parse("beat").unwrap(),
            LatLon::new(39.495, 106.695).unwrap()
        ));
        assert!(!idx.contains(
            &Ident::parse("g2").unwrap(),
            LatLon::new(39.495, 106.695).unwrap()
        ));
    }
}
