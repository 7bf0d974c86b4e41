//! What the base map draws: each kind of feature, which OpenStreetMap tags make it, from
//! which zoom it is drawn and from which its name is given.

use serde::{Deserialize, Serialize};

/// One kind of drawn feature, from the most important (kept first when a tile is full)
/// to the least. The order is also the base map file's: changing it changes the format
/// (a new `MAGIC` in `basemap/mod.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// `highway=motorway` and its links.
    Motorway,
    /// `highway=trunk`.
    Trunk,
    /// `highway=primary`.
    Primary,
    /// `highway=secondary`.
    Secondary,
    /// `highway=tertiary`.
    Tertiary,
    /// Residential, unclassified and living streets.
    Street,
    /// `highway=service`.
    Service,
    /// Footways, paths, cycleways, steps, pedestrian streets and tracks.
    Path,
    /// `railway=rail` (and light rail, narrow gauge).
    Rail,
    /// `waterway=river` or `canal`, as a line.
    River,
    /// `waterway=stream`, as a line.
    Stream,
    /// A water area: `natural=water`, `waterway=riverbank`, `landuse=reservoir|basin`.
    Water,
    /// Land inside water: an inner ring of a water multipolygon, drawn over the water.
    Island,
    /// A building's outline.
    Building,
}

impl Kind {
    /// Every kind, in the order above.
    pub const ALL: [Kind; 14] = [
        Kind::Motorway,
        Kind::Trunk,
        Kind::Primary,
        Kind::Secondary,
        Kind::Tertiary,
        Kind::Street,
        Kind::Service,
        Kind::Path,
        Kind::Rail,
        Kind::River,
        Kind::Stream,
        Kind::Water,
        Kind::Island,
        Kind::Building,
    ];

    /// The name a tile gives it (`k`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Motorway => "motorway",
            Kind::Trunk => "trunk",
            Kind::Primary => "primary",
            Kind::Secondary => "secondary",
            Kind::Tertiary => "tertiary",
            Kind::Street => "street",
            Kind::Service => "service",
            Kind::Path => "path",
            Kind::Rail => "rail",
            Kind::River => "river",
            Kind::Stream => "stream",
            Kind::Water => "water",
            Kind::Island => "island",
            Kind::Building => "building",
        }
    }

    /// A closed outline (filled), not a line.
    pub fn is_area(self) -> bool {
        matches!(self, Kind::Water | Kind::Island | Kind::Building)
    }

    /// The lowest zoom it is drawn at: major roads and water from a region's view, every
    /// street from a district's, buildings from a block's.
    pub fn min_zoom(self) -> u8 {
        match self {
            Kind::Motorway | Kind::Trunk | Kind::Water | Kind::Island => 8,
            Kind::River | Kind::Rail => 10,
            Kind::Primary => 11,
            Kind::Secondary => 12,
            Kind::Tertiary => 13,
            Kind::Street | Kind::Service | Kind::Path | Kind::Stream => 14,
            Kind::Building => 15,
        }
    }

    /// The lowest zoom its name is given at (`None`: never).
    pub fn label_zoom(self) -> Option<u8> {
        match self {
            Kind::Motorway | Kind::Trunk | Kind::Primary | Kind::Secondary => Some(14),
            Kind::Tertiary | Kind::Street | Kind::River => Some(15),
            Kind::Service | Kind::Path | Kind::Stream | Kind::Water => Some(16),
            Kind::Rail | Kind::Island | Kind::Building => None,
        }
    }
}

/// The tag's value, if the way has it.
fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The kind a way with these tags is drawn as; `closed` says whether its first node is its
/// last (areas must be).
pub fn way_kind(tags: &[(String, String)], closed: bool) -> Option<Kind> {
    if let Some(h) = tag(tags, "highway") {
        let road = match h.strip_suffix("_link").unwrap_or(h) {
            "motorway" => Some(Kind::Motorway),
            "trunk" => Some(Kind::Trunk),
            "primary" => Some(Kind::Primary),
            "secondary" => Some(Kind::Secondary),
            "tertiary" => Some(Kind::Tertiary),
            "residential" | "unclassified" | "living_street" | "road" => Some(Kind::Street),
            "service" => Some(Kind::Service),
            "footway" | "path" | "cycleway" | "pedestrian" | "steps" | "track" | "bridleway" => {
                Some(Kind::Path)
            }
            _ => None,
        };
        if road.is_some() {
            return road;
        }
    }
    if closed && water_tags(tags) {
        return Some(Kind::Water);
    }
    match tag(tags, "waterway") {
        Some("river" | "canal") => return Some(Kind::River),
        Some("stream") => return Some(Kind::Stream),
        _ => {}
    }
    if matches!(
        tag(tags, "railway"),
        Some("rail" | "light_rail" | "narrow_gauge")
    ) {
        return Some(Kind::Rail);
    }
    if closed && tag(tags, "building").is_some_and(|b| b != "no") {
        return Some(Kind::Building);
    }
    None
}

/// Tags of a water area (a closed way's or a multipolygon relation's).
pub fn water_tags(tags: &[(String, String)]) -> bool {
    tag(tags, "natural") == Some("water")
        || tag(tags, "waterway") == Some("riverbank")
        || matches!(tag(tags, "landuse"), Some("reservoir" | "basin"))
}

/// A multipolygon relation drawn as water.
pub fn water_relation(tags: &[(String, String)]) -> bool {
    tag(tags, "type") == Some("multipolygon") && water_tags(tags)
}

/// The name to show: `name`, else `name:zh`, else `name:en`.
pub fn name_of(tags: &[(String, String)]) -> Option<String> {
    ["name", "name:zh", "name:en"]
        .iter()
        .find_map(|k| tag(tags, k))
        .filter(|n| !n.trim().is_empty())
        .map(|n| n.chars().take(80).collect())
}
