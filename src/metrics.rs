//! Counters exported at `/metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Declares the metrics struct and its exposition together so a metric cannot be added
/// without being exported.
macro_rules! metrics {
    (
        counters { $($(#[$doc:meta])* $name:ident),+ $(,)? }
        gauges { $($(#[$gdoc:meta])* $gauge:ident),+ $(,)? }
    ) => {
        /// Process-wide counters and gauges.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $($(#[$doc])* pub $name: AtomicU64,)+
            $($(#[$gdoc])* pub $gauge: AtomicU64,)+
        }

        impl Metrics {
            /// Prometheus text exposition of every metric.
            pub fn render(&self, out: &mut String) {
                $(
                    let _ = writeln!(out, "# TYPE griddispatch_{} counter", stringify!($name));
                    let _ = writeln!(out, "griddispatch_{} {}", stringify!($name), self.$name.load(Ordering::Relaxed));
                )+
                $(
                    let _ = writeln!(out, "# TYPE griddispatch_{} gauge", stringify!($gauge));
                    let _ = writeln!(out, "griddispatch_{} {}", stringify!($gauge), self.$gauge.load(Ordering::Relaxed));
                )+
            }
        }
    };
}

metrics! {
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
        offers_accepted_total,
        /// Offers rejected by the responder.
        offers_rejected_total,
        /// Offers that ran past their deadline.
        offers_expired_total,
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

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Subtracts one from a gauge, never below zero.
    pub fn dec(gauge: &AtomicU64) {
        let _ = gauge.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }
}
