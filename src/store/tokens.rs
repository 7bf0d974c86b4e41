//! API tokens: bearer tokens for integrations, each with a role. Only their hash is kept.

use super::rows::name;
use super::secrets::{hash_secret, new_secret};
use super::{now_ms, Store, StoreError};
use crate::domain::Role;

impl Store {
    /// Creates an API token; returns the token, which is not stored.
    pub async fn create_token(&self, name: &str, role: Role) -> Result<String, StoreError> {
        let token = format!("gd_{}", new_secret());
        sqlx::query("INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(name)
            .bind(role.as_str())
            .bind(hash_secret(&token))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// The name and role behind a token.
    pub async fn token_role(&self, token: &str) -> Result<Option<(String, Role)>, StoreError> {
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT id, name, role FROM api_tokens WHERE token_hash = $1")
                .bind(hash_secret(token))
                .fetch_optional(&self.pool)
                .await?;
        let Some((id, token_name, role)) = row else {
            return Ok(None);
        };
        Ok(Some((token_name, name(role, "api_tokens", &id, "role")?)))
    }
}
