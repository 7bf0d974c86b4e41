//! The exporter's HTTP client: the app's own reqwest (no second HTTP stack), each request
//! run as a task on the tokio runtime while the SDK's batch thread waits for its answer.
//!
//! A collector that does not answer is logged when it stops answering, again at most every
//! [`REMIND_EVERY`] while it stays so, and when it answers again; never once per export.
//! The requests run without a subscriber, so the HTTP client's own spans can never become
//! spans to export (which would feed themselves at `RUST_LOG=trace`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use tracing::instrument::WithSubscriber as _;

/// How often a collector that stays unreachable is logged again.
const REMIND_EVERY: Duration = Duration::from_secs(600);

/// Largest answer read from the collector (an OTLP answer is a few bytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Posts OTLP requests with reqwest on the tokio runtime.
#[derive(Debug)]
pub(super) struct Otlp {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
    /// Where spans go, for the log lines.
    url: String,
    health: Mutex<Health>,
}

impl Otlp {
    /// A client for `url`, each request given at most `timeout`.
    pub(super) fn new(
        runtime: tokio::runtime::Handle,
        url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Otlp> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Otlp {
            http,
            runtime,
            url: url.to_owned(),
            health: Mutex::new(Health::default()),
        })
    }

    /// Logs what the outcome of one export changes.
    fn note(&self, outcome: Result<(), String>) {
        let change = match self.health.lock() {
            Ok(mut health) => health.after(outcome, Instant::now()),
            Err(_) => return,
        };
        let url = &self.url;
        match change {
            Change::None => {}
            Change::Failing(error) => tracing::warn!(
                %url, %error,
                "telemetry: cannot send spans to the OTLP collector; spans are dropped until it answers"
            ),
            Change::StillFailing { error, failed } => tracing::warn!(
                %url, %error, failed,
                "telemetry: the OTLP collector still does not answer; spans are being dropped"
            ),
            Change::Recovered { failed } => tracing::info!(
                %url, failed,
                "telemetry: the OTLP collector answers again"
            ),
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for Otlp {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let task = self.runtime.spawn(
            send(self.http.clone(), request)
                .with_subscriber(tracing::subscriber::NoSubscriber::default()),
        );
        let answer = match task.await {
            Ok(answer) => answer,
            Err(e) => Err(format!("the export task ended: {e}").into()),
        };
        self.note(match &answer {
            Ok(a) if a.status().is_success() => Ok(()),
            Ok(a) => Err(format!("answered {}", a.status())),
            Err(e) => Err(chain(e.as_ref())),
        });
        answer
    }
}

/// An error and its causes, `a: b: c` (reqwest's own text names no cause).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// Sends `request` and reads the answer.
async fn send(
    http: reqwest::Client,
    request: Request<Bytes>,
) -> Result<Response<Bytes>, HttpError> {
    let mut answer = http.execute(reqwest::Request::try_from(request)?).await?;
    let mut response = Response::builder().status(answer.status());
    // The exporter reads the status and `Retry-After`; the rest is of no use to it.
    if let Some(after) = answer.headers().get(reqwest::header::RETRY_AFTER) {
        response = response.header(reqwest::header::RETRY_AFTER, after.clone());
    }
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("the answer is over {MAX_ANSWER_BYTES} bytes").into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(response.body(Bytes::from(body))?)
}

/// Whether the collector answers, for logging changes only.
#[derive(Debug, Default)]
struct Health {
    /// Exports failed in a row, 0 = answering.
    failed: u64,
    /// When the failure was last logged.
    logged: Option<Instant>,
}

/// What one export's outcome changes, to log.
#[derive(Debug, PartialEq)]
enum Change {
    /// Nothing to say.
    None,
    /// The collector stopped answering.
    Failing(String),
    /// It still does not, `failed` exports in a row.
    StillFailing { error: String, failed: u64 },
    /// It answers again after `failed` failed exports.
    Recovered { failed: u64 },
}

impl Health {
    fn after(&mut self, outcome: Result<(), String>, now: Instant) -> Change {
        match outcome {
            Ok(()) if self.failed == 0 => Change::None,
            Ok(()) => {
                let failed = std::mem::take(&mut self.failed);
                self.logged = None;
                Change::Recovered { failed }
            }
            Err(error) => {
                self.failed += 1;
                match self.logged {
                    None => {
                        self.logged = Some(now);
                        Change::Failing(error)
                    }
                    Some(at) if now.duration_since(at) >= REMIND_EVERY => {
                        self.logged = Some(now);
                        Change::StillFailing {
                            error,
                            failed: self.failed,
                        }
                    }
                    Some(_) => Change::None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collector_that_stays_down_is_logged_rarely() {
        let mut health = Health::default();
        let start = Instant::now();
        let down = || Err("connection refused".to_owned());
        assert_eq!(health.after(Ok(()), start), Change::None);
        assert_eq!(
            health.after(down(), start),
            Change::Failing("connection refused".into())
        );
        // One export every 5 s for almost ten minutes: not a word.
        for i in 1..120 {
            assert_eq!(
                health.after(down(), start + Duration::from_secs(5 * i)),
                Change::None
            );
        }
        assert_eq!(
            health.after(down(), start + REMIND_EVERY),
            Change::StillFailing {
                error: "connection refused".into(),
                failed: 121
            }
        );
        assert_eq!(
            health.after(Ok(()), start + REMIND_EVERY + Duration::from_secs(5)),
            Change::Recovered { failed: 121 }
        );
        assert_eq!(health.after(Ok(()), start + REMIND_EVERY), Change::None);
        // A new outage is logged at once.
        assert!(matches!(
            health.after(down(), start + REMIND_EVERY * 2),
            Change::Failing(_)
        ));
    }
}
