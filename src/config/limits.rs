//! `[http.limits]` and `[mqtt.limits]`: what one client may take from a listener
//! (docs/security.md, "Limits").

use serde::Deserialize;

use super::ConfigError;

/// `[http.limits]`: bounds on every client and request of the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpLimits {
    /// Bytes a request body may have, on routes not named below.
    pub max_body_bytes: usize,
    /// Bytes of a field report (`POST /api/v1/field/reports`): a 4 MiB photo in base64.
    pub max_field_report_bytes: usize,
    /// Bytes of a camera or zone import, and of one zone's GeoJSON.
    pub max_import_bytes: usize,
    /// Seconds a request may take, from its head to the head of its answer; then 503.
    pub request_timeout_secs: u64,
    /// The same for an import (camera, zone), which is checked and written at once.
    pub import_timeout_secs: u64,
    /// Seconds a client has to send a request's head; then the connection is closed.
    pub header_read_timeout_secs: u64,
    /// Connections the listener holds at once; more are closed at once.
    pub max_connections: usize,
    /// Connections from one IP address at once; more from it are closed at once.
    pub max_connections_per_ip: usize,
}

impl HttpLimits {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("http.limits.{key}: {why}")));
        for (key, v) in [
            ("max_body_bytes", self.max_body_bytes),
            ("max_field_report_bytes", self.max_field_report_bytes),
            ("max_import_bytes", self.max_import_bytes),
        ] {
            if !(1024..=1 << 30).contains(&v) {
                return bad(key, "must be 1024 to 1073741824 (bytes)");
            }
        }
        if self.request_timeout_secs == 0 {
            return bad("request_timeout_secs", "must be at least 1");
        }
        if self.import_timeout_secs == 0 {
            return bad("import_timeout_secs", "must be at least 1");
        }
        if self.header_read_timeout_secs == 0 {
            return bad("header_read_timeout_secs", "must be at least 1");
        }
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1");
        }
        if !(1..=self.max_connections).contains(&self.max_connections_per_ip) {
            return bad("max_connections_per_ip", "must be 1 to max_connections");
        }
        Ok(())
    }
}

/// `[mqtt.limits]`: bounds on every client of the embedded broker (docs/security.md).
#[derive(Debug, Clone, Deserialize)]
pub struct MqttLimits {
    /// Most `/`-separated levels in a topic name or filter.
    pub max_topic_levels: usize,
    /// Most bytes in a topic name or filter.
    pub max_topic_bytes: usize,
    /// Filters one SUBSCRIBE may carry.
    pub max_filters_per_subscribe: usize,
    /// Longest client id, bytes.
    pub max_client_id_bytes: usize,
    /// Retained messages one login may hold.
    pub max_retained_per_login: usize,
    /// Bytes of retained messages one login may hold.
    pub max_retained_bytes_per_login: usize,
    /// Sessions (connected or kept) one login may have.
    pub max_sessions_per_login: usize,
    /// Seconds a kept session outlives its last connection.
    pub session_expiry_secs: u64,
    /// Messages per second one login may send, on average; 0 = unlimited.
    pub max_messages_per_sec: u32,
    /// Messages a login may send at once above that rate.
    pub message_burst: u32,
    /// QoS 1 messages queued per session: a phone's oldest are dropped beyond it, the
    /// dispatcher's publishers wait.
    pub max_queued_per_session: usize,
    /// Connections (TCP and WebSocket) the broker holds at once; more are closed at once.
    pub max_connections: usize,
    /// Connections from one IP address at once; more from it are closed at once.
    pub max_connections_per_ip: usize,
}

impl MqttLimits {
    /// Ceiling on topic levels: tries are walked without recursion, but one is dropped
    /// level by level, and no real topic comes near it.
    const LEVELS_CEILING: usize = 1024;

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("mqtt.limits.{key}: {why}")));
        if !(1..=Self::LEVELS_CEILING).contains(&self.max_topic_levels) {
            return bad("max_topic_levels", "must be 1 to 1024");
        }
        if !(1..=65_535).contains(&self.max_topic_bytes) {
            return bad("max_topic_bytes", "must be 1 to 65535 (MQTT's own limit)");
        }
        if self.max_filters_per_subscribe == 0 {
            return bad("max_filters_per_subscribe", "must be at least 1");
        }
        if !(23..=65_535).contains(&self.max_client_id_bytes) {
            return bad(
                "max_client_id_bytes",
                "must be 23 (what MQTT 3.1.1 promises clients) to 65535",
            );
        }
        if self.max_sessions_per_login == 0 {
            return bad("max_sessions_per_login", "must be at least 1");
        }
        if self.session_expiry_secs == 0 {
            return bad("session_expiry_secs", "must be at least 1");
        }
        if self.max_messages_per_sec > 0 && self.message_burst == 0 {
            return bad("message_burst", "must be at least 1");
        }
        if self.max_queued_per_session == 0 {
            return bad("max_queued_per_session", "must be at least 1");
        }
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1");
        }
        if !(1..=self.max_connections).contains(&self.max_connections_per_ip) {
            return bad("max_connections_per_ip", "must be 1 to max_connections");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let env = pairs
            .iter()
            .map(|(k, v)| (format!("GRIDDISPATCH__{k}"), (*v).to_owned()));
        Settings::load_with_env(None, env).map_err(|e| e.to_string())
    }

    #[test]
    fn the_shipped_limits_load_and_bad_ones_name_their_key() {
        let s = load(&[]).unwrap();
        assert_eq!(s.http.limits.max_body_bytes, 1 << 20);
        assert_eq!(s.mqtt.limits.max_connections_per_ip, 1000);
        assert_eq!(s.field.max_reports_per_hour, 30);
        let err = load(&[("HTTP__LIMITS__MAX_CONNECTIONS_PER_IP", "5000")]).unwrap_err();
        assert!(err.contains("http.limits.max_connections_per_ip"), "{err}");
        let err = load(&[("MQTT__LIMITS__MAX_CONNECTIONS", "0")]).unwrap_err();
        assert!(err.contains("mqtt.limits.max_connections"), "{err}");
        let err = load(&[("HTTP__LIMITS__REQUEST_TIMEOUT_SECS", "0")]).unwrap_err();
        assert!(err.contains("http.limits.request_timeout_secs"), "{err}");
        let err = load(&[("FIELD__MAX_REPORTS_PER_HOUR", "0")]).unwrap_err();
        assert!(err.contains("field.max_reports_per_hour"), "{err}");
    }
}
