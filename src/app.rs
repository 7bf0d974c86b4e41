//! Start-up, supervision and shutdown of `griddispatch serve`.
//!
//! Every long-running part (HTTP server, embedded broker, MQTT client, ingest, dispatcher,
//! and side tasks such as the demo, which `demo` starts on a [`Running`] instance) runs as a
//! task on one [`TaskTracker`] and watches one [`CancellationToken`]. When
//! any task ends, for whatever reason, the token fires and everything stops: a dispatcher
//! that silently lost its MQTT client would be worse than one that exits and is restarted.

mod audit;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::dispatch::Dispatcher;
use crate::dispatch::SnapshotRequests;
use crate::domain::report::GroupBy;
use crate::http::AppState;
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::mqtt::auth::StoreAuthenticator;
use crate::mqtt::broker::topic::TopicLimits;
use crate::mqtt::broker::{Broker, BrokerConfig};
use crate::mqtt::client::ClientConfig;
use crate::store::Store;
use crate::tls::{Alpn, ServerIdentity};
use crate::video::snapshots::SnapshotService;
use crate::views::SnapshotFiles;

/// The dispatcher's username on the embedded broker.
pub const DISPATCHER_MQTT_USER: &str = "griddispatch";

/// A started instance.
#[derive(Debug)]
pub struct Running {
    /// Where the HTTP API listens.
    pub http_addr: SocketAddr,
    /// Where the embedded broker listens, if it runs.
    pub mqtt_addr: Option<SocketAddr>,
    /// Where the embedded broker takes MQTT over WebSocket, if it does.
    pub mqtt_ws_addr: Option<SocketAddr>,
    /// Where the embedded broker takes MQTT over TLS (`mqtt.tls_listen`), if it does.
    pub mqtt_tls_addr: Option<SocketAddr>,
    /// Where the embedded broker takes MQTT over secure WebSocket (`mqtt.wss_listen`).
    pub mqtt_wss_addr: Option<SocketAddr>,
    /// Whether the HTTP listener speaks HTTPS (`http.tls_cert`).
    pub https: bool,
    /// The broker the dispatcher uses, as `mqtt://host:port`.
    pub mqtt_url: String,
    /// The database.
    pub store: Store,
    /// Fires to stop everything.
    pub cancel: CancellationToken,
    /// Every task.
    tracker: TaskTracker,
}

impl Running {
    /// Waits until something stops the instance (a signal, a failed task, `cancel`), then
    /// waits for every task to finish (at most 10 s).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.cancel.cancelled().await;
        self.tracker.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some tasks did not stop within 10 s");
        }
        self.store.close().await;
        Ok(())
    }

    /// Stops the instance and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.cancel.cancel();
        self.wait().await
    }
}

/// Runs `fut` on the tracker; when it ends, everything is told to stop.
fn supervise<F>(tracker: &TaskTracker, cancel: &CancellationToken, name: &'static str, fut: F)
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let cancel = cancel.clone();
    tracker.spawn(async move {
        match fut.await {
            Ok(()) if cancel.is_cancelled() => tracing::debug!(task = name, "stopped"),
            Ok(()) => tracing::error!(task = name, "task ended unexpectedly; shutting down"),
            Err(e) => tracing::error!(task = name, error = %format!("{e:#}"), "task failed; shutting down"),
        }
        cancel.cancel();
    });
}

