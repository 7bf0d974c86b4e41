//! Which OpenStreetMap ways each travel mode may use, in which direction, and how fast.
//!
//! # Units
//! Speeds in km/h.

use crate::domain::TravelMode;

/// How one way may be travelled by one mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WayRule {
    /// Along the way's node order.
    pub forward: bool,
    /// Against it.
    pub backward: bool,
    /// Assumed speed, km/h.
    pub speed_kmh: f64,
}

/// The tags of a way, looked up by key.
pub trait Tags {
    /// The value of `key`, if the way has it.
    fn get(&self, key: &str) -> Option<&str>;
}

impl Tags for [(String, String)] {
    fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Walking speed, km/h.
const FOOT_KMH: f64 = 5.0;
/// Cycling speed, km/h (an e-bike in town).
const BIKE_KMH: f64 = 15.0;

/// The fastest `mode` goes on any road, km/h: no route can take less time than the
/// straight line at this speed.
pub fn fastest_kmh(mode: TravelMode) -> f64 {
    match mode {
        TravelMode::Foot => FOOT_KMH,
        TravelMode::Bike => BIKE_KMH,
        TravelMode::Car => car_kmh("motorway").unwrap_or(90.0),
    }
}

/// Car speed by highway class, km/h: typical urban speeds, not limits, since a
/// responder drives through town.
fn car_kmh(highway: &str) -> Option<f64> {
    Some(match highway {
        "motorway" => 90.0,
        "motorway_link" => 45.0,
        "trunk" => 70.0,
        "trunk_link" => 40.0,
        "primary" => 50.0,
        "primary_link" => 30.0,
        "secondary" => 45.0,
        "secondary_link" => 30.0,
        "tertiary" => 40.0,
        "tertiary_link" => 25.0,
        "unclassified" => 30.0,
        "residential" => 25.0,
        "living_street" => 10.0,
        "service" => 15.0,
        "road" => 25.0,
        _ => return None,
    })
}

/// Whether `value` of an access tag forbids passage.
fn refused(value: Option<&str>) -> bool {
    matches!(value, Some("no" | "private" | "agricultural" | "forestry"))
}

/// How `mode` may travel the way with `tags`, or `None` when it may not use it at all.
pub fn rule(mode: TravelMode, tags: &(impl Tags + ?Sized)) -> Option<WayRule> {
    let highway = tags.get("highway")?;
    if tags.get("area") == Some("yes") || refused(tags.get("access")) {
        return None;
    }
    match mode {
        TravelMode::Foot => foot(highway, tags),
        TravelMode::Bike => bike(highway, tags),
        TravelMode::Car => car(highway, tags),
    }
}

fn foot(highway: &str, tags: &(impl Tags + ?Sized)) -> Option<WayRule> {
    let allowed = match highway {
        "motorway" | "motorway_link" | "trunk" | "trunk_link" | "construction" | "proposed"
        | "raceway" | "bus_guideway" => false,
        "cycleway" | "bridleway" => matches!(tags.get("foot"), Some("yes" | "designated")),
        _ => true,
    };
    if !allowed || refused(tags.get("foot")) {
        return None;
    }
    // A walker ignores one-way rules.
    Some(WayRule {
        forward: true,
        backward: true,
        speed_kmh: FOOT_KMH,
    })
}

fn bike(highway: &str, tags: &(impl Tags + ?Sized)) -> Option<WayRule> {
    let allowed = match highway {
        "motorway" | "motorway_link" | "trunk" | "trunk_link" | "construction" | "proposed"
        | "raceway" | "bus_guideway" | "steps" => false,
        "footway" | "pedestrian" | "path" => {
            matches!(
                tags.get("bicycle"),
                Some("yes" | "designated" | "permissive")
            ) || highway == "path"
        }
        _ => true,
    };
    if !allowed || refused(tags.get("bicycle")) {
        return None;
    }
    let (forward, backward) = oneway(tags, "oneway:bicycle");
    Some(WayRule {
        forward,
        backward,
        speed_kmh: BIKE_KMH,
    })
}

fn car(highway: &str, tags: &(impl Tags + ?Sized)) -> Option<WayRule> {
    let speed = car_kmh(highway)?;
    if refused(tags.get("motor_vehicle")) || refused(tags.get("motorcar")) {
        return None;
    }
    let (forward, backward) = oneway(tags, "oneway");
    Some(WayRule {
        forward,
        backward,
        speed_kmh: speed,
    })
}

/// The directions allowed by `oneway` (or the mode's own key first, e.g.
/// `oneway:bicycle=no` on a one-way street open to bikes both ways).
fn oneway(tags: &(impl Tags + ?Sized), own_key: &str) -> (bool, bool) {
    let value = tags.get(own_key).or_else(|| tags.get("oneway"));
    let implied = matches!(tags.get("junction"), Some("roundabout" | "circular"))
        || matches!(tags.get("highway"), Some("motorway" | "motorway_link"));
    match value {
        Some("yes" | "true" | "1") => (true, false),
        Some("-1" | "reverse") => (false, true),
        Some("no" | "false" | "0") => (true, true),
        _ if implied => (true, false),
        _ => (true, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_one_way_street_is_one_way_by_car_and_two_ways_on_foot() {
        let t = tags(&[("highway", "residential"), ("oneway", "yes")]);
        let car = rule(TravelMode::Car, t.as_slice());
        assert_eq!(car.map(|r| (r.forward, r.backward)), Some((true, false)));
        let foot = rule(TravelMode::Foot, t.as_slice());
        assert_eq!(foot.map(|r| (r.forward, r.backward)), Some((true, true)));
        let reverse = tags(&[("highway", "residential"), ("oneway", "-1")]);
        let car = rule(TravelMode::Car, reverse.as_slice());
        assert_eq!(car.map(|r| (r.forward, r.backward)), Some((false, true)));
    }

    #[test]
    fn a_footway_is_for_walkers_and_a_motorway_for_cars() {
        let path = tags(&[("highway", "footway")]);
        assert!(rule(TravelMode::Car, path.as_slice()).is_none());
        assert!(rule(TravelMode::Foot, path.as_slice()).is_some());
        assert!(rule(TravelMode::Bike, path.as_slice()).is_none());
        let motorway = tags(&[("highway", "motorway")]);
        assert!(rule(TravelMode::Foot, motorway.as_slice()).is_none());
        let car = rule(TravelMode::Car, motorway.as_slice());
        assert_eq!(car.map(|r| (r.forward, r.backward)), Some((true, false)));
    }

    #[test]
    fn private_roads_and_roundabouts() {
        let private = tags(&[("highway", "service"), ("access", "private")]);
        assert!(rule(TravelMode::Car, private.as_slice()).is_none());
        let gated = tags(&[("highway", "residential"), ("motor_vehicle", "no")]);
        assert!(rule(TravelMode::Car, gated.as_slice()).is_none());
        assert!(rule(TravelMode::Foot, gated.as_slice()).is_some());
        let roundabout = tags(&[("highway", "primary"), ("junction", "roundabout")]);
        let car = rule(TravelMode::Car, roundabout.as_slice());
        assert_eq!(car.map(|r| (r.forward, r.backward)), Some((true, false)));
        let not_a_road = tags(&[("building", "yes")]);
        assert!(rule(TravelMode::Foot, not_a_road.as_slice()).is_none());
    }
}
