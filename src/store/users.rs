//! Console users and their login sessions.
//!
//! Passwords are argon2 hashes (`passwords.rs`). Session cookies are machine-made secrets,
//! so only their SHA-256 is stored and every request checks them cheaply.

use serde::Serialize;
use sqlx::FromRow;

use super::passwords::{check_password, dummy_hash, hash_password, verify_password};
use super::rows::{decode_all, decode_opt, name};
use super::{hash_secret, new_secret, now_ms, one_row, Flag, Store, StoreError};
use crate::domain::{Invalid, Role};

/// Session rows are re-dated at most this often, so reading pages does not write the
/// database on every request.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A console user as shown to admins (never with the hash).
#[derive(Debug, Clone, FromRow, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserRow {
    /// Login name; unique.
    pub username: String,
    /// admin, operator, viewer or merchant.
    pub role: Role,
    /// The merchant a `merchant` user is bound to; `None` for every other role.
    pub merchant_id: Option<String>,
    /// When it was created: Unix ms here, RFC 3339 in JSON.
    #[serde(serialize_with = "ser_ms")]
    #[schema(value_type = String)]
    pub created_at: i64,
    /// A disabled user cannot log in and its sessions end.
    #[sqlx(try_from = "Flag")]
    pub disabled: bool,
}

fn ser_ms<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::rfc3339(*ms))
}

/// The user behind a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// Login name.
    pub username: String,
    /// Current role (read from the user at every request, so a demotion applies at once).
    pub role: Role,
    /// The merchant of a `merchant` user.
    pub merchant_id: Option<String>,
}

/// What an admin may change about a user; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    /// New role.
    pub role: Option<Role>,
    /// New password (checked and hashed here).
    pub password: Option<String>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

/// Checks a username: 1–64 characters, each an ASCII letter or digit, one of `. _ - @`,
/// or a CJK ideograph (people here log in with Chinese names). Usernames are shown as the
/// actor of timeline entries (`<role>:<username>`), so nothing that can pass for
/// something else is allowed: no bidi controls such as U+202E that reorder what follows,
/// no invisible or format characters, and no letters of other scripts that look like
/// Latin ones (Cyrillic `а` in `u-аdmin`). Security review, issue 12 finding 9.
pub fn check_username(name: &str) -> Result<(), Invalid> {
    let n = name.chars().count();
    if n == 0 || n > 64 {
        return Err(Invalid::new("username", "must be 1 to 64 characters"));
    }
    if let Some(bad) = name.chars().find(|c| !username_char(*c)) {
        return Err(Invalid::new(
            "username",
            format!(
                "may contain only ASCII letters and digits, '.', '_', '-', '@' and CJK ideographs, not U+{:04X}",
                u32::from(bad)
            ),
        ));
    }
    Ok(())
}

/// Whether `c` may appear in a username (see [`check_username`]).
fn username_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '.' | '_' | '-' | '@')
        || matches!(u32::from(c),
            0x3400..=0x4DBF        // CJK Unified Ideographs Extension A
            | 0x4E00..=0x9FFF      // CJK Unified Ideographs
            | 0xF900..=0xFAFF      // CJK Compatibility Ideographs
            | 0x20000..=0x2EBEF    // Extensions B to F
            | 0x30000..=0x3134F) // Extension G
}

const USER_COLUMNS: &str = "username, role, merchant_id, created_at, disabled";

impl Store {
    /// Creates a user; 409 if the name is taken.
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<UserRow, UserError> {
        refuse_merchant_role(role)?;
        check_username(username)?;
        check_password(password)?;
        let hash = hash_password(&self.password_checks, password).await?;
        let row = UserRow {
            username: username.to_owned(),
            role,
            merchant_id: None,
            created_at: now_ms(),
            disabled: false,
        };
        sqlx::query(
            "INSERT INTO users (username, password_hash, role, created_at, disabled) VALUES ($1, $2, $3, $4, FALSE)",
        )
        .bind(&row.username)
        .bind(hash)
        .bind(row.role.as_str())
        .bind(row.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::on_unique(e, || format!("user {username} already exists")))?;
        Ok(row)
    }

