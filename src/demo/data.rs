//! The demo county's data: community grids of urban Wuda district (乌达区),
//! Wuhai, Inner Mongolia, around 39.50 N 106.70 E.
//!
//! Zones are quadrilaterals cut from one shared vertex lattice, so
//! neighbouring grids share their borders exactly — adjacent, never
//! overlapping, like real community grids laid out along streets. People,
//! cameras and landmarks are placed with bilinear (u, v) coordinates inside
//! their zone's quadrilateral, which keeps them inside by construction (the
//! tests check it anyway).

use geo::{LineString, Polygon};

use super::{DemoCamera, DemoCounty, DemoLandmark, DemoResponder, DemoZone, LandmarkKind};
use crate::domain::{LatLon, TravelMode};

/// Longitudes of the lattice columns (west → east), ~860 m apart.
const LON: [f64; 4] = [106.686, 106.696, 106.706, 106.716];
/// Latitudes of the lattice rows (south → north), ~670 m apart.
const LAT: [f64; 3] = [39.494, 39.500, 39.506];

/// Lattice vertex (col, row) as (lon, lat). The two interior vertices are
/// nudged so the grids look like streets rather than a chessboard.
fn vertex(col: usize, row: usize) -> (f64, f64) {
    match (col, row) {
        (1, 1) => (106.6963, 39.5005),
        (2, 1) => (106.7056, 39.4996),
        _ => (LON[col], LAT[row]),
    }
}

/// Corners SW, SE, NE, NW of the lattice cell (col, row), as (lon, lat).
fn cell(col: usize, row: usize) -> [(f64, f64); 4] {
    [
        vertex(col, row),
        vertex(col + 1, row),
        vertex(col + 1, row + 1),
        vertex(col, row + 1),
    ]
}

/// Point at bilinear coordinates (u east, v north, both 0..1) in a cell.
pub(super) fn at(col: usize, row: usize, u: f64, v: f64) -> LatLon {
    let [sw, se, ne, nw] = cell(col, row);
    let lon =
        (1.0 - u) * (1.0 - v) * sw.0 + u * (1.0 - v) * se.0 + u * v * ne.0 + (1.0 - u) * v * nw.0;
    let lat =
        (1.0 - u) * (1.0 - v) * sw.1 + u * (1.0 - v) * se.1 + u * v * ne.1 + (1.0 - u) * v * nw.1;
    LatLon { lat, lon }
}

fn polygon(corners: &[(f64, f64)]) -> Polygon<f64> {
    let mut ring: Vec<(f64, f64)> = corners.to_vec();
    if let Some(first) = corners.first() {
        ring.push(*first);
    }
    Polygon::new(LineString::from(ring), vec![])
}

/// Grid definitions: (col, row, id, name, name_en).
pub(super) const GRIDS: [(usize, usize, &str, &str, &str); 6] = [
    (
        0,
        0,
        "wd-xinhua-1",
        "新华社区第一网格",
        "Xinhua Community Grid 1",
    ),
    (
        1,
        0,
        "wd-xinhua-2",
        "新华社区第二网格",
        "Xinhua Community Grid 2",
    ),
    (
        2,
        0,
        "wd-minzhu-1",
        "民主社区第一网格",
        "Minzhu Community Grid 1",
    ),
    (
        0,
        1,
        "wd-tuanjie-1",
        "团结社区第一网格",
        "Tuanjie Community Grid 1",
    ),
    (
        1,
        1,
        "wd-binhe-1",
        "滨河社区第一网格",
        "Binhe Community Grid 1",
    ),
    (
        2,
        1,
        "wd-guangming-1",
        "光明社区第一网格",
        "Guangming Community Grid 1",
    ),
];

/// The patrol beat id.
pub const BEAT_ID: &str = "wd-beat-1";

