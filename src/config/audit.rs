//! `[audit]`: the audit log (docs/security.md, "Audit log").

use serde::Deserialize;

use super::ConfigError;

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Days an entry is kept at least; older ones are deleted once a day. At least
    /// [`AuditSettings::MIN_RETENTION_DAYS`].
    pub retention_days: u32,
}

impl AuditSettings {
    /// The least retention: the Cybersecurity Law (art. 21) keeps network logs at least
    /// six months, and the database refuses to delete younger entries.
    pub const MIN_RETENTION_DAYS: u32 = 180;
    /// The most: a hundred years, so that the cut-off stays a sane time.
    pub const MAX_RETENTION_DAYS: u32 = 36_500;

    /// Entries written before this (Unix ms) may go, at `now` (Unix ms).
    pub fn cutoff_ms(&self, now: i64) -> i64 {
        now.saturating_sub(i64::from(self.retention_days) * 86_400_000)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let (min, max) = (Self::MIN_RETENTION_DAYS, Self::MAX_RETENTION_DAYS);
        if !(min..=max).contains(&self.retention_days) {
            return Err(ConfigError(format!(
                "audit.retention_days: must be {min} to {max} (the Cybersecurity Law keeps \
                 network logs at least six months), is {}",
                self.retention_days
            )));
        }
        Ok(())
    }
}
