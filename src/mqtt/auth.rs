//! Who may connect to the embedded broker: the dispatcher itself (a superuser whose
//! password is made fresh at every start and never stored), and the responders and sources
//! whose logins live in the database.

use futures::future::BoxFuture;
use futures::FutureExt;

use super::broker::{Authenticator, Principal};
use crate::store::{AccountOwner, AuditBudget, AuditQueue, NewAuditEntry, Store};

/// Checks MQTT logins against the store.
#[derive(Debug, Clone)]
pub struct StoreAuthenticator {
    /// Logins of responders and sources.
    pub store: Store,
    /// The dispatcher's own username.
    pub superuser: String,
    /// The dispatcher's own password for this run.
    pub superuser_password: String,
    /// Bounds the audit log's entries for refused logins (shared with the API's).
    pub audit_budget: std::sync::Arc<AuditBudget>,
    /// Where refused logins are written from, in batches.
    pub audit: AuditQueue,
}

/// The IP address in a peer as the broker names it (`ws:1.2.3.4:5678`).
fn peer_ip(peer: &str) -> Option<String> {
    let mut rest = peer;
    while let Some(r) = ["tls:", "ws:"].iter().find_map(|p| rest.strip_prefix(p)) {
        rest = r;
    }
    rest.parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.ip().to_string())
}

impl Authenticator for StoreAuthenticator {
    fn authenticate(
        &self,
        _client_id: &str,
        username: &str,
        password: &str,
    ) -> BoxFuture<'static, Option<Principal>> {
        if username == self.superuser {
            let ok = crate::store::verify_secret(
                password,
                &crate::store::hash_secret(&self.superuser_password),
            );
            let principal = ok.then(|| Principal::Superuser(username.to_owned()));
            return async move { principal }.boxed();
        }
        let store = self.store.clone();
        let (username, password) = (username.to_owned(), password.to_owned());
        async move {
            match store.check_mqtt_login(&username, &password).await {
                Ok(Some(AccountOwner::Responder(id))) => Some(Principal::Responder(id)),
                Ok(Some(AccountOwner::Source(id))) => Some(Principal::Source(id)),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(error = %e, "MQTT login check failed");
                    None
                }
            }
        }
        .boxed()
    }

    fn refused(&self, peer: &str, client_id: &str, username: &str) {
        let (admit, suppressed) = self.audit_budget.take();
        let entry = admit.then(|| NewAuditEntry {
            at: crate::clock::now_ms(),
            actor: format!(
                "anonymous:{}",
                username.chars().take(200).collect::<String>()
            ),
            address: peer_ip(peer),
            action: "mqtt.login_failed".into(),
            target_kind: Some("mqtt".into()),
            detail: Some(
                serde_json::json!({ "client_id": client_id.chars().take(200).collect::<String>() })
                    .to_string(),
            ),
            ..NewAuditEntry::default()
        });
        for e in suppressed.into_iter().chain(entry) {
            if !self.audit.push(e) {
                tracing::warn!("audit log queue full: a refused MQTT login was not written");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_address_is_read_from_every_kind_of_peer() {
        assert_eq!(super::peer_ip("10.1.2.3:5000").as_deref(), Some("10.1.2.3"));
        assert_eq!(super::peer_ip("tls:ws:[::1]:80").as_deref(), Some("::1"));
        assert_eq!(super::peer_ip("unix"), None);
    }
}
