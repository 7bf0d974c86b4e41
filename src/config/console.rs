//! `[console]`: the web console's sessions, base map, timers and coverage map.

use serde::Deserialize;

use super::ConfigError;

/// `[console]`
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct ConsoleSettings {
    /// Hours a login session lasts after its last use (sliding); at least 1.
    pub session_hours: u64,
    /// Console passwords checked (argon2) at once at most; more logins meanwhile are
    /// answered 429. 0 = one per CPU core. Not part of what the page is sent.
    #[serde(skip_serializing)]
    pub max_concurrent_password_checks: usize,
    /// The base map.
    pub tiles: TileSettings,
    /// Targets that turn the queue's timers amber and red.
    pub targets: TargetSettings,
    /// Side of the coverage map's cells, metres (`GET /api/v1/coverage`).
    pub coverage_cell_m: f64,
}

/// `[console.tiles]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct TileSettings {
    /// Tile URL template (`{z}`, `{x}`, `{y}`, `{s}`); empty = no base map, zones on a plain
    /// background, so a site without internet still works.
    pub url: String,
    /// Attribution shown on the map (HTML is escaped: plain text).
    pub attribution: String,
    /// `wgs84` or `gcj02`: the coordinate system the tiles are drawn in. Chinese services
    /// (AutoNavi, Tencent) use GCJ-02, so positions are shifted for display.
    pub crs: String,
    /// Highest zoom level the tiles offer.
    pub max_zoom: u8,
}

/// `[console.targets]`: seconds after which a timer turns amber, and red.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct TargetSettings {
    /// From the alert until an offer is out (or accepted): amber.
    pub alert_amber_secs: u64,
    /// From the alert: red.
    pub alert_red_secs: u64,
    /// From the offer until the worker accepts: amber.
    pub offer_amber_secs: u64,
    /// From the offer: red.
    pub offer_red_secs: u64,
    /// From the accept until the worker is on scene: amber.
    pub accept_amber_secs: u64,
    /// From the accept: red.
    pub accept_red_secs: u64,
    /// Coverage map: a cell the nearest free responder needs longer than this to reach.
    pub travel_amber_secs: u64,
    /// Coverage map: red.
    pub travel_red_secs: u64,
}

impl ConsoleSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        if self.max_concurrent_password_checks > 256 {
            return bad(
                "console.max_concurrent_password_checks",
                "must be 0 (one per CPU core) to 256; each check holds about 19 MiB",
            );
        }
        if !(1..=24 * 366).contains(&self.session_hours) {
            return bad("console.session_hours", "must be 1 to 8784 (hours)");
        }
        let cell = self.coverage_cell_m;
        if !(crate::domain::coverage::CELL_M_MIN..=crate::domain::coverage::CELL_M_MAX)
            .contains(&cell)
        {
            return bad("console.coverage_cell_m", "must be 25 to 5000 (metres)");
        }
        let tiles = &self.tiles;
        if !matches!(tiles.crs.as_str(), "wgs84" | "gcj02") {
            return bad("console.tiles.crs", "must be \"wgs84\" or \"gcj02\"");
        }
        let tile_scheme_ok = ["http://", "https://", "//"]
            .iter()
            .any(|p| tiles.url.starts_with(p));
        if !tiles.url.is_empty() && !tile_scheme_ok {
            return bad(
                "console.tiles.url",
                "must be an http(s):// URL template with {z}, {x} and {y}, or \"\"",
            );
        }
        let t = &self.targets;
        for (key, amber, red) in [
            (
                "console.targets.alert_red_secs",
                t.alert_amber_secs,
                t.alert_red_secs,
            ),
            (
                "console.targets.offer_red_secs",
                t.offer_amber_secs,
                t.offer_red_secs,
            ),
            (
                "console.targets.accept_red_secs",
                t.accept_amber_secs,
                t.accept_red_secs,
            ),
            (
                "console.targets.travel_red_secs",
                t.travel_amber_secs,
                t.travel_red_secs,
            ),
        ] {
            if amber == 0 || red < amber {
                return bad(key, "amber must be >= 1 and red >= amber (seconds)");
            }
        }
        Ok(())
    }
}
