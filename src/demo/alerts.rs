//! Plausible alerts for the demo county, in Chinese and English.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::{DemoCamera, DemoLandmark, DemoZone, LandmarkKind};
use crate::domain::LatLon;
use crate::sim::area::{offset, Area};
use crate::sim::source::{Alert, AlertMaker, Rendezvous};

/// Alert generator drawing on the county's zones, landmarks and cameras.
#[derive(Debug, Clone)]
pub struct DemoAlerts {
    grids: Vec<(DemoZone, Area)>,
    landmarks: Vec<DemoLandmark>,
    cameras: Vec<DemoCamera>,
}

impl DemoAlerts {
    /// Builds the generator from the county's parts (only `grid` zones are used).
    pub fn new(zones: &[DemoZone], landmarks: &[DemoLandmark], cameras: &[DemoCamera]) -> Self {
        Self {
            grids: zones
                .iter()
                .filter(|z| z.kind == "grid")
                .map(|z| (z.clone(), z.area()))
                .collect(),
            landmarks: landmarks.to_vec(),
            cameras: cameras.to_vec(),
        }
    }

    fn landmark(
        &self,
        rng: &mut StdRng,
        zone_id: &str,
        kind: LandmarkKind,
    ) -> Option<&DemoLandmark> {
        let in_zone: Vec<&DemoLandmark> = self
            .landmarks
            .iter()
            .filter(|l| l.kind == kind && l.zone_id == zone_id)
            .collect();
        match in_zone.choose(rng) {
            Some(l) => Some(*l),
            None => {
                let any: Vec<&DemoLandmark> =
                    self.landmarks.iter().filter(|l| l.kind == kind).collect();
                any.choose(rng).copied()
            }
        }
    }
}

/// What happened, where, and how to describe it.
struct Scene {
    kind: &'static str,
    severity: u8,
    location: Option<LatLon>,
    camera_id: Option<String>,
    description: String,
    address: Option<String>,
    rendezvous: Option<Rendezvous>,
}

impl AlertMaker for DemoAlerts {
    fn make(&mut self, rng: &mut StdRng, id: String) -> Alert {
        let scene = self.scene(rng);
        Alert {
            id,
            kind: scene.kind.to_string(),
            severity: scene.severity,
            lat: scene.location.map(|l| l.lat),
            lon: scene.location.map(|l| l.lon),
            camera_id: scene.camera_id,
            time: None,
            description: Some(scene.description),
            address: scene.address,
            rendezvous: scene.rendezvous,
        }
    }
}