/// Grid workers: (name, grid index, travel, skills).
const GRID_WORKERS: [(&str, usize, TravelMode, &[&str]); 20] = [
    ("王丽", 0, TravelMode::Foot, &["elderly_care"]),
    ("李强", 0, TravelMode::Bike, &["first_aid"]),
    ("张敏", 0, TravelMode::Foot, &["mediation"]),
    ("刘洋", 0, TravelMode::Bike, &[]),
    ("陈静", 1, TravelMode::Foot, &["first_aid", "elderly_care"]),
    ("杨帆", 1, TravelMode::Bike, &[]),
    ("赵磊", 1, TravelMode::Bike, &["fire_extinguisher"]),
    ("黄娟", 1, TravelMode::Foot, &["mediation"]),
    ("周杰", 2, TravelMode::Bike, &["first_aid"]),
    ("吴霞", 2, TravelMode::Foot, &["elderly_care"]),
    ("徐刚", 2, TravelMode::Bike, &["fire_extinguisher"]),
    ("孙丽娜", 3, TravelMode::Foot, &["mediation"]),
    ("马文", 3, TravelMode::Bike, &["first_aid"]),
    ("朱红", 3, TravelMode::Foot, &["elderly_care"]),
    ("胡斌", 4, TravelMode::Bike, &["fire_extinguisher"]),
    ("郭芳", 4, TravelMode::Foot, &["first_aid"]),
    ("何涛", 4, TravelMode::Bike, &[]),
    ("高敏", 5, TravelMode::Foot, &["elderly_care", "mediation"]),
    ("林峰", 5, TravelMode::Bike, &["first_aid"]),
    ("罗燕", 5, TravelMode::Foot, &[]),
];

/// Patrol officers in cars: (name, grid index they start in).
const PATROLS: [(&str, usize); 5] = [
    ("张伟", 0),
    ("李军", 2),
    ("王建国", 3),
    ("刘海", 4),
    ("陈勇", 5),
];

/// Landmarks: (grid index, u, v, kind, name, name_en).
const LANDMARKS: [(usize, f64, f64, LandmarkKind, &str, &str); 14] = [
    (
        0,
        0.5,
        0.9,
        LandmarkKind::Gate,
        "新华社区北门",
        "Xinhua Community north gate",
    ),
    (
        0,
        0.8,
        0.3,
        LandmarkKind::Market,
        "新华市场",
        "Xinhua Market",
    ),
    (
        1,
        0.1,
        0.5,
        LandmarkKind::Gate,
        "新华二区西门",
        "Xinhua Block 2 west gate",
    ),
    (
        1,
        0.6,
        0.6,
        LandmarkKind::Square,
        "新华广场",
        "Xinhua Square",
    ),
    (
        2,
        0.9,
        0.5,
        LandmarkKind::Gate,
        "民主社区东门",
        "Minzhu Community east gate",
    ),
    (
        2,
        0.4,
        0.1,
        LandmarkKind::Road,
        "民主路与人民路交叉口",
        "Minzhu Rd / Renmin Rd junction",
    ),
    (
        3,
        0.5,
        0.1,
        LandmarkKind::Gate,
        "团结社区南门",
        "Tuanjie Community south gate",
    ),
    (
        3,
        0.3,
        0.7,
        LandmarkKind::School,
        "团结小学",
        "Tuanjie Primary School",
    ),
    (
        4,
        0.5,
        0.9,
        LandmarkKind::Gate,
        "滨河小区北门",
        "Binhe Estate north gate",
    ),
    (4, 0.8, 0.4, LandmarkKind::Square, "滨河公园", "Binhe Park"),
    (
        5,
        0.1,
        0.5,
        LandmarkKind::Gate,
        "光明社区西门",
        "Guangming Community west gate",
    ),
    (
        5,
        0.6,
        0.3,
        LandmarkKind::Market,
        "光明菜市场",
        "Guangming Food Market",
    ),
    (
        5,
        0.5,
        0.8,
        LandmarkKind::Road,
        "光明街与滨河路口",
        "Guangming St / Binhe Rd junction",
    ),
    (
        2,
        0.5,
        0.6,
        LandmarkKind::School,
        "民主幼儿园",
        "Minzhu Kindergarten",
    ),
];

/// Cameras: (grid index, u, v, name, name_en).
const CAMERAS: [(usize, f64, f64, &str, &str); 10] = [
    (0, 0.82, 0.35, "新华市场东门", "Xinhua Market east entrance"),
    (0, 0.5, 0.85, "新华社区北门", "Xinhua Community north gate"),
    (1, 0.6, 0.65, "新华广场", "Xinhua Square"),
    (2, 0.85, 0.5, "民主社区东门", "Minzhu Community east gate"),
    (
        2,
        0.4,
        0.15,
        "民主路人民路口",
        "Minzhu Rd / Renmin Rd junction",
    ),
    (3, 0.5, 0.15, "团结社区南门", "Tuanjie Community south gate"),
    (3, 0.3, 0.65, "团结小学门口", "Tuanjie Primary School gate"),
    (4, 0.8, 0.45, "滨河公园入口", "Binhe Park entrance"),
    (
        5,
        0.15,
        0.5,
        "光明社区西门",
        "Guangming Community west gate",
    ),
    (5, 0.6, 0.35, "光明菜市场", "Guangming Food Market"),
];

