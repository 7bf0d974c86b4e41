//! What the service writes to the audit log by itself: its start, with a fingerprint of
//! its settings (which change only in the settings file, never through the API), and the
//! daily deletion of entries past `audit.retention_days`.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{AuditSettings, Settings};
use crate::metrics::Metrics;
use crate::store::{NewAuditEntry, Store};

/// Writes `service.start`: the version and a SHA-256 of the settings in effect (secrets
/// are not part of it: their `Debug` hides them), with the previous start's as `before`,
/// so that a changed settings file shows as a start whose fingerprint moved.
pub(super) async fn record_start(store: &Store, settings: &Settings) {
    let fingerprint = hex::encode(Sha256::digest(format!("{settings:?}").as_bytes()));
    let after = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "settings_sha256": fingerprint,
    });
    let before = match store.last_audit_of("service.start").await {
        Ok(row) => row.and_then(|r| r.entry.after),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the last start from the audit log");
            None
        }
    };
    let changed = before
        .as_deref()
        .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .is_some_and(|b| b.get("settings_sha256") != after.get("settings_sha256"));
    let entry = NewAuditEntry {
        at: crate::clock::now_ms(),
        actor: "system".into(),
        action: "service.start".into(),
        target_kind: Some("settings".into()),
        detail: Some(serde_json::json!({ "settings_changed": changed }).to_string()),
        before,
        after: Some(after.to_string()),
        ..NewAuditEntry::default()
    };
    if let Err(e) = store.append_audit(&entry).await {
        tracing::error!(error = %e, "could not write the start to the audit log");
    }
}

/// Deletes, at start and then daily, the entries older than `audit.retention_days`.
pub(super) fn keep_audit_log(
    tracker: &TaskTracker,
    cancel: &CancellationToken,
    store: Store,
    audit: AuditSettings,
    metrics: std::sync::Arc<Metrics>,
) {
    let cancel = cancel.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(24 * 3600));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            match store
                .prune_audit(audit.cutoff_ms(crate::clock::now_ms()))
                .await
            {
                Ok(0) => {}
                Ok(n) => {
                    metrics.audit_pruned_total.inc_by(n);
                    tracing::info!(
                        entries = n,
                        "audit log entries past their retention deleted"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "could not delete old audit log entries"),
            }
        }
    });
}