/// Starts everything. Errors name the setting at fault.
pub async fn start(settings: &Settings) -> anyhow::Result<Running> {
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let metrics = Arc::new(Metrics::default());
    let store = Store::connect(
        settings.database.url.as_str(),
        settings.database.max_connections,
    )
    .await?
    .with_password_check_limit(settings.console.max_concurrent_password_checks);
    if settings.cluster.enabled {
        // Before anything starts: a replica on another broker session would lose messages.
        crate::cluster::check_client_id(settings.database.url.as_str(), &settings.mqtt.client_id)
            .await?;
    }

    // Every certificate is read before anything listens, so a bad file stops the start.
    let http_tls = match settings.http.tls.files() {
        Some((cert, key)) => Some(
            ServerIdentity::load(cert, key, "http.tls_cert", "http.tls_key")?
                .acceptor(Alpn::Http1, "http.tls_cert, http.tls_key")?,
        ),
        None => None,
    };
    let mqtt_identity = match settings.mqtt.tls.files() {
        Some((cert, key)) => Some(ServerIdentity::load(
            cert,
            key,
            "mqtt.tls_cert",
            "mqtt.tls_key",
        )?),
        None => None,
    };
    let superuser_password = crate::store::new_secret();
    let (mut mqtt_ws_addr, mut mqtt_tls_addr, mut mqtt_wss_addr) = (None, None, None);
    let (broker, mqtt_addr) = if let Some(listen) = settings.mqtt.listen {
        let limits = &settings.mqtt.limits;
        let config = BrokerConfig {
            max_packet_size: settings.mqtt.max_packet_size,
            topic_limits: TopicLimits {
                levels: limits.max_topic_levels,
                bytes: limits.max_topic_bytes,
            },
            max_filters_per_subscribe: limits.max_filters_per_subscribe,
            max_client_id_bytes: limits.max_client_id_bytes,
            max_retained_per_login: limits.max_retained_per_login,
            max_retained_bytes_per_login: limits.max_retained_bytes_per_login,
            max_sessions_per_login: limits.max_sessions_per_login,
            session_expiry: Duration::from_secs(limits.session_expiry_secs),
            max_messages_per_sec: limits.max_messages_per_sec,
            message_burst: limits.message_burst,
            max_queued_per_session: limits.max_queued_per_session,
            max_connections: limits.max_connections,
            max_connections_per_ip: limits.max_connections_per_ip,
            ..BrokerConfig::default()
        };
        let mut broker = Broker::bind(listen, config)
            .await
            .with_context(|| format!("mqtt.listen {listen}: cannot listen"))?;
        // Beside the database: one per data folder, so a restart (even after kill -9)
        // simply replaces the old socket file.
        let socket = settings.data_folder().join("dispatcher-mqtt.sock");
        broker.listen_unix(&socket).with_context(|| {
            format!(
                "cannot create the broker's local socket {}",
                socket.display()
            )
        })?;
        if let Some(ws_listen) = settings.mqtt.ws_listen {
            let ws = broker
                .listen_ws(ws_listen)
                .await
                .with_context(|| format!("mqtt.ws_listen {ws_listen}: cannot listen"))?;
            mqtt_ws_addr = Some(ws);
        }
        if let Some(identity) = &mqtt_identity {
            const WHAT: &str = "mqtt.tls_cert, mqtt.tls_key";
            if let Some(addr) = settings.mqtt.tls.tls_listen {
                let acceptor = identity.acceptor(Alpn::None, WHAT)?;
                let bound = broker
                    .listen_tls(addr, acceptor)
                    .await
                    .with_context(|| format!("mqtt.tls_listen {addr}: cannot listen"))?;
                mqtt_tls_addr = Some(bound);
            }
            if let Some(addr) = settings.mqtt.tls.wss_listen {
                let acceptor = identity.acceptor(Alpn::Http1, WHAT)?;
                let bound = broker
                    .listen_wss(addr, acceptor)
                    .await
                    .with_context(|| format!("mqtt.wss_listen {addr}: cannot listen"))?;
                mqtt_wss_addr = Some(bound);
            }
        }
        let addr = broker.local_addr();
        (Some((broker, socket)), Some(addr))
    } else {
        (None, None)
    };
    let client_cfg = if let Some(url) = &settings.mqtt.url {
        ClientConfig {
            host: url.host().to_owned(),
            port: url.port(),
            client_id: settings.mqtt.client_id.clone(),
            username: settings.mqtt.username.clone(),
            password: settings.mqtt.password.clone(),
            persistent_session: settings.mqtt.persistent_session,
            unix_socket: None,
            manual_acks: settings.mqtt.broker_redelivers(),
            tls_ca: match (&settings.mqtt.tls.ca_file, url.tls()) {
                (Some(ca), true) => Some(crate::tls::read_ca_pem(ca, "mqtt.ca_file")?),
                // Settings refuse mqtts:// without a CA file.
                _ => None,
            },
        }
    } else {
        let addr = mqtt_addr.context("mqtt.url: empty, and there is no embedded broker")?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            addr.ip().to_string()
        };
        ClientConfig {
            host,
            port: addr.port(),
            client_id: settings.mqtt.client_id.clone(),
            username: DISPATCHER_MQTT_USER.to_owned(),
            password: superuser_password.as_str().into(),
            persistent_session: settings.mqtt.persistent_session,
            unix_socket: broker.as_ref().map(|(_, socket)| socket.clone()),
            // Acknowledged once handled, so the embedded broker's in-flight window is what
            // bounds the messages inside this process: past capacity the broker holds the
            // rest, and makes their publishers wait, while this client keeps reading and
            // writing. Acknowledging on receipt let the backlog pile up here, where a full
            // queue stopped the client's one event loop, and with it the tasks going out.
            manual_acks: true,
            tls_ca: None,
        }
    };
    let mqtt_url = match &settings.mqtt.url {
        Some(url) => url.to_string(),
        None => crate::config::BrokerUrl::new(&client_cfg.host, client_cfg.port).to_string(),
    };

    let listener = tokio::net::TcpListener::bind(settings.http.listen)
        .await
        .with_context(|| format!("http.listen {}: cannot listen", settings.http.listen))?;
    let http_addr = listener.local_addr()?;

    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (snapshot_tx, snapshot_rx) = SnapshotRequests::channel(metrics.clone());
    let live = crate::live::Live::new(
        settings.live.buffer_events,
        settings.live.client_backlog,
        cancel.clone(),
    );
    let (dispatcher, commands) = Dispatcher::deferred();
    let snapshots =
        SnapshotService::new(settings, store.clone(), dispatcher.clone(), metrics.clone())?;

    let broker_stats = broker.as_ref().map(|(b, _)| b.stats());
    let audit_budget = Arc::new(crate::store::AuditBudget::default());
    let (audit_queue, audit_rx) = crate::store::AuditQueue::new();
    // Ends when the broker (its only sender) has stopped, so what it queued is written.
    tracker.spawn(crate::store::AuditQueue::run(store.clone(), audit_rx));
    if let Some((broker, _)) = broker {
        let auth = Arc::new(StoreAuthenticator {
            store: store.clone(),
            superuser: DISPATCHER_MQTT_USER.to_owned(),
            superuser_password,
            audit_budget: audit_budget.clone(),
            audit: audit_queue,
        });
        supervise(
            &tracker,
            &cancel,
            "mqtt broker",
            broker.run(auth, cancel.clone()),
        );
    }

    // Small: past capacity the backlog waits in the broker and at the sources, not here
    // (ingest::ALERTS_PENDING), and worker updates in this queue wait behind whatever is in it.
    let (in_tx, in_rx) = mpsc::channel(1024);
    let ingest = Ingest {
        dispatcher: dispatcher.clone(),
        store: store.clone(),
        metrics: metrics.clone(),
        max_dead_letter_bytes: settings.dead_letters.max_payload_bytes,
        dead_letter_bound: crate::ingest::DeadLetterBound::new(
            settings.dead_letters.max_rows,
            settings.dead_letters.max_age_days,
        ),
        known_sources: Default::default(),
        gb28181_tz: settings.video.gb28181_tz()?,
        alert_slots: Default::default(),
    };
    // What aged out while the service was down goes now; a flood prunes as it comes.
    ingest.prune_dead_letters().await;
    let mqtt_connected = Arc::new(AtomicBool::new(false));
    let dispatching = Dispatching {
        commands,
        dispatcher: dispatcher.clone(),
        store: store.clone(),
        settings: settings.clone(),
        out_tx,
        out_rx,
        in_tx,
        in_rx,
        snapshot_tx,
        snapshot_rx,
        snapshots,
        metrics: metrics.clone(),
        live: live.clone(),
        ingest: ingest.clone(),
        client_cfg,
        mqtt_connected: mqtt_connected.clone(),
    };
    let cluster = if settings.cluster.enabled {
        Some(start_replica(
            settings,
            http_addr,
            dispatching,
            live.clone(),
            &tracker,
            &cancel,
        )?)
    } else {
        dispatching.start(&tracker, &cancel).await?;
        None
    };

    // Points: lapsed reservations go back, expired lots go to the expiry account. Safe
    // on every replica: each step re-reads under the ledger lock.
    let points_store = store.clone();
    let points_cancel = cancel.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = points_cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            let now = crate::clock::now_ms();
            if let Err(e) = points_store.release_lapsed_holds(now).await {
                tracing::warn!(error = %e, "could not release lapsed points reservations");
            }
            match points_store.expire_points(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(points = n, "points expired"),
                Err(e) => tracing::warn!(error = %e, "could not expire points"),
            }
        }
    });

    keep_report_months(&tracker, &cancel, store.clone(), &settings.reports);
    audit::record_start(&store, settings).await;
    audit::keep_audit_log(
        &tracker,
        &cancel,
        store.clone(),
        settings.audit.clone(),
        metrics.clone(),
    );

    let mut logins = crate::http::auth::Logins::new(settings);
    // A cookie that came over HTTPS must never go back over plain HTTP.
    logins.secure_cookie |= http_tls.is_some();
    let https = http_tls.is_some();
    let basemap = crate::http::basemap::load(settings).await;
    let mut field = field_config(settings, https, mqtt_ws_addr, mqtt_wss_addr);
    field.basemap = basemap.is_some();
    let state = AppState {
        store: store.clone(),
        dispatcher,
        metrics,
        mqtt_connected,
        broker_stats,
        ingest,
        snapshot_files: SnapshotFiles::from_settings(settings),
        logins: Arc::new(logins),
        live,
        console: Arc::new(settings.console.clone()),
        reports: Arc::new(settings.reports.clone()),
        points: Arc::new(settings.points.clone()),
        field: Arc::new(field),
        basemap,
        camera_import_max_rows: settings.video.camera_import_max_rows,
        cluster,
        http_limits: Arc::new(settings.http.limits.clone()),
        field_reports: Arc::new(crate::http::FieldReportQuota::new(
            settings.field.max_reports_per_hour,
        )),
        trusted_proxies: Arc::new(settings.http.trusted_proxies.clone()),
        audit_budget,
    };
    let http_metrics = state.metrics.clone();
    let app = crate::http::router(state);
    let (http_cancel, http_limits) = (cancel.clone(), settings.http.limits.clone());
    supervise(&tracker, &cancel, "http", async move {
        crate::http::serve::serve(
            listener,
            app,
            &http_limits,
            http_tls,
            http_metrics,
            http_cancel,
        )
        .await
    });

    tracing::info!(http = %http_addr, https, mqtt = ?mqtt_addr, mqtt_ws = ?mqtt_ws_addr, mqtts = ?mqtt_tls_addr, mqtt_wss = ?mqtt_wss_addr, broker = %mqtt_url, "griddispatch running");
    Ok(Running {
        http_addr,
        mqtt_addr,
        mqtt_ws_addr,
        mqtt_tls_addr,
        mqtt_wss_addr,
        https,
        mqtt_url,
        store,
        cancel,
        tracker,
    })
}

