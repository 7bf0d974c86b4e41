//! OwnTracks location messages (`owntracks/<user>/<device>`), so the stock OwnTracks app
//! works as a worker's location client. Unknown fields are ignored, as the format asks.

use serde::Deserialize;

use crate::domain::LatLon;

/// The fields we use of an OwnTracks message.
#[derive(Debug, Deserialize)]
struct Message {
    /// Message type; only `location` carries a fix.
    #[serde(rename = "_type")]
    kind: String,
    lat: Option<f64>,
    lon: Option<f64>,
    /// Fix time, epoch seconds.
    tst: Option<i64>,
    /// Accuracy, metres.
    acc: Option<f64>,
    /// Battery percent.
    batt: Option<i64>,
}

/// A location fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// Where.
    pub at: LatLon,
    /// When, Unix ms.
    pub time_ms: i64,
    /// Accuracy, metres.
    pub accuracy_m: Option<f64>,
    /// Battery percent.
    pub battery: Option<i64>,
}

/// `Ok(Some(fix))` for a location, `Ok(None)` for other valid message types, `Err` for junk.
pub fn parse(payload: &[u8]) -> Result<Option<Fix>, String> {
    let m: Message = super::parse_json(payload)?;
    if m.kind != "location" {
        return Ok(None);
    }
    let (Some(lat), Some(lon), Some(tst)) = (m.lat, m.lon, m.tst) else {
        return Err("OwnTracks location without lat, lon or tst".into());
    };
    let at = LatLon::new(lat, lon).map_err(|e| e.to_string())?;
    Ok(Some(Fix {
        at,
        time_ms: tst.saturating_mul(1000),
        accuracy_m: m.acc,
        battery: m.batt.filter(|b| (0..=100).contains(b)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_stock_location_and_ignores_other_types() {
        let fix = parse(br#"{"_type":"location","lat":39.5,"lon":106.7,"tst":1700000000,"acc":12,"batt":80,"tid":"w1","conn":"m","vel":0}"#)
            .unwrap()
            .unwrap();
        assert_eq!(fix.time_ms, 1_700_000_000_000);
        assert_eq!(fix.battery, Some(80));
        assert_eq!(
            parse(br#"{"_type":"transition","event":"enter"}"#).unwrap(),
            None
        );
        assert!(parse(br#"{"_type":"location","lat":39.5}"#).is_err());
        assert!(parse(b"not json").is_err());
    }
}
