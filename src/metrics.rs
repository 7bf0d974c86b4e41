//! Metrics exported at `/metrics` in the Prometheus text format (0.0.4), kept with the
//! Prometheus project's own client (`prometheus-client`, docs/decisions/code.md).
//!
//! Every metric is named `griddispatch_<field>`: the field names below are the names
//! dashboards query, so renaming a field renames a metric. The doc comment of each field is
//! its `# HELP` line. Values owned elsewhere and read only when scraped (the embedded
//! broker's counters, a database count) are added per scrape with [`Scrape`].

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

/// Every metric's name starts with this (and `_`).
const PREFIX: &str = "griddispatch";

/// Dispatch latencies, seconds: fine around the 3 ms target tail, coarse up to a backlog
/// of seconds.
const DISPATCH_SECONDS: [f64; 17] = [
    0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// Database commits, seconds: an fsync is a fraction of a millisecond on a good disk.
const COMMIT_SECONDS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5,
];

/// Commands per engine batch: powers of two up to the batch's limit (256).
const BATCH_COMMANDS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// A person answering an offer on a phone: seconds to minutes (offers time out after
/// `dispatch.offer_timeout_secs`).
const ANSWER_SECONDS: [f64; 13] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0, 600.0,
];

/// HTTP answers, seconds: most are a database read; reports and imports take longer.
const HTTP_SECONDS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How an offer ended: `accepted`, `rejected` or `expired`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// The outcome.
    pub outcome: &'static str,
}

/// An incident state (`new`, `dispatching`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct StateLabel {
    /// The state's name.
    pub state: &'static str,
}

/// An HTTP request: its method, the route that matched (`/api/v1/incidents/{id}`, never
/// the path itself, so ids do not each make a series) and the class of its status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabels {
    /// `GET`, `POST`, … (`other` for anything unusual).
    pub method: &'static str,
    /// The route's pattern, or `unmatched`.
    pub route: String,
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub status: &'static str,
}

/// An MQTT message of the dispatcher's own connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct MessageLabels {
    /// `in` (received) or `out` (published).
    pub direction: &'static str,
    /// What it is, from its topic (`alert`, `task_update`, `task`, …).
    pub kind: &'static str,
}

/// A histogram family whose series share one set of buckets.
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn histograms<L: Clone + Eq + std::hash::Hash>(make: fn() -> Histogram) -> HistogramFamily<L> {
    Family::new_with_constructor(make)
}

/// The `# HELP` text of a doc comment: its lines joined, without the final full stop
/// (the client adds one).
fn help(lines: &[&str]) -> String {
    let text = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
    text.trim_end_matches('.').to_owned()
}

/// Registers `metric` as `griddispatch_<name>`. A counter is registered without its
/// `_total`, which the client adds back when it writes the metric.
fn register(registry: &mut Registry, name: &str, doc: &[&str], metric: impl Metric) {
    let name = name.strip_suffix("_total").unwrap_or(name);
    registry.register(name, help(doc), metric);
}