/// What only the process that runs the engine starts: the engine itself, the dispatcher's
/// MQTT client (ingest in, tasks out), snapshots, ONVIF analytics and stream probes. A
/// single process starts it at once; a replica when it takes the lead.
struct Dispatching {
    /// The engine's commands (from [`Dispatcher::deferred`]).
    commands: crate::dispatch::Inbox,
    /// The handle the other parts send commands with.
    dispatcher: Dispatcher,
    /// The database.
    store: Store,
    /// The settings.
    settings: Settings,
    /// The engine's outgoing MQTT messages…
    out_tx: mpsc::UnboundedSender<crate::store::Outgoing>,
    /// …which the MQTT client sends.
    out_rx: mpsc::UnboundedReceiver<crate::store::Outgoing>,
    /// Incoming MQTT messages, from the client…
    in_tx: mpsc::Sender<crate::mqtt::client::Inbound>,
    /// …to the ingest adapters.
    in_rx: mpsc::Receiver<crate::mqtt::client::Inbound>,
    /// Snapshot requests, from the engine…
    snapshot_tx: SnapshotRequests,
    /// …to the snapshot service.
    snapshot_rx: mpsc::Receiver<crate::dispatch::SnapshotRequest>,
    /// Takes the pictures.
    snapshots: SnapshotService,
    /// Counters.
    metrics: Arc<Metrics>,
    /// The live feed.
    live: crate::live::Live,
    /// The ingest adapters.
    ingest: Ingest,
    /// The dispatcher's broker connection.
    client_cfg: ClientConfig,
    /// Whether that connection is up (for `/readyz`).
    mqtt_connected: Arc<AtomicBool>,
}

