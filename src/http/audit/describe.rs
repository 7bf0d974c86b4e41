//! What a request is, for the log: its action and target from the route, and whether
//! it is written at all.

use axum::http::Method;

/// What a route does, from its method and path: `zones.replace` on zone `z1`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Described {
    pub(super) action: String,
    pub(super) target_kind: Option<String>,
    pub(super) target_id: Option<String>,
}

/// Last path segments that are an action on the thing before them (`/incidents/{id}/close`)
/// rather than a list: the action's verb. Any other route's verb is its method's.
const ACTIONS: [&str; 12] = [
    "import",
    "assign",
    "cancel",
    "close",
    "verify",
    "suspend",
    "resume",
    "rework",
    "extension",
    "reset-password",
    "confirm",
    "approve",
];

pub(super) fn describe(method: &Method, route: &str, path: &str) -> Described {
    let route = route.trim_start_matches("/api/v1/");
    let path = path.trim_start_matches("/api/v1/");
    let segments: Vec<(&str, &str)> = route.split('/').zip(path.split('/')).collect();
    let is_param = |r: &str| r.starts_with('{');
    let last = segments.last().map_or("", |s| s.0);
    let action_verb = (!is_param(last) && ACTIONS.contains(&last)).then_some(last);
    // The thing acted on: the last list named, and the id that follows it, if any.
    let (mut target_kind, mut target_id) = (None, None);
    for (i, (r, _)) in segments.iter().enumerate() {
        if is_param(r) || action_verb == Some(*r) {
            continue;
        }
        target_kind = Some(r.strip_suffix(".csv").unwrap_or(r).to_owned());
        target_id = segments
            .get(i + 1)
            .filter(|(r, _)| is_param(r))
            .map(|(_, p)| (*p).to_owned());
    }
    let mut action: Vec<&str> = segments
        .iter()
        .filter(|(r, _)| !is_param(r))
        .map(|(r, _)| r.strip_suffix(".csv").unwrap_or(r))
        .collect();
    if action_verb.is_none() {
        action.push(if last.ends_with(".csv") {
            "export"
        } else {
            match *method {
                Method::POST => "create",
                Method::PUT => "replace",
                Method::PATCH => "update",
                Method::DELETE => "delete",
                _ => "read",
            }
        });
    }
    Described {
        action: action.join("."),
        target_kind,
        target_id,
    }
}

/// Whether the layer looks at the request at all: the API, but not the other systems'
/// alert formats (`/api/v1/ingest/…`), which are their incidents' own record, at a rate
/// the log must not carry.
pub(super) fn watched(path: &str) -> bool {
    path.starts_with("/api/") && !path.starts_with("/api/v1/ingest/")
}

/// Whether a watched request is written whatever its handler says: a change through the
/// API, or a read of the log itself. Not `POST /api/v1/alerts`: a system's alerts are
/// their incidents' own record; its handler keeps the ones an operator types in.
pub(super) fn audited(method: &Method, path: &str) -> bool {
    watched(path)
        && path != "/api/v1/alerts"
        && (path.starts_with("/api/v1/audit")
            || !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(method: Method, route: &str, path: &str) -> (String, Option<String>, Option<String>) {
        let d = describe(&method, route, path);
        (d.action, d.target_kind, d.target_id)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn routes_are_named_by_what_they_do() {
        let z = "/api/v1/zones/{id}";
        assert_eq!(
            d(Method::PUT, z, "/api/v1/zones/z1"),
            ("zones.replace".into(), s("zones"), s("z1"))
        );
        assert_eq!(
            d(Method::DELETE, z, "/api/v1/zones/z1"),
            ("zones.delete".into(), s("zones"), s("z1"))
        );
        assert_eq!(
            d(Method::POST, "/api/v1/zones", "/api/v1/zones"),
            ("zones.create".into(), s("zones"), None)
        );
        assert_eq!(
            d(Method::POST, "/api/v1/zones/import", "/api/v1/zones/import"),
            ("zones.import".into(), s("zones"), None)
        );
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/incidents/{id}/assign",
                "/api/v1/incidents/inc-1/assign"
            ),
            ("incidents.assign".into(), s("incidents"), s("inc-1"))
        );
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/merchants/{id}/offers",
                "/api/v1/merchants/m1/offers"
            ),
            ("merchants.offers.create".into(), s("offers"), None)
        );
        assert_eq!(
            d(
                Method::PUT,
                "/api/v1/merchants/{id}/offers/{offer_id}",
                "/api/v1/merchants/m1/offers/o2"
            ),
            ("merchants.offers.replace".into(), s("offers"), s("o2"))
        );
        assert_eq!(
            d(Method::GET, "/api/v1/audit.csv", "/api/v1/audit.csv"),
            ("audit.export".into(), s("audit"), None)
        );
        assert_eq!(
            d(Method::GET, "/api/v1/audit", "/api/v1/audit"),
            ("audit.read".into(), s("audit"), None)
        );
    }

    #[test]
    fn nested_lists_name_their_own_items() {
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/points/awards",
                "/api/v1/points/awards"
            ),
            ("points.awards.create".into(), s("awards"), None)
        );
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/redemptions/{code}/confirm",
                "/api/v1/redemptions/AB12/confirm"
            ),
            ("redemptions.confirm".into(), s("redemptions"), s("AB12"))
        );
        assert_eq!(
            d(Method::DELETE, "/api/v1/session", "/api/v1/session"),
            ("session.delete".into(), s("session"), None)
        );
    }

    #[test]
    fn only_changes_and_reads_of_the_log_are_kept() {
        assert!(audited(&Method::PUT, "/api/v1/zones/z1"));
        assert!(audited(&Method::GET, "/api/v1/audit.csv"));
        assert!(!audited(&Method::GET, "/api/v1/zones"));
        assert!(!audited(&Method::POST, "/api/v1/alerts"));
        assert!(!audited(&Method::POST, "/api/v1/ingest/gb28181"));
        assert!(!audited(&Method::POST, "/metrics"));
        assert!(watched("/api/v1/field/tasks") && watched("/api/v1/alerts"));
        assert!(!watched("/api/v1/ingest/gb28181"));
    }
}
