//! `[telemetry]`: optional export of the tracing spans to an OpenTelemetry collector over
//! OTLP/HTTP (docs/deploy.md, "Traces in Jaeger, Tempo or an OpenTelemetry Collector").

use serde::Deserialize;

use super::values::{self, BaseUrl};
use super::ConfigError;

/// `[telemetry]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// The collector's OTLP/HTTP address (`http://127.0.0.1:4318`); spans are sent to its
    /// `/v1/traces`. `""` = no export (the default).
    #[serde(deserialize_with = "values::optional_plain_http_url")]
    pub otlp_endpoint: Option<BaseUrl>,
    /// `service.name` of every exported span.
    pub service_name: String,
    /// Share of traces exported, 0.0 to 1.0 (a trace is kept or dropped whole).
    pub sample_ratio: f64,
}

impl TelemetrySettings {
    /// Where spans are posted: `otlp_endpoint` with `/v1/traces` added to its path, unless
    /// it already ends so.
    pub fn traces_url(&self) -> Option<String> {
        let base = self.otlp_endpoint.as_ref()?.url();
        let path = base.path().trim_end_matches('/');
        let mut url = base.clone();
        if path.ends_with("/v1/traces") {
            url.set_path(path);
        } else {
            url.set_path(&format!("{path}/v1/traces"));
        }
        Some(url.to_string())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.service_name.trim().is_empty() {
            return Err(ConfigError(
                "telemetry.service_name: must not be empty".to_owned(),
            ));
        }
        if !(self.sample_ratio.is_finite() && (0.0..=1.0).contains(&self.sample_ratio)) {
            return Err(ConfigError(format!(
                "telemetry.sample_ratio: must be 0.0 to 1.0, is {}",
                self.sample_ratio
            )));
        }
        Ok(())
    }
}