impl Dispatching {
    /// Loads the engine (before anything can change the database under it unseen: the
    /// commands queued meanwhile are handled after the load), then starts every part on
    /// `tracker`, each supervised.
    async fn start(self, tracker: &TaskTracker, cancel: &CancellationToken) -> anyhow::Result<()> {
        let settings = self.settings;
        let engine = Dispatcher::load_engine(
            self.commands,
            self.store.clone(),
            &settings,
            self.out_tx,
            self.metrics.clone(),
            self.snapshot_tx,
            std::sync::Arc::new(self.live),
            cancel.clone(),
        )
        .await?;
        supervise(tracker, cancel, "dispatcher", engine);
        supervise(
            tracker,
            cancel,
            "snapshots",
            self.snapshots.run(self.snapshot_rx, cancel.clone()),
        );
        supervise(
            tracker,
            cancel,
            "ingest",
            self.ingest.clone().run(self.in_rx, cancel.clone()),
        );
        let analytics = crate::video::analytics::OnvifAnalytics {
            store: self.store.clone(),
            ingest: self.ingest.clone(),
            metrics: self.metrics.clone(),
            max_sessions: settings.video.max_onvif_sessions,
            reconcile_every: Duration::from_secs(settings.video.onvif_reconcile_secs),
            cooldown: Duration::from_secs(settings.video.onvif_cooldown_secs),
        };
        supervise(
            tracker,
            cancel,
            "onvif analytics",
            analytics.run(cancel.clone()),
        );
        supervise(
            tracker,
            cancel,
            "mqtt client",
            crate::mqtt::client::run(
                self.client_cfg,
                self.dispatcher.clone(),
                crate::ingest::SUBSCRIPTIONS,
                self.in_tx,
                self.out_rx,
                self.mqtt_connected,
                self.store.clone(),
                self.metrics.clone(),
                cancel.clone(),
            ),
        );
        if settings.video.probe_interval_secs > 0 {
            let prober = crate::video::prober::Prober {
                store: self.store,
                dispatcher: self.dispatcher,
                metrics: self.metrics,
                interval: Duration::from_secs(settings.video.probe_interval_secs),
                timeout: Duration::from_secs(settings.video.probe_timeout_secs),
                max_concurrent: settings.video.max_concurrent_probes,
            };
            supervise(tracker, cancel, "camera prober", prober.run(cancel.clone()));
        }
        Ok(())
    }
}

