//! The process's one `tracing` subscriber: log lines to stderr, filtered by `RUST_LOG`, and,
//! when `telemetry.otlp_endpoint` is set, the same spans exported to an OpenTelemetry
//! collector over OTLP/HTTP with protobuf (docs/deploy.md, "Traces in Jaeger, Tempo or an
//! OpenTelemetry Collector"; the choice of crates: docs/decisions/code.md).
//!
//! The subscriber is installed first thing, before the settings are read (so that what
//! happens while they are read is logged); the exporter is plugged into an empty slot of it
//! afterwards ([`Logs::export`]). `RUST_LOG` filters both: a span the log level hides is
//! not exported either.
//!
//! Spans leave through the SDK's batch processor: a span that closes is handed to a bounded
//! queue without waiting (when the queue is full the span is dropped, never the caller
//! held up), and the processor's own thread sends a batch every few seconds. The request
//! itself runs on the tokio runtime ([`client`]), so no async worker ever waits on the
//! collector. A collector that does not answer costs nothing but the spans it misses, and
//! a few log lines ([`client`]). [`Export::shutdown`] sends what is left before the process
//! ends.

mod client;

use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::config::TelemetrySettings;

/// Longest one export (its retries included) may take before that batch is given up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest [`Export::shutdown`] waits for the last spans to leave.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The log level when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// The bridge from `tracing` spans to OpenTelemetry, sitting right on the registry.
type OtelLayer = tracing_opentelemetry::OpenTelemetryLayer<Registry, SdkTracer>;

/// The slot the exporter is plugged into; empty until [`Logs::export`].
#[derive(Clone)]
struct Slot(reload::Handle<Option<OtelLayer>, Registry>);

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plugged = self.0.with_current(Option::is_some).unwrap_or(false);
        f.debug_struct("Slot").field("exporting", &plugged).finish()
    }
}

/// The installed subscriber's handle: where an exporter is plugged in.
#[derive(Debug, Clone)]
pub struct Logs {
    slot: Slot,
}

impl Logs {
    /// The subscriber (not installed) and its handle. The log lines go to stderr.
    pub fn new() -> (Logs, impl tracing::Subscriber + Send + Sync + 'static) {
        let (slot, handle) = reload::Layer::new(None);
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
        let subscriber = Registry::default()
            .with(slot)
            .with(filter)
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
        (Logs { slot: Slot(handle) }, subscriber)
    }

    /// Installs the subscriber as the process's own (and `log` records into it).
    ///
    /// # Panics
    /// When a subscriber is already installed.
    pub fn init() -> Logs {
        let (logs, subscriber) = Self::new();
        subscriber.init();
        logs
    }

    /// Starts exporting spans as `settings` say: `None` when `telemetry.otlp_endpoint` is
    /// empty (nothing is built, nothing is sent). Call it inside the tokio runtime, which
    /// sends the exports.
    pub fn export(&self, settings: &TelemetrySettings) -> anyhow::Result<Option<Export>> {
        let Some(url) = settings.traces_url() else {
            return Ok(None);
        };
        let runtime = tokio::runtime::Handle::try_current()
            .context("telemetry: the OTLP exporter needs the tokio runtime")?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client::Otlp::new(runtime, &url, EXPORT_TIMEOUT)?)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .context("telemetry.otlp_endpoint: the OTLP exporter")?;
        let resource = Resource::builder()
            .with_service_name(settings.service_name.clone())
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                settings.sample_ratio,
            ))))
            .with_resource(resource)
            .build();
        let layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("griddispatch"))
            // Which worker thread ran a task says nothing about it.
            .with_threads(false);
        self.slot
            .0
            .reload(Some(layer))
            .context("telemetry: the log subscriber is gone")?;
        tracing::info!(%url, "exporting spans over OTLP/HTTP");
        Ok(Some(Export {
            provider,
            slot: self.slot.clone(),
        }))
    }
}

/// Spans being exported; [`Export::shutdown`] sends the last ones.
#[derive(Debug)]
pub struct Export {
    provider: SdkTracerProvider,
    slot: Slot,
}

impl Export {
    /// Stops taking spans and sends those not yet sent (waiting at most a few seconds for
    /// the collector). Call it once the app has stopped, still inside the runtime.
    pub async fn shutdown(self) {
        // Spans closing from here on are no longer exported; then the queue is emptied.
        if self.slot.0.reload(None).is_err() {
            tracing::debug!("telemetry: the log subscriber is gone");
        }
        let provider = self.provider;
        // The SDK waits on its thread: off the async workers.
        let done =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT))
                .await;
        match done {
            Ok(Ok(())) => tracing::debug!("telemetry: the last spans were sent"),
            Ok(Err(e)) => tracing::warn!(error = %e, "telemetry: the last spans were not all sent"),
            Err(e) => tracing::warn!(error = %e, "telemetry: stopping the exporter failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nothing_is_built_without_an_endpoint() {
        let settings = crate::config::Settings::load_with_env(None, Vec::new()).expect("defaults");
        let (logs, _subscriber) = Logs::new();
        assert!(logs.export(&settings.telemetry).expect("export").is_none());
        // No layer was plugged in: no span goes anywhere but the log.
        assert_eq!(logs.slot.0.with_current(Option::is_none).ok(), Some(true));
    }
}