    /// All users, by name.
    pub async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "users", "username")
    }

    /// One user.
    pub async fn user(&self, username: &str) -> Result<UserRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        decode_opt(row, "users", "username")?
            .ok_or_else(|| StoreError::NotFound(format!("user {username}")))
    }

    /// Changes a user. A new password or disabling ends the user's sessions. Leaving no
    /// enabled admin is refused (409), so nobody can lock the admins out by mistake.
    pub async fn update_user(
        &self,
        username: &str,
        change: UserChange,
    ) -> Result<UserRow, UserError> {
        if let Some(role) = change.role {
            refuse_merchant_role(role)?;
        }
        let hash = match &change.password {
            Some(p) => {
                check_password(p)?;
                Some(hash_password(&self.password_checks, p).await?)
            }
            None => None,
        };
        // Reads, then writes: without the write lock first a concurrent change could slip
        // in between (SQLite fails the deferred upgrade; PostgreSQL could lose the last
        // admin to two concurrent demotions).
        let mut tx = self.begin_write("users").await?;
        let was_admin = enabled_admin(&mut tx, username).await?;
        if change.role.is_some() && is_merchant_user(&mut tx, username).await? {
            return Err(Invalid::new(
                "role",
                "a merchant user stays bound to its merchant; delete the merchant instead",
            )
            .into());
        }
        let done = sqlx::query(
            "UPDATE users SET role = COALESCE($1, role), password_hash = COALESCE($2, password_hash),
                              disabled = COALESCE($3, disabled)
             WHERE username = $4",
        )
        .bind(change.role.map(Role::as_str))
        .bind(hash.as_deref())
        .bind(change.disabled)
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        one_row(&done, || format!("user {username}"))?;
        if was_admin {
            ensure_an_admin(&mut tx).await?;
        }
        if change.password.is_some() || change.disabled == Some(true) {
            sqlx::query("DELETE FROM sessions WHERE username = $1")
                .bind(username)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(self.user(username).await?)
    }

    /// Deletes a user and its sessions; deleting the last enabled admin is refused (409).
    pub async fn delete_user(&self, username: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write("users").await?;
        let was_admin = enabled_admin(&mut tx, username).await?;
        let done = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        one_row(&done, || format!("user {username}"))?;
        if was_admin {
            ensure_an_admin(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Checks a username and password. `Some(user)` when they match an enabled user;
    /// `None` for an unknown user, a wrong password or a disabled user alike; `Busy` when
    /// the password could not be checked now (see [`super::PasswordChecks`]).
    pub async fn check_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<SessionUser>, StoreError> {
        let row: Option<(String, String, Flag, Option<String>)> = sqlx::query_as(
            "SELECT password_hash, role, disabled, merchant_id FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let checks = &self.password_checks;
        let Some((hash, role, disabled, merchant_id)) = row else {
            verify_password(checks, password, dummy_hash(checks).await).await?;
            return Ok(None);
        };
        if !verify_password(checks, password, &hash).await? || disabled.0 {
            return Ok(None);
        }
        Ok(Some(SessionUser {
            username: username.to_owned(),
            role: name(role, "users", username, "role")?,
            merchant_id,
        }))
    }

    /// Starts a session lasting `lifetime_ms`; returns the cookie value, which is not stored.
    pub async fn create_session(
        &self,
        username: &str,
        lifetime_ms: i64,
    ) -> Result<String, StoreError> {
        let secret = new_secret();
        let now = now_ms();
        // Expired sessions are swept here: logins are rare, so this costs nothing noticeable.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, username, created_at, expires_at, last_seen) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_secret(&secret))
        .bind(username)
        .bind(now)
        .bind(now + lifetime_ms)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(secret)
    }

    /// The enabled user behind a live session cookie, sliding its expiry to `lifetime_ms`
    /// from now (at most once a minute).
    pub async fn session_user(
        &self,
        cookie: &str,
        lifetime_ms: i64,
    ) -> Result<Option<SessionUser>, StoreError> {
        let id_hash = hash_secret(cookie);
        let now = now_ms();
        let row: Option<(String, String, i64, Option<String>)> = sqlx::query_as(
            "SELECT u.username, u.role, s.last_seen, u.merchant_id FROM sessions s JOIN users u ON u.username = s.username
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
        )
        .bind(&id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some((username, role, last_seen, merchant_id)) = row else {
            return Ok(None);
        };
        if now - last_seen >= TOUCH_EVERY_MS {
            sqlx::query("UPDATE sessions SET last_seen = $1, expires_at = $2 WHERE id_hash = $3")
                .bind(now)
                .bind(now + lifetime_ms)
                .bind(&id_hash)
                .execute(&self.pool)
                .await?;
        }
        let role = name(role, "users", &username, "role")?;
        Ok(Some(SessionUser {
            username,
            role,
            merchant_id,
        }))
    }

    /// Ends a session (logout); unknown cookies are ignored.
    pub async fn delete_session(&self, cookie: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(hash_secret(cookie))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Merchant users are made only with their merchant (`POST /api/v1/merchants`), which
/// binds them to it; a plain user cannot be given the role.
fn refuse_merchant_role(role: Role) -> Result<(), Invalid> {
    if role == Role::Merchant {
        return Err(Invalid::new(
            "role",
            "merchant users are created with their merchant (POST /api/v1/merchants)",
        ));
    }
    Ok(())
}

/// Whether `username` is a merchant user (its role cannot change).
async fn is_merchant_user(
    tx: &mut sqlx::AnyConnection,
    username: &str,
) -> Result<bool, StoreError> {
    let row: Option<(Flag,)> =
        sqlx::query_as("SELECT role = 'merchant' FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(row.is_some_and(|(m,)| m.0))
}

/// Whether `username` is an enabled admin (404 when there is no such user).
async fn enabled_admin(tx: &mut sqlx::AnyConnection, username: &str) -> Result<bool, StoreError> {
    let row: Option<(Flag,)> =
        sqlx::query_as("SELECT role = 'admin' AND NOT disabled FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
    row.map(|(a,)| a.0)
        .ok_or_else(|| StoreError::NotFound(format!("user {username}")))
}

/// Fails with 409 when the change in `tx` left no enabled admin user. Only asked when the
/// user changed was one, so a site run by bearer tokens alone can still manage operators.
async fn ensure_an_admin(tx: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
    let (admins,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled")
            .fetch_one(&mut *tx)
            .await?;
    if admins == 0 {
        return Err(StoreError::Conflict(
            "this would leave no enabled admin user".into(),
        ));
    }
    Ok(())
}

/// Why a user could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Bad username or password (422).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// From the database (404, 409, 500).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed (500).
    #[error(transparent)]
    Hash(#[from] anyhow::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_that_could_pass_for_others_are_refused() {
        for ok in ["alice", "ops.lead-2", "j_smith@site", "张伟", "王小明.ops"] {
            assert!(check_username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "u-\u{0430}dmin",     // Cyrillic a
            "admin\u{202E}nimda", // right-to-left override
            "ad\u{200B}min",      // zero-width space
            "ad\u{00AD}min",      // soft hyphen
            "\u{FF41}dmin",       // fullwidth a
            "a b",
            "a:b",
            "a/b",
            "",
        ] {
            let err = check_username(bad).expect_err(bad);
            assert_eq!(err.field, "username", "{bad}");
        }
        assert!(check_username(&"x".repeat(65)).is_err());
    }
}