/// A replica (`cluster.enabled`): follows the leader (its address, its live events) and
/// stands by for the lead; once it leads, it starts [`Dispatching`]. Losing the lead stops
/// the whole process, which its service manager restarts as a follower: a clean state
/// rather than an engine taken down piece by piece.
fn start_replica(
    settings: &Settings,
    http_addr: SocketAddr,
    dispatching: Dispatching,
    live: crate::live::Live,
    tracker: &TaskTracker,
    cancel: &CancellationToken,
) -> anyhow::Result<Arc<crate::http::forward::ClusterView>> {
    let url = settings.database.url.as_str().to_owned();
    // Replicas that serve https forward to each other over https (docs/deploy.md,
    // "Replicas"), trusting `cluster.ca_file`, or else the shared `http.tls_cert` file.
    let https = settings.http.tls.files().is_some();
    let roots = match (&settings.cluster.ca_file, &settings.http.tls.tls_cert) {
        (Some(ca), _) => Some(crate::tls::read_ca_pem(ca, "cluster.ca_file")?),
        (None, Some(cert)) => Some(crate::tls::read_ca_pem(cert, "http.tls_cert")?),
        (None, None) => None,
    };
    let view = Arc::new(match roots {
        Some(roots) => crate::http::forward::ClusterView::trusting(&roots)?,
        None => crate::http::forward::ClusterView::default(),
    });
    let me = crate::cluster::Replica {
        id: if settings.cluster.replica_id.is_empty() {
            format!("{}:{}", host_name(), http_addr.port())
        } else {
            settings.cluster.replica_id.clone()
        },
        http_url: match &settings.cluster.advertise_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("{}://{http_addr}", if https { "https" } else { "http" }),
        },
        mqtt_client_id: settings.mqtt.client_id.clone(),
    };
    supervise(
        tracker,
        cancel,
        "leader watch",
        crate::cluster::watch_leader(url.clone(), me.clone(), view.clone(), cancel.clone()),
    );
    supervise(
        tracker,
        cancel,
        "live relay in",
        crate::cluster::follow_live(url.clone(), me.clone(), live.clone(), cancel.clone()),
    );
    let (task_tracker, task_cancel, task_view) = (tracker.clone(), cancel.clone(), view.clone());
    supervise(tracker, cancel, "leader election", async move {
        let Some(lead) = crate::cluster::acquire(&url, &me, &task_cancel).await? else {
            return Ok(());
        };
        let (relay_tx, relay_rx) = mpsc::unbounded_channel();
        live.relay_to(relay_tx);
        supervise(
            &task_tracker,
            &task_cancel,
            "live relay out",
            crate::cluster::relay_live(url, me, relay_rx, task_cancel.clone()),
        );
        // Every engine commit from here on carries this lead's epoch.
        dispatching.store.fence(lead.epoch);
        dispatching.start(&task_tracker, &task_cancel).await?;
        // Only now does this replica take requests for the engine instead of forwarding
        // them: the engine has loaded everything the previous leader committed.
        task_view.set_leading(true);
        lead.lost.cancelled().await;
        if task_cancel.is_cancelled() {
            return Ok(());
        }
        anyhow::bail!("lost the lead (the leader lock's database connection failed)")
    });
    Ok(view)
}

