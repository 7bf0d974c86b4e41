//! 喜邻 partner merchants and grid stations (网格驿站) and their offers: the checks on
//! what an admin registers, and the order in which a volunteer sees offers (nearest
//! first). No I/O.

use super::{Invalid, LatLon};

/// Longest merchant name or offer title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest address, in characters.
pub const ADDRESS_MAX_CHARS: usize = 300;
/// Longest opening-hours text (`08:00-21:00`, `周一至周六 9:00-18:00`), in characters.
pub const HOURS_MAX_CHARS: usize = 100;
/// Dearest offer, in points.
pub const POINTS_MAX: i64 = 100_000;
/// Largest stock an offer may declare.
pub const STOCK_MAX: i64 = 1_000_000;
/// Largest per-person limit.
pub const PER_PERSON_MAX: i64 = 1_000;
/// Offers listed when the caller names no `limit`.
pub const OFFERS_DEFAULT_LIMIT: usize = 50;
/// Most offers one listing returns.
pub const OFFERS_MAX_LIMIT: usize = 200;

/// A required text field: trimmed, 1 to `max` characters, no control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("required, at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(v.to_owned())
}

/// Opening hours: free text up to [`HOURS_MAX_CHARS`]; blank means not given.
pub fn hours(value: Option<&str>) -> Result<Option<String>, Invalid> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(h) => text("hours", h, HOURS_MAX_CHARS).map(Some),
    }
}

/// An offer's price: 1 to [`POINTS_MAX`] points.
pub fn points(n: i64) -> Result<i64, Invalid> {
    if (1..=POINTS_MAX).contains(&n) {
        Ok(n)
    } else {
        Err(Invalid::new(
            "points",
            format!("must be a whole number from 1 to {POINTS_MAX}"),
        ))
    }
}

/// Stock left: `None` is unlimited, else 0 to [`STOCK_MAX`].
pub fn stock(n: Option<i64>) -> Result<Option<i64>, Invalid> {
    match n {
        Some(s) if !(0..=STOCK_MAX).contains(&s) => Err(Invalid::new(
            "stock",
            format!("must be 0 to {STOCK_MAX}, or absent for unlimited"),
        )),
        other => Ok(other),
    }
}

/// How many a person may redeem: `None` is no limit, else 1 to [`PER_PERSON_MAX`].
pub fn per_person_limit(n: Option<i64>) -> Result<Option<i64>, Invalid> {
    match n {
        Some(s) if !(1..=PER_PERSON_MAX).contains(&s) => Err(Invalid::new(
            "per_person_limit",
            format!("must be 1 to {PER_PERSON_MAX}, or absent for no limit"),
        )),
        other => Ok(other),
    }
}

/// The last moment an offer is valid, from RFC 3339 (`2027-06-30T23:59:59+08:00`), as
/// Unix ms; `None` when absent.
pub fn valid_until(s: Option<&str>) -> Result<Option<i64>, Invalid> {
    let Some(s) = s else { return Ok(None) };
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| Some(t.timestamp_millis()))
        .map_err(|_| {
            Invalid::new(
                "valid_until",
                "must be an RFC 3339 time such as 2027-06-30T23:59:59+08:00",
            )
        })
}

/// How many offers to list: [`OFFERS_DEFAULT_LIMIT`] when absent, at most
/// [`OFFERS_MAX_LIMIT`].
pub fn offers_limit(n: Option<i64>) -> Result<usize, Invalid> {
    match n {
        None => Ok(OFFERS_DEFAULT_LIMIT),
        Some(l) if (1..=OFFERS_MAX_LIMIT as i64).contains(&l) => Ok(l as usize),
        Some(_) => Err(Invalid::new(
            "limit",
            format!("must be 1 to {OFFERS_MAX_LIMIT}"),
        )),
    }
}

/// `items` with their distance from `from` (metres), nearest first, at most `limit`.
/// Without a position the order is kept and no distance is given. Ties keep their order,
/// so the same data always lists the same way.
pub fn nearest_first<T>(
    from: Option<LatLon>,
    items: Vec<(T, LatLon)>,
    limit: usize,
) -> Vec<(T, Option<f64>)> {
    let mut out: Vec<(T, Option<f64>)> = items
        .into_iter()
        .map(|(t, at)| (t, from.map(|f| f.distance_m(at))))
        .collect();
    if from.is_some() {
        out.sort_by(|a, b| a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0)));
    }
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked_at_the_edge() {
        assert_eq!(text("title", "  理发一次 ", 200).unwrap(), "理发一次");
        assert!(text("title", "   ", 200).is_err());
        assert!(text("title", &"字".repeat(201), 200).is_err());
        assert!(text("title", "a\u{7}b", 200).is_err());
        assert_eq!(hours(Some(" ")).unwrap(), None);
        assert_eq!(
            hours(Some("8:00-21:00")).unwrap().as_deref(),
            Some("8:00-21:00")
        );
        assert!(points(0).is_err() && points(100_001).is_err());
        assert_eq!(points(100_000).unwrap(), 100_000);
        assert!(stock(Some(-1)).is_err());
        assert_eq!(stock(Some(0)).unwrap(), Some(0));
        assert!(per_person_limit(Some(0)).is_err());
        assert_eq!(
            valid_until(Some("2027-01-01T00:00:00+08:00")).unwrap(),
            Some(1_798_732_800_000)
        );
        assert!(valid_until(Some("2027-01-01")).is_err());
        assert_eq!(offers_limit(None).unwrap(), 50);
        assert!(offers_limit(Some(201)).is_err() && offers_limit(Some(0)).is_err());
    }

    #[test]
    fn nearest_come_first_and_the_list_is_bounded() {
        let here = LatLon::new(39.50, 106.70).unwrap();
        let far = LatLon::new(39.60, 106.70).unwrap();
        let near = LatLon::new(39.501, 106.70).unwrap();
        let got = nearest_first(Some(here), vec![("far", far), ("near", near)], 10);
        assert_eq!(got[0].0, "near");
        assert!(got[0].1.unwrap() < 200.0 && got[1].1.unwrap() > 10_000.0);
        let got = nearest_first(Some(here), vec![("far", far), ("near", near)], 1);
        assert_eq!(got.len(), 1);
        let got = nearest_first(None, vec![("far", far), ("near", near)], 10);
        assert_eq!((got[0].0, got[0].1), ("far", None));
    }
}