/// Declares the metrics struct and its registration together, so a metric cannot be added
/// without being exported and its help text is its doc comment.
///
/// `families` come first, so that a counter may be one series of a family (`= expr`, which
/// may name a family declared above): then the counter and that series are one value,
/// exported under both names.
macro_rules! metrics {
    (
        families { $($(#[doc = $fdoc:literal])+ $fam:ident: $fty:ty = $finit:expr,)+ }
        counters { $($(#[doc = $doc:literal])+ $name:ident $(= $init:expr)?,)+ }
        gauges { $($(#[doc = $gdoc:literal])+ $gauge:ident,)+ }
    ) => {
        /// Process-wide counters, gauges and histograms.
        #[derive(Debug)]
        pub struct Metrics {
            $($(#[doc = $doc])+ pub $name: Counter,)+
            $($(#[doc = $gdoc])+ pub $gauge: Gauge,)+
            $($(#[doc = $fdoc])+ pub $fam: $fty,)+
            /// Every metric above, for [`Metrics::render`].
            registry: Registry,
        }

        impl Default for Metrics {
            fn default() -> Metrics {
                $(let $fam: $fty = $finit;)+
                $(let $name: Counter = metrics!(@counter $($init)?);)+
                $(let $gauge = Gauge::default();)+
                let mut registry = Registry::with_prefix(PREFIX);
                $(register(&mut registry, stringify!($name), &[$($doc),+], $name.clone());)+
                $(register(&mut registry, stringify!($gauge), &[$($gdoc),+], $gauge.clone());)+
                $(register(&mut registry, stringify!($fam), &[$($fdoc),+], $fam.clone());)+
                Metrics {
                    $($name,)+
                    $($gauge,)+
                    $($fam,)+
                    registry,
                }
            }
        }
    };
    (@counter) => { Counter::default() };
    (@counter $init:expr) => { $init };
}

metrics! {
    families {
        /// Offers that ended, by outcome: accepted, rejected, or expired (no answer in time).
        offer_outcomes_total: Family<OutcomeLabel, Counter> = Family::default(),
        /// Open incidents by state (closed and cancelled ones are not open).
        incidents_by_state: Family<StateLabel, Gauge> = Family::default(),
        /// Seconds from an alert's arrival (its MQTT message, or its HTTP request, reaching
        /// the dispatcher) to its incident's first offer handed to the MQTT connection, for
        /// alerts that opened an incident and got an offer at once.
        alert_to_offer_seconds: Histogram = Histogram::new(DISPATCH_SECONDS),
        /// Seconds from an offer to the responder's answer, by answer (accepted, rejected).
        offer_answer_seconds: HistogramFamily<OutcomeLabel> =
            histograms(|| Histogram::new(ANSWER_SECONDS)),
        /// Seconds the database took to commit one batch of dispatch decisions.
        commit_duration_seconds: Histogram = Histogram::new(COMMIT_SECONDS),
        /// Commands the dispatcher handled in one batch (one commit at most).
        engine_batch_size: Histogram = Histogram::new(BATCH_COMMANDS),
        /// Seconds to answer an HTTP request (until the answer's head), by method, route
        /// and status class.
        http_request_duration_seconds: HistogramFamily<RouteLabels> =
            histograms(|| Histogram::new(HTTP_SECONDS)),
        /// MQTT messages of the dispatcher's own connection, by direction (in, out) and
        /// kind.
        mqtt_messages_total: Family<MessageLabels, Counter> = Family::default(),
    }
    counters {
        /// Alerts accepted (new or linked), from any way in.
        alerts_total,
        /// Alerts ignored because the same (source, id) was already received.
        alerts_duplicate_total,
        /// Alerts that joined an existing incident.
        alerts_correlated_total,
        /// Incidents opened.
        incidents_opened_total,
        /// Offers made to responders.
        offers_total,
        /// Offers accepted.
        offers_accepted_total = outcome(&offer_outcomes_total, "accepted"),
        /// Offers rejected by the responder.
        offers_rejected_total = outcome(&offer_outcomes_total, "rejected"),
        /// Offers that ran past their deadline.
        offers_expired_total = outcome(&offer_outcomes_total, "expired"),
        /// Incidents handed to the operators.
        escalations_total,
        /// Task updates refused (illegal transition, stale version, unknown task).
        task_updates_refused_total,
        /// Location fixes applied.
        locations_total,
        /// Messages stored as dead letters.
        dead_letters_total,
        /// Dead letters deleted to keep the store within `dead_letters.max_rows` and
        /// `dead_letters.max_age_days`.
        dead_letters_pruned_total,
        /// Audit log entries that could not be written (the database refused; see the log).
        audit_write_failures_total,
        /// Audit log entries deleted past `audit.retention_days`.
        audit_pruned_total,
        /// HTTP connections closed as soon as accepted: `http.limits.max_connections` or
        /// `max_connections_per_ip` reached.
        http_connections_refused_total,
        /// HTTP requests answered 503 after `http.limits.request_timeout_secs`.
        http_requests_timed_out_total,
        /// HTTP requests answered 413: a body over its route's limit.
        http_bodies_too_large_total,
        /// Field reports answered 429: `field.max_reports_per_hour` reached.
        field_reports_limited_total,
        /// Attempts to store an alert that failed and were retried (the database was
        /// unreachable or refused the batch); the alert waits, unacknowledged, meanwhile.
        alert_store_retries_total,
        /// Dispatch batches the database did not store (unreachable, or a write refused);
        /// the engine reloads its state from the database after each.
        dispatch_store_failures_total,
        /// Times the dispatcher dropped its broker connection so that messages it could
        /// not act on (a dispatch batch failed) were sent again.
        mqtt_redeliveries_total,
        /// MQTT messages received by the dispatcher.
        mqtt_messages_in_total,
        /// Camera stream probes run.
        camera_probes_total,
        /// Camera stream probes that found no working video.
        camera_probe_failures_total,
        /// Rounds of camera probes completed.
        camera_probe_rounds_total,
        /// Snapshots stored for incidents.
        snapshots_total,
        /// Snapshots that could not be taken (stream or Frigate failed, timed out).
        snapshots_failed_total,
        /// Snapshot requests dropped because the snapshot queue was full.
        snapshots_dropped_total,
        /// Whole ONVIF metadata documents read from cameras' RTSP metadata tracks.
        onvif_documents_total,
        /// ONVIF metadata documents that were not valid metadata (bad XML, wrong root, a
        /// notification missing its topic or time).
        onvif_documents_malformed_total,
        /// ONVIF metadata documents lost on the way (RTP packets missing, too large).
        onvif_documents_lost_total,
        /// ONVIF detections that raised no alert because the same rule on the same camera
        /// raised one within `video.onvif_cooldown_secs`.
        onvif_detections_suppressed_total,
        /// Live feed connections closed because the client fell too far behind or a send
        /// got stuck (the client resyncs by reconnecting).
        live_slow_disconnects_total,
    }
    gauges {
        /// Incidents not yet closed or cancelled.
        incidents_open,
        /// Offers waiting for an answer.
        offers_outstanding,
        /// Tasks accepted and not yet finished.
        tasks_active,
        /// Duration of the last completed round of camera probes, ms.
        camera_probe_round_ms,
        /// Cameras probed in the last completed round.
        camera_probe_round_cameras,
        /// ONVIF metadata sessions running (connected or retrying), one thread each.
        onvif_sessions,
        /// Live feed WebSocket connections open.
        live_clients,
    }
}

/// The series of `family` for `outcome`, made now so that it is exported (as 0) before
/// the first such offer.
fn outcome(family: &Family<OutcomeLabel, Counter>, outcome: &'static str) -> Counter {
    family.get_or_create_owned(&OutcomeLabel { outcome })
}

/// A count as a gauge's value (saturating: no count here comes near `i64::MAX`).
pub fn gauge_value(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

impl Metrics {
    /// Records how long an offer waited for its answer (`accepted` or `rejected`).
    pub fn offer_answered(&self, answer: &'static str, waited: Duration) {
        self.offer_answer_seconds
            .get_or_create(&OutcomeLabel { outcome: answer })
            .observe(waited.as_secs_f64());
    }

    /// Sets the number of open incidents in `state`.
    pub fn incidents_in_state(&self, state: &'static str, n: usize) {
        self.incidents_by_state
            .get_or_create(&StateLabel { state })
            .set(gauge_value(n));
    }

    /// Records one HTTP request and how long its answer took.
    pub fn http_request(&self, labels: &RouteLabels, took: Duration) {
        self.http_request_duration_seconds
            .get_or_create(labels)
            .observe(took.as_secs_f64());
    }

    /// Counts one MQTT message of the dispatcher's connection: `direction` is `in` or
    /// `out`.
    pub fn mqtt_message(&self, direction: &'static str, kind: &'static str) {
        self.mqtt_messages_total
            .get_or_create(&MessageLabels { direction, kind })
            .inc();
    }

    /// The Prometheus text exposition of every metric, then of `scrape`'s.
    pub fn render(&self, scrape: &Scrape) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &scrape.registry);
        out
    }
}

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Metrics read only when scraped, from values other parts of the program own.
#[derive(Debug)]
pub struct Scrape {
    /// The values, each registered once for this scrape.
    registry: Registry,
}

impl Default for Scrape {
    fn default() -> Scrape {
        Scrape {
            registry: Registry::with_prefix(PREFIX),
        }
    }
}

impl Scrape {
    /// Adds gauge `griddispatch_<name>`.
    pub fn gauge(&mut self, name: &str, help: &str, value: i64) {
        register(&mut self.registry, name, &[help], ConstGauge::new(value));
    }

    /// Adds counter `griddispatch_<name>` (`name` ends in `_total`).
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        register(&mut self.registry, name, &[help], ConstCounter::new(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `# TYPE` lines: name → type.
    fn types(text: &str) -> std::collections::BTreeMap<String, String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_once(' '))
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
            .collect()
    }

    #[test]
    fn every_metric_keeps_the_name_and_type_it_had_before_the_client_crate() {
        let text = Metrics::default().render(&Scrape::default());
        let types = types(&text);
        let counters = [
            "alerts_total",
            "alerts_duplicate_total",
            "alerts_correlated_total",
            "incidents_opened_total",
            "offers_total",
            "offers_accepted_total",
            "offers_rejected_total",
            "offers_expired_total",
            "escalations_total",
            "task_updates_refused_total",
            "locations_total",
            "dead_letters_total",
            "dead_letters_pruned_total",
            "audit_write_failures_total",
            "audit_pruned_total",
            "http_connections_refused_total",
            "http_requests_timed_out_total",
            "http_bodies_too_large_total",
            "field_reports_limited_total",
            "alert_store_retries_total",
            "dispatch_store_failures_total",
            "mqtt_redeliveries_total",
            "mqtt_messages_in_total",
            "camera_probes_total",
            "camera_probe_failures_total",
            "camera_probe_rounds_total",
            "snapshots_total",
            "snapshots_failed_total",
            "snapshots_dropped_total",
            "onvif_documents_total",
            "onvif_documents_malformed_total",
            "onvif_documents_lost_total",
            "onvif_detections_suppressed_total",
            "live_slow_disconnects_total",
        ];
        let gauges = [
            "incidents_open",
            "offers_outstanding",
            "tasks_active",
            "camera_probe_round_ms",
            "camera_probe_round_cameras",
            "onvif_sessions",
            "live_clients",
        ];
        for (names, kind) in [(&counters[..], "counter"), (&gauges[..], "gauge")] {
            for name in names {
                let full = format!("griddispatch_{name}");
                assert_eq!(types.get(&full).map(String::as_str), Some(kind), "{full}");
                assert!(
                    text.lines().any(|l| l == format!("{full} 0")),
                    "{full} 0 missing in\n{text}"
                );
            }
        }
        for name in [
            "alert_to_offer_seconds",
            "commit_duration_seconds",
            "engine_batch_size",
        ] {
            let full = format!("griddispatch_{name}");
            assert_eq!(types.get(&full).map(String::as_str), Some("histogram"));
        }
    }

    #[test]
    fn every_metric_has_help_from_its_doc_comment() {
        let m = Metrics::default();
        m.http_request(
            &RouteLabels {
                method: "GET",
                route: "/healthz".into(),
                status: "2xx",
            },
            Duration::from_millis(1),
        );
        m.offer_answered("accepted", Duration::from_secs(3));
        m.mqtt_message("in", "alert");
        m.incidents_in_state("new", 1);
        let mut scrape = Scrape::default();
        scrape.gauge("mqtt_connected", "Whether it is connected.", 1);
        scrape.counter("password_checks_total", "Checks.", 3);
        let text = m.render(&scrape);
        let types = types(&text);
        let helps: std::collections::BTreeMap<&str, &str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# HELP "))
            .filter_map(|l| l.split_once(' '))
            .collect();
        assert!(types.len() > 50, "{text}");
        for name in types.keys() {
            let help = helps.get(name.as_str()).copied().unwrap_or_default();
            assert!(help.len() > 5 && help.ends_with('.'), "{name}: {help:?}");
            assert!(!help.ends_with(".."), "{name}: {help:?}");
        }
        assert_eq!(
            helps["griddispatch_alerts_total"],
            "Alerts accepted (new or linked), from any way in."
        );
        assert!(text.contains("griddispatch_mqtt_connected 1\n"), "{text}");
        assert!(
            text.contains("griddispatch_password_checks_total 3\n"),
            "{text}"
        );
    }

    #[test]
    fn the_legacy_offer_counters_are_the_outcome_family() {
        let m = Metrics::default();
        m.offers_accepted_total.inc();
        m.offers_expired_total.inc_by(2);
        let text = m.render(&Scrape::default());
        for line in [
            "griddispatch_offers_accepted_total 1",
            "griddispatch_offers_expired_total 2",
            "griddispatch_offer_outcomes_total{outcome=\"accepted\"} 1",
            "griddispatch_offer_outcomes_total{outcome=\"rejected\"} 0",
            "griddispatch_offer_outcomes_total{outcome=\"expired\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }

    #[test]
    fn histograms_count_into_their_buckets() {
        let m = Metrics::default();
        m.alert_to_offer_seconds.observe(0.0025);
        m.alert_to_offer_seconds.observe(0.2);
        let text = m.render(&Scrape::default());
        for line in [
            "griddispatch_alert_to_offer_seconds_bucket{le=\"0.002\"} 0",
            "griddispatch_alert_to_offer_seconds_bucket{le=\"0.003\"} 1",
            "griddispatch_alert_to_offer_seconds_bucket{le=\"0.25\"} 2",
            "griddispatch_alert_to_offer_seconds_bucket{le=\"+Inf\"} 2",
            "griddispatch_alert_to_offer_seconds_count 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