/// This machine's name, for the default replica id (and the `serve --https` certificate).
pub fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "replica".to_owned())
}

/// Fires `cancel` on Ctrl-C or SIGTERM.
pub fn stop_on_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        cancel.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("stopping");
        cancel.cancel();
    });
}

impl Running {
    /// Runs a helper task (demo, simulator) on this instance's tracker. Unlike the core
    /// tasks, its failure is logged but does not stop the dispatcher.
    pub fn spawn_side_task<F>(&self, name: &'static str, fut: F)
    where
        F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tracker.spawn(async move {
            if let Err(e) = fut.await {
                tracing::error!(task = name, error = %format!("{e:#}"), "side task failed");
            }
        });
    }
}

/// Keeps the summaries of the last `reports.keep_months` ended months in every grouping
/// fresh (`Store::keep_report_months`), every `reports.keep_every_secs` (the
/// first time that long after the start, at most a minute): a year's report then reads them instead of every incident, and a
/// month an old incident changed in is read again here rather than on a leader's click.
/// Safe on every replica: a summary is checked against its incidents before it is used.
fn keep_report_months(
    tracker: &TaskTracker,
    cancel: &CancellationToken,
    store: Store,
    reports: &crate::config::ReportSettings,
) {
    if reports.keep_months == 0 {
        return;
    }
    let (months, every) = (reports.keep_months, reports.keep_every_secs);
    let offset_ms = i64::from(reports.utc_offset.local_minus_utc()) * 1000;
    let cancel = cancel.clone();
    tracker.spawn(async move {
        let start = tokio::time::Instant::now() + Duration::from_secs(every.min(60));
        let mut tick = tokio::time::interval_at(start, Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            for group_by in GroupBy::ALL {
                let now = crate::clock::now_ms();
                if let Err(e) = store
                    .keep_report_months(group_by, offset_ms, now, months)
                    .await
                {
                    tracing::warn!(error = %e, group_by = group_by.as_str(), "could not keep the report months fresh");
                }
            }
        }
    });
}

/// What the field app is told about the broker's WebSocket. A page served over HTTPS may
/// only open `wss:`, so with `http.tls_cert` the app is pointed at the WSS listener, and a
/// derived `ws://` address (from a listen address) becomes `wss://`. (Kept here rather than
/// in `http::field` while that file is being rewritten; it belongs there.)
fn field_config(
    settings: &Settings,
    https: bool,
    ws: Option<SocketAddr>,
    wss: Option<SocketAddr>,
) -> crate::http::field::FieldConfig {
    if !https || wss.is_none() {
        return crate::http::field::FieldConfig::new(settings, ws);
    }
    let mut field = crate::http::field::FieldConfig::new(settings, wss);
    if settings.field.mqtt_ws_url.is_none() {
        if let Some(url) = &mut field.mqtt_ws_url {
            if let Some(rest) = url.strip_prefix("ws://") {
                *url = format!("wss://{rest}");
            }
        }
    }
    field
}
