//! MQTT logins of responders and sources: issuing and resetting their passwords, checking
//! a CONNECT, and the list exported to an external broker.

use serde::Serialize;
use sqlx::FromRow;

use super::rows::{decode_all, name};
use super::secrets::{hash_secret, mosquitto_hash, new_secret, verify_secret};
use super::{Store, StoreError};
use crate::domain::AccountKind;

/// Who an MQTT login belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountOwner {
    /// A responder with this id.
    Responder(String),
    /// A source with this id.
    Source(String),
}

/// New MQTT credentials, shown once.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct MqttCredentials {
    /// MQTT username.
    pub username: String,
    /// MQTT password; only hashes of it are stored (SHA-256, and Mosquitto's format).
    pub password: String,
}

/// Without the password: a `{:?}` in a log line must not print it.
impl std::fmt::Debug for MqttCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttCredentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// An MQTT login as exported to an external broker (never the password).
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct MqttAccountRow {
    /// MQTT username: the responder id, or `source-<id>`.
    pub username: String,
    /// `responder` or `source`.
    pub principal: AccountKind,
    /// The responder's or source's id.
    pub subject_id: String,
    /// The password in Mosquitto's format; `None` for logins issued before it was kept.
    pub mosquitto_hash: Option<String>,
}

/// The MQTT username of a source (responders use their id, as OwnTracks expects).
pub fn source_username(source_id: &str) -> String {
    format!("source-{source_id}")
}

impl Store {
    /// Issues a new password for a responder's or source's login.
    pub async fn reset_password(
        &self,
        owner: &AccountOwner,
    ) -> Result<MqttCredentials, StoreError> {
        let (principal, subject, username) = match owner {
            AccountOwner::Responder(id) => (AccountKind::Responder, id.as_str(), id.clone()),
            AccountOwner::Source(id) => (AccountKind::Source, id.as_str(), source_username(id)),
        };
        // One statement, no read-then-write transaction: under SQLite WAL a read
        // transaction that later writes fails at once when another writer got in between.
        let password = new_secret();
        let done = sqlx::query(
            "UPDATE mqtt_accounts SET password_hash = $1, mosquitto_hash = $2
             WHERE principal = $3 AND subject_id = $4",
        )
        .bind(hash_secret(&password))
        .bind(mosquitto_hash(&password))
        .bind(principal.as_str())
        .bind(subject)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("{principal} {subject}")));
        }
        Ok(MqttCredentials { username, password })
    }

    /// Every MQTT login (responders and sources), by username, for exporting to an
    /// external broker.
    pub async fn mqtt_accounts(&self) -> Result<Vec<MqttAccountRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT username, principal, subject_id, mosquitto_hash FROM mqtt_accounts
             ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "mqtt_accounts", "username")
    }

    /// Checks an MQTT login.
    pub async fn check_mqtt_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<AccountOwner>, StoreError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT password_hash, principal, subject_id FROM mqtt_accounts WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let Some((hash, principal, subject)) = row else {
            return Ok(None);
        };
        if !verify_secret(password, &hash) {
            return Ok(None);
        }
        Ok(Some(
            match name(principal, "mqtt_accounts", username, "principal")? {
                AccountKind::Responder => AccountOwner::Responder(subject),
                AccountKind::Source => AccountOwner::Source(subject),
            },
        ))
    }
}

pub(super) async fn put_account(
    tx: &mut sqlx::AnyConnection,
    username: &str,
    principal: AccountKind,
    subject: &str,
) -> Result<MqttCredentials, StoreError> {
    let password = new_secret();
    sqlx::query("INSERT INTO mqtt_accounts (username, password_hash, mosquitto_hash, principal, subject_id) VALUES ($1, $2, $3, $4, $5)")
        .bind(username)
        .bind(hash_secret(&password))
        .bind(mosquitto_hash(&password))
        .bind(principal.as_str())
        .bind(subject)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, || format!("MQTT username {username} is taken")))?;
    Ok(MqttCredentials {
        username: username.to_owned(),
        password,
    })
}
