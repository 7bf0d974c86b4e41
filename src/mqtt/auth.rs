//! Who may connect to the embedded broker: the dispatcher itself (a superuser whose
//! password is made fresh at every start and never stored), and the responders and sources
//! whose logins live in the database.

use futures::future::BoxFuture;
use futures::FutureExt;

use super::broker::{Authenticator, Principal};
use crate::store::{AccountOwner, Store};

/// Checks MQTT logins against the store.
#[derive(Debug, Clone)]
pub struct StoreAuthenticator {
    /// Logins of responders and sources.
    pub store: Store,
    /// The dispatcher's own username.
    pub superuser: String,
    /// The dispatcher's own password for this run.
    pub superuser_password: String,
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
}
