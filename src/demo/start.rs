//! Starting the demo on a running instance (`griddispatch serve --demo`): console users,
//! an admin token, and the driver that keeps the county alive.

use anyhow::Context;

use crate::app::Running;
use crate::config::Settings;
use crate::store::Store;

/// Loads the demo county into a running instance and drives it until the instance stops.
/// A month of finished cases is written once the county is in (once per database), so
/// that the reports and the volunteers' points have something real to show.
pub async fn start(running: &Running, settings: &Settings) -> anyhow::Result<()> {
    let token = running
        .store
        .create_token("demo", crate::domain::Role::Admin)
        .await?;
    // The simulated workers use the local address; over HTTPS (`serve --https`,
    // `http.tls_cert`) the API client trusts the certificates of `http.tls_cert`'s file,
    // which for `--https` holds the local CA, rather than turning verification off.
    let mut console = running.http_addr;
    if console.ip().is_unspecified() {
        console.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let scheme = if running.https { "https" } else { "http" };
    let url = format!("{scheme}://{console}");
    let trust = match (&settings.http.tls.tls_cert, running.https) {
        (Some(cert), true) => {
            Some(std::fs::read(cert).with_context(|| format!("http.tls_cert {}", cert.display()))?)
        }
        _ => None,
    };
    let api = crate::sim::api::ApiClient::trusting(&url, &token, trust.as_deref())?;
    tracing::info!(
        api = %url,
        mqtt = %running.mqtt_url,
        "demo: loading the Wuda county (乌达区) and starting simulated workers; try `curl -H 'Authorization: Bearer {token}' {url}/api/v1/incidents`{}",
        if running.https { " (with --cacert, or -k)" } else { "" }
    );
    // Console logins: new random passwords at every start, since the demo database is
    // kept between runs and nobody should have to remember the last ones.
    for (username, role) in [
        ("operator", crate::domain::Role::Operator),
        ("admin", crate::domain::Role::Admin),
    ] {
        let password = demo_user(&running.store, username, role).await?;
        tracing::info!("console: {url}/  login: {username} / {password}");
    }
    // The merchant page's login, for one 喜邻 station: the merchants are registered first
    // (the driver below finds them there), then it gets a fresh password like the users.
    super::merchants::load(&api)
        .await
        .context("loading the 喜邻 merchants")?;
    let username = format!("merchant.{}", super::DEMO_MERCHANT);
    let password: String = crate::store::new_secret().chars().take(12).collect();
    let change = crate::store::UserChange {
        password: Some(password.clone()),
        ..Default::default()
    };
    running
        .store
        .update_user(&username, change)
        .await
        .with_context(|| format!("demo merchant user {username}"))?;
    tracing::info!("merchant page: {url}/merchant  login: {username} / {password}");
    tracing::info!("API reference: {url}/api/docs  (OpenAPI 3.1: /api/v1/openapi.json)");
    let mqtt_url = running.mqtt_url.clone();
    let cancel = running.cancel.clone();
    let store = running.store.clone();
    let settings = settings.clone();
    let history = Box::pin(async move { seed(&store, &settings, crate::clock::now_ms()).await });
    running.spawn_side_task("demo", async move {
        super::run(api, &mqtt_url, cancel, history).await
    });
    Ok(())
}

/// What the demo writes once the county is in (once per database; a restart finds it):
/// the month of finished cases before `now`, whose closes earn the volunteers' points, then
/// the volunteers' redemptions at 喜邻 shops.
pub async fn seed(store: &Store, settings: &Settings, now: i64) -> anyhow::Result<()> {
    let county = super::county();
    let earning = std::sync::Arc::new(crate::store::points::EarnSettings {
        points: settings.points.clone(),
        utc_offset: settings.reports.utc_offset,
    });
    let written = super::history::seed(store, &county, &settings.deadlines, earning, now)
        .await
        .context("writing the demo's month of history")?;
    if written > 0 {
        tracing::info!(
            incidents = written,
            "demo: a month of finished cases written for the reports and the volunteers' points"
        );
    }
    let valid_ms = i64::try_from(settings.points.code_valid_secs).unwrap_or(300) * 1000;
    let spent = super::redemptions::seed(store, valid_ms, now)
        .await
        .context("the demo volunteers' redemptions")?;
    if spent > 0 {
        tracing::info!(
            redemptions = spent,
            "demo: volunteers redeemed points at 喜邻 shops (the last code still waiting at the counter)"
        );
    }
    Ok(())
}

/// Creates the demo console user `username`, or gives the existing one `role` and a new
/// password (enabled); returns the password.
pub async fn demo_user(
    store: &Store,
    username: &str,
    role: crate::domain::Role,
) -> anyhow::Result<String> {
    let password: String = crate::store::new_secret().chars().take(12).collect();
    match store.create_user(username, &password, role).await {
        Ok(_) => {}
        Err(crate::store::UserError::Store(crate::store::StoreError::Conflict(_))) => {
            let change = crate::store::UserChange {
                role: Some(role),
                password: Some(password.clone()),
                disabled: Some(false),
            };
            store
                .update_user(username, change)
                .await
                .with_context(|| format!("demo user {username}"))?;
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("demo user {username}"))),
    }
    Ok(password)
}
