//! Machine-generated secrets (API tokens, MQTT passwords) and how they are stored.
//!
//! These secrets are 160 random bits chosen by us, not passwords chosen by people, so a
//! single SHA-256 is as strong as a slow hash against guessing, and it keeps MQTT CONNECT
//! and every API request cheap (thousands of phones reconnect at once after a cell outage).
//! People's passwords (console logins) use argon2 instead.
//!
//! MQTT passwords are also kept in Mosquitto's own format ([`mosquitto_hash`]) so that
//! `griddispatch mqtt export-auth` can write a password file for an external broker
//! without ever storing the password itself.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

/// PBKDF2 rounds in a Mosquitto hash: what `mosquitto_passwd` writes by default, so our
/// lines look like its own. The secrets are random (160 bits), so more rounds would add
/// cost to every broker login without adding strength.
pub const MOSQUITTO_ITERATIONS: u32 = 101;

/// Salt length of a Mosquitto hash, bytes (as `mosquitto_passwd`).
const MOSQUITTO_SALT_LEN: usize = 12;

/// A new random secret, URL-safe base64 (27 characters).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How a secret is stored: `sha256$<hex>`.
pub fn hash_secret(secret: &str) -> String {
    format!("sha256${}", hex::encode(Sha256::digest(secret.as_bytes())))
}

/// A secret hashed as Mosquitto's password file stores it (`mosquitto_passwd -H
/// sha512-pbkdf2`, the only hash Mosquitto 2.0 reads besides plain SHA-512):
/// `$7$<rounds>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>`, standard base64 with padding,
/// a fresh random salt each time.
pub fn mosquitto_hash(secret: &str) -> String {
    let mut salt = [0u8; MOSQUITTO_SALT_LEN];
    rand::thread_rng().fill_bytes(&mut salt);
    mosquitto_hash_with_salt(secret, &salt, MOSQUITTO_ITERATIONS)
}

fn mosquitto_hash_with_salt(secret: &str, salt: &[u8], rounds: u32) -> String {
    // One SHA-512 block: the derived key is exactly one digest long.
    let mut key = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(secret.as_bytes(), salt, rounds, &mut key);
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("$7${rounds}${}${}", b64.encode(salt), b64.encode(key))
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn verify_secret(secret: &str, stored: &str) -> bool {
    let candidate = hash_secret(secret);
    candidate.len() == stored.len()
        && candidate
            .bytes()
            .zip(stored.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_verify() {
        let a = new_secret();
        assert_ne!(a, new_secret());
        assert!(verify_secret(&a, &hash_secret(&a)));
        assert!(!verify_secret("nope", &hash_secret(&a)));
    }

    #[test]
    fn mosquitto_hash_matches_mosquitto_passwd() {
        // A line written by `mosquitto_passwd -b file alice secret` (Mosquitto 2.0.11).
        let salt = base64::engine::general_purpose::STANDARD
            .decode("cEZoa7PiI/wrUPVi")
            .unwrap();
        assert_eq!(
            mosquitto_hash_with_salt("secret", &salt, 101),
            "$7$101$cEZoa7PiI/wrUPVi$i0EyCxxkQuBL1bViIMJJSXXGIn51PkqM1mX7SyOtjEkH7n23pXW48Be59SFfXiMSRvWI/cPXkvNm52raC9mBFg=="
        );
        let fresh = mosquitto_hash("secret");
        assert!(fresh.starts_with("$7$101$"), "{fresh}");
        assert_ne!(fresh, mosquitto_hash("secret"), "salt is random");
    }
}