impl DemoAlerts {
    fn scene(&self, rng: &mut StdRng) -> Scene {
        let Some((zone, area)) = self.grids.choose(rng) else {
            // A county without grids cannot place anything; send a generic alert.
            return Scene {
                kind: "guidance",
                severity: 4,
                location: Some(LatLon {
                    lat: 39.5,
                    lon: 106.7,
                }),
                camera_id: None,
                description: "群众求助 / citizen asks for help".to_string(),
                address: None,
                rendezvous: None,
            };
        };
        let community_zh = zone.name.split("社区").next().unwrap_or(&zone.name);
        let community_en = zone.name_en.split(" Grid").next().unwrap_or(&zone.name_en);
        let building = rng.gen_range(1..=28);
        let unit = rng.gen_range(1..=4);
        let address = Some(format!(
            "乌达区{community_zh}社区{building}号楼{unit}单元 / Bldg {building} Unit {unit}, {community_en}, Wuda District"
        ));
        let spot = area.random_point(rng);
        let gate = self.landmark(rng, &zone.id, LandmarkKind::Gate);
        let meet_at_gate = |note_zh: &str, note_en: &str| {
            gate.map(|g| Rendezvous {
                lat: g.position.lat,
                lon: g.position.lon,
                note: format!("{}{note_zh} / {note_en} {}", g.name, g.name_en),
            })
        };
        match rng.gen_range(0..8) {
            0 => Scene {
                kind: "fall",
                severity: 2,
                location: Some(spot),
                camera_id: None,
                description: "独居老人在家中摔倒，无法起身，邻居报警 / Elderly person living alone fell at home and cannot get up; neighbour called".to_string(),
                address,
                rendezvous: rng.gen_bool(0.5).then(|| meet_at_gate("，家属在此等候", "family waiting at")).flatten(),
            },
            1 => Scene {
                kind: "guidance",
                severity: 2,
                location: Some(spot),
                camera_id: None,
                description: format!(
                    "救护车已到小区门口，需要网格员引导至{building}号楼 / Ambulance at the gate needs a guide to building {building}"
                ),
                address,
                rendezvous: meet_at_gate("，救护车在此等候", "ambulance waiting at"),
            },
            2 => Scene {
                kind: "fire",
                severity: 1,
                location: Some(spot),
                camera_id: None,
                description: format!(
                    "{building}号楼楼道冒烟，疑似电动车电池起火 / Smoke in the stairwell of building {building}, suspected e-bike battery fire"
                ),
                address,
                rendezvous: meet_at_gate("，消防车从此进入", "fire engine enters via"),
            },
            3 => {
                let place = self
                    .landmark(rng, &zone.id, LandmarkKind::Road)
                    .or_else(|| self.landmark(rng, &zone.id, LandmarkKind::Square));
                let (loc, zh, en) = match place {
                    Some(p) => (p.position, p.name.as_str(), p.name_en.as_str()),
                    None => (spot, "小区内道路", "a lane in the estate"),
                };
                Scene {
                    kind: "flood",
                    severity: 3,
                    location: Some(loc),
                    camera_id: None,
                    description: format!("{zh}附近路面积水约30厘米，行人难以通行 / About 30 cm of water near {en}, hard to pass on foot"),
                    address: None,
                    rendezvous: None,
                }
            }
            4 => {
                let market = self.landmark(rng, &zone.id, LandmarkKind::Market);
                // Fights near a market are often spotted by the market camera.
                let cam = market.and_then(|m| {
                    self.cameras
                        .iter()
                        .find(|c| c.zone_id == m.zone_id && c.name.contains(&m.name))
                });
                let (zh, en) = market
                    .map(|m| (m.name.as_str(), m.name_en.as_str()))
                    .unwrap_or(("菜市场", "the market"));
                let near = market.map(|m| offset(m.position, rng.gen_range(-40.0..40.0), rng.gen_range(-40.0..40.0)));
                Scene {
                    kind: "fight",
                    severity: 2,
                    location: if cam.is_some() { None } else { near.or(Some(spot)) },
                    camera_id: cam.map(|c| c.id.clone()),
                    description: format!("{zh}附近两名男子发生争执并动手 / Two men arguing and fighting near {en}"),
                    address: None,
                    rendezvous: None,
                }
            }
            5 => match self.cameras.choose(rng) {
                Some(cam) => Scene {
                    kind: "intrusion",
                    severity: 3,
                    location: None,
                    camera_id: Some(cam.id.clone()),
                    description: format!(
                        "{}摄像头检测到有人翻越围墙 / Camera at {} detected someone climbing the fence",
                        cam.name, cam.name_en
                    ),
                    address: None,
                    rendezvous: None,
                },
                None => Scene {
                    kind: "intrusion",
                    severity: 3,
                    location: Some(spot),
                    camera_id: None,
                    description: "有可疑人员翻越围墙 / Someone seen climbing the fence".to_string(),
                    address: None,
                    rendezvous: None,
                },
            },
            6 => Scene {
                kind: "medical",
                severity: 1,
                location: Some(spot),
                camera_id: None,
                description: "居民突发胸痛，已拨打120，需要网格员协助 / Resident with sudden chest pain, 120 called, grid worker needed".to_string(),
                address,
                rendezvous: meet_at_gate("，引导救护车", "guide the ambulance at"),
            },
            _ => {
                let road = self.landmark(rng, &zone.id, LandmarkKind::Road);
                let (loc, zh, en) = match road {
                    Some(r) => (r.position, r.name.as_str(), r.name_en.as_str()),
                    None => (spot, "小区路口", "an estate junction"),
                };
                Scene {
                    kind: "traffic",
                    severity: 3,
                    location: Some(loc),
                    camera_id: None,
                    description: format!("{zh}两车剐蹭，无人受伤，造成拥堵 / Two cars scraped at {en}, nobody hurt, traffic backing up"),
                    address: None,
                    rendezvous: None,
                }
            }
        }
    }
}