/// A spread of (u, v) positions in 0.15..0.85 for the i-th person of a zone,
/// using golden-ratio steps so people do not bunch up.
fn spread(i: usize) -> (f64, f64) {
    let k = i as f64 + 1.0;
    let u = (k * 0.618_033_988_75).fract();
    let v = (k * 0.381_966_011_25 + 0.27).fract();
    (0.15 + 0.7 * u, 0.15 + 0.7 * v)
}

/// Builds the county.
pub(super) fn build() -> DemoCounty {
    let mut zones: Vec<DemoZone> = GRIDS
        .iter()
        .map(|&(c, r, id, name, name_en)| DemoZone {
            id: id.to_string(),
            name: name.to_string(),
            name_en: name_en.to_string(),
            kind: "grid".to_string(),
            polygon: polygon(&cell(c, r)),
        })
        .collect();
    // The beat extends ~200 m beyond the grids so patrols can cover their edges.
    let (w, e, s, n) = (106.6835, 106.7185, 39.4922, 39.5078);
    zones.push(DemoZone {
        id: BEAT_ID.to_string(),
        name: "乌达区城区巡逻一区".to_string(),
        name_en: "Wuda Urban Patrol Beat 1".to_string(),
        kind: "beat".to_string(),
        polygon: polygon(&[(w, s), (e, s), (e, n), (w, n)]),
    });

    let mut per_zone = [0usize; 6];
    let mut responders: Vec<DemoResponder> = GRID_WORKERS
        .iter()
        .enumerate()
        .map(|(i, &(name, g, travel, skills))| {
            let (c, r, zone, _, _) = GRIDS[g];
            let (u, v) = spread(per_zone[g]);
            per_zone[g] += 1;
            DemoResponder {
                id: format!("wd-gw-{:02}", i + 1),
                name: name.to_string(),
                kind: "grid_worker".to_string(),
                travel,
                zone_id: zone.to_string(),
                skills: skills.iter().map(|s| s.to_string()).collect(),
                home: at(c, r, u, v),
                tid: format!("g{}", (i + 1) % 10),
                station_id: None,
            }
        })
        .collect();
    responders.extend(PATROLS.iter().enumerate().map(|(i, &(name, g))| {
        let (c, r, _, _, _) = GRIDS[g];
        DemoResponder {
            id: format!("wd-pt-{:02}", i + 1),
            name: name.to_string(),
            kind: "patrol".to_string(),
            travel: TravelMode::Car,
            zone_id: BEAT_ID.to_string(),
            skills: vec!["police".to_string(), "first_aid".to_string()],
            home: at(c, r, 0.5, 0.5),
            tid: format!("p{}", i + 1),
            station_id: None,
        }
    }));

    let landmarks = LANDMARKS
        .iter()
        .map(|&(g, u, v, kind, name, name_en)| {
            let (c, r, zone, _, _) = GRIDS[g];
            DemoLandmark {
                name: name.to_string(),
                name_en: name_en.to_string(),
                kind,
                zone_id: zone.to_string(),
                position: at(c, r, u, v),
            }
        })
        .collect();

    let cameras = CAMERAS
        .iter()
        .enumerate()
        .map(|(i, &(g, u, v, name, name_en))| {
            let (c, r, zone, _, _) = GRIDS[g];
            let LatLon { lat, lon } = at(c, r, u, v);
            DemoCamera {
                id: format!("cam-{:02}", i + 1),
                name: name.to_string(),
                name_en: name_en.to_string(),
                lat,
                lon,
                zone_id: zone.to_string(),
            }
        })
        .collect();

    DemoCounty {
        zones,
        responders,
        cameras,
        landmarks,
        source_id: super::DEMO_SOURCE_ID.to_string(),
    }
}
