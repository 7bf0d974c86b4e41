//! Machine-generated secrets (API tokens, MQTT passwords) and how they are stored.
//!
//! These secrets are 160 random bits chosen by us, not passwords chosen by people, so a
//! single SHA-256 is as strong as a slow hash against guessing, and it keeps MQTT CONNECT
//! and every API request cheap (thousands of phones reconnect at once after a cell outage).
//! People's passwords (console logins) use argon2 instead.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

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
}
