//! Console passwords: chosen by people, so unlike the machine-made secrets in `secrets.rs`
//! they are stored with argon2 (slow on purpose). Hashing and checking run on a blocking
//! thread, bounded by [`PasswordChecks`], so a login never stalls the runtime.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::{new_secret, StoreError};
use crate::domain::Invalid;

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters a password may have (argon2 takes any length; this bounds the work).
const MAX_PASSWORD_CHARS: usize = 1024;

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
pub(super) async fn verify_password(
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
pub(super) async fn dummy_hash(checks: &PasswordChecks) -> &'static str {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            hash_password(checks, &new_secret())
                .await
                .unwrap_or_else(|_| String::new())
        })
        .await
}
