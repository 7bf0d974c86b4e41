//! Console users and their login sessions.
//!
//! Passwords are chosen by people, so unlike the machine-made secrets in `secrets.rs` they
//! are stored with argon2 (slow on purpose). Hashing and checking run on a blocking thread
//! so a login never stalls the runtime. Session cookies are machine-made secrets again, so
//! only their SHA-256 is stored and every request checks them cheaply.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::Serialize;
use sqlx::FromRow;

use super::{hash_secret, new_secret, now_ms, one_row, Flag, Store, StoreError};
use crate::domain::{Invalid, Role};

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters a password may have (argon2 takes any length; this bounds the work).
const MAX_PASSWORD_CHARS: usize = 1024;
/// Session rows are re-dated at most this often, so reading pages does not write the
/// database on every request.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A console user as shown to admins (never with the hash).
#[derive(Debug, Clone, FromRow, Serialize, PartialEq, Eq)]
pub struct UserRow {
    /// Login name; unique.
    pub username: String,
    /// admin, operator or viewer.
    pub role: String,
    /// Unix ms.
    #[serde(serialize_with = "ser_ms")]
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

/// Checks a new password's length.
pub fn check_password(password: &str) -> Result<(), Invalid> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Invalid::new(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(Invalid::new(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Bounds the argon2 computations running at once. Each holds about 19 MiB and a CPU for
/// tens of milliseconds on a blocking thread; unbounded, a burst of 250 logins took the
/// process from 22 MB to 3.7 GB (security review, issue 12 finding 4). A check beyond the
/// bound is refused at once ([`StoreError::Busy`]) rather than queued, so a flood costs no
/// memory and an honest user retries a second later.
#[derive(Debug)]
pub struct PasswordChecks {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// The bound.
    limit: usize,
    /// Password verifications started.
    checked: std::sync::atomic::AtomicU64,
    /// Verifications refused because `limit` were running.
    busy: std::sync::atomic::AtomicU64,
}

impl PasswordChecks {
    /// At most `limit` at once; 0 = one per CPU core.
    pub fn new(limit: usize) -> PasswordChecks {
        let limit = if limit == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            limit
        };
        PasswordChecks {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(limit)),
            limit,
            checked: Default::default(),
            busy: Default::default(),
        }
    }

    /// The bound in force.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Password verifications started so far (for `/metrics`).
    pub fn checked(&self) -> u64 {
        self.checked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Verifications refused as busy so far (for `/metrics`).
    pub fn busy(&self) -> u64 {
        self.busy.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A permit to verify a password now, or `Busy`.
    fn try_verify(&self) -> Result<tokio::sync::OwnedSemaphorePermit, StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        match self.permits.clone().try_acquire_owned() {
            Ok(p) => {
                self.checked.fetch_add(1, Relaxed);
                Ok(p)
            }
            Err(_) => {
                self.busy.fetch_add(1, Relaxed);
                Err(StoreError::Busy(format!(
                    "{} password checks are running already",
                    self.limit
                )))
            }
        }
    }

    /// A permit to hash a new password: waited for, since only admins set passwords.
    async fn hash(&self) -> anyhow::Result<tokio::sync::OwnedSemaphorePermit> {
        Ok(self.permits.clone().acquire_owned().await?)
    }
}

impl Default for PasswordChecks {
    fn default() -> PasswordChecks {
        PasswordChecks::new(0)
    }
}

/// Argon2id hash of a password in PHC string form, computed on a blocking thread once one
/// of `checks`' permits is free.
pub async fn hash_password(checks: &PasswordChecks, password: &str) -> anyhow::Result<String> {
    let permit = checks.hash().await?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

/// Whether `password` matches a stored PHC hash, on a blocking thread; `Busy` when
/// `checks` has no permit free. A malformed hash never matches.
async fn verify_password(
    checks: &PasswordChecks,
    password: &str,
    stored: &str,
) -> Result<bool, StoreError> {
    let permit = checks.try_verify()?;
    let (password, stored) = (password.to_owned(), stored.to_owned());
    Ok(tokio::task::spawn_blocking(move || {
        let _permit = permit;
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false))
}

/// A valid argon2 hash of a password nobody knows, checked against when the username is
/// unknown so that a wrong username takes as long as a wrong password.
async fn dummy_hash(checks: &PasswordChecks) -> &'static str {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            hash_password(checks, &new_secret())
                .await
                .unwrap_or_else(|_| String::new())
        })
        .await
}

const USER_COLUMNS: &str = "username, role, created_at, disabled";

impl Store {
    /// Creates a user; 409 if the name is taken.
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<UserRow, UserError> {
        check_username(username)?;
        check_password(password)?;
        let hash = hash_password(&self.password_checks, password).await?;
        let row = UserRow {
            username: username.to_owned(),
            role: role.as_str().to_owned(),
            created_at: now_ms(),
            disabled: false,
        };
        sqlx::query(
            "INSERT INTO users (username, password_hash, role, created_at, disabled) VALUES ($1, $2, $3, $4, FALSE)",
        )
        .bind(&row.username)
        .bind(hash)
        .bind(&row.role)
        .bind(row.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::on_unique(e, || format!("user {username} already exists")))?;
        Ok(row)
    }

    /// All users, by name.
    pub async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// One user.
    pub async fn user(&self, username: &str) -> Result<UserRow, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {username}")))
    }

    /// Changes a user. A new password or disabling ends the user's sessions. Leaving no
    /// enabled admin is refused (409), so nobody can lock the admins out by mistake.
    pub async fn update_user(
        &self,
        username: &str,
        change: UserChange,
    ) -> Result<UserRow, UserError> {
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
    /// the password could not be checked now (see [`PasswordChecks`]).
    pub async fn check_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<SessionUser>, StoreError> {
        let row: Option<(String, String, Flag)> =
            sqlx::query_as("SELECT password_hash, role, disabled FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        let checks = &self.password_checks;
        let Some((hash, role, disabled)) = row else {
            verify_password(checks, password, dummy_hash(checks).await).await?;
            return Ok(None);
        };
        if !verify_password(checks, password, &hash).await? || disabled.0 {
            return Ok(None);
        }
        Ok(role.parse().ok().map(|role| SessionUser {
            username: username.to_owned(),
            role,
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
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT u.username, u.role, s.last_seen FROM sessions s JOIN users u ON u.username = s.username
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
        )
        .bind(&id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some((username, role, last_seen)) = row else {
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
        Ok(role.parse().ok().map(|role| SessionUser { username, role }))
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
