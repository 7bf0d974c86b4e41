//! Layered configuration: the shipped defaults (`config/default.toml`, embedded in the
//! binary so it runs from any folder), then an optional file given with `--config`, then
//! environment variables `GRIDDISPATCH__SECTION__KEY`.
//!
//! Every value is checked once here, so the rest of the program can trust it; a bad value
//! becomes one error line that names the setting. Addresses, URLs and passwords are held
//! typed (`values`), so no other module parses a setting again. This module sits just above
//! `domain` and imports nothing higher: `store` takes its [`Backend`] from here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::closed_loop::VerificationMode;
use crate::domain::report::{GradeThresholds, ScoreWeights};
use crate::domain::{ResponderKind, TravelMode};

mod audit;
mod console;
mod limits;
mod points;
mod telemetry;
mod tls;
mod values;
pub use audit::AuditSettings;
pub use console::{ConsoleSettings, TargetSettings, TileSettings};
pub use limits::{HttpLimits, MqttLimits};
pub use points::PointsSettings;
pub use telemetry::TelemetrySettings;
pub use tls::{HttpTls, MqttTls};
pub use values::{Backend, BaseUrl, BrokerUrl, DatabaseUrl};

/// The defaults, identical to `config/default.toml`.
const DEFAULTS: &str = include_str!("../config/default.toml");

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// The HTTP API.
    pub http: HttpSettings,
    /// Where everything is stored.
    pub database: DatabaseSettings,
    /// The embedded broker and the dispatcher's MQTT connection.
    pub mqtt: MqttSettings,
    /// Offer, ranking and escalation rules.
    pub dispatch: DispatchSettings,
    /// When alerts join an existing incident.
    pub correlation: CorrelationSettings,
    /// How long an incident may take, from opening to closing (处置时限).
    pub deadlines: DeadlineSettings,
    /// Who checks a resolution before the incident closes (核查结案).
    pub verification: VerificationSettings,
    /// The store of messages that could not be understood.
    pub dead_letters: DeadLetterSettings,
    /// The live feed (`/api/v1/live`).
    pub live: LiveSettings,
    /// Video platforms and cameras.
    pub video: VideoSettings,
    /// The Frigate NVR whose events come in on `frigate/events`.
    pub frigate: FrigateSettings,
    /// The web console.
    pub console: ConsoleSettings,
    /// The field worker app.
    pub field: FieldSettings,
    /// Several `serve` replicas on one PostgreSQL database and one external broker.
    pub cluster: ClusterSettings,
    /// Evaluation reports.
    pub reports: ReportSettings,
    /// Volunteer points (志愿服务积分).
    pub points: PointsSettings,
    /// The audit log.
    pub audit: AuditSettings,
    /// Export of the tracing spans to an OpenTelemetry collector (off by default).
    pub telemetry: TelemetrySettings,
}

/// `[reports]`
#[derive(Debug, Clone, Deserialize)]
pub struct ReportSettings {
    /// The calendar's UTC offset (`+08:00`): days in `from`/`to` and `group_by=day`.
    #[serde(deserialize_with = "values::utc_offset")]
    pub utc_offset: chrono::FixedOffset,
    /// Longest period of one report, days.
    pub max_days: u32,
    /// Ended calendar months whose summaries (in every grouping) are kept fresh in the
    /// background; 0 = none (each is then kept when a report first reads it).
    pub keep_months: u32,
    /// How often those summaries are checked, seconds.
    pub keep_every_secs: u64,
    /// `[reports.score]`: the composite score's weights.
    pub score: ScoreWeights,
    /// `[reports.grades]`: the lowest score of each grade.
    pub grades: GradeThresholds,
}

/// `[cluster]`
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterSettings {
    /// Run as one of several replicas: one leads (runs the engine), the others serve the
    /// API and take over when it dies. Needs PostgreSQL and an external broker.
    pub enabled: bool,
    /// This replica's name in logs, metrics and `cluster_leader`; empty = host name and
    /// HTTP port.
    pub replica_id: String,
    /// Where the other replicas reach this one's HTTP API (`http://10.0.0.5:8080`); `""` =
    /// `http.listen`, which must then not be a wildcard address.
    #[serde(deserialize_with = "values::optional_http_url")]
    pub advertise_url: Option<BaseUrl>,
    /// PEM file of the CA(s) a replica trusts when it forwards to another over https; `""`
    /// = the certificates in `http.tls_cert`'s file (replicas that share one certificate
    /// chain trust each other with it).
    #[serde(deserialize_with = "values::optional_path")]
    pub ca_file: Option<PathBuf>,
}

/// `[field]`
#[derive(Debug, Clone, Deserialize)]
pub struct FieldSettings {
    /// Seconds between position reports the field app sends while on duty; at least 5, so
    /// a crowd of phones cannot flood the broker.
    pub location_interval_secs: u64,
    /// The broker's WebSocket URL as phones reach it (`ws://` or `wss://`), for a broker
    /// published by a reverse proxy; `""` = derived (see `FieldConfig`).
    #[serde(deserialize_with = "values::optional_ws_url")]
    pub mqtt_ws_url: Option<BaseUrl>,
    /// Field reports one login may send in an hour; more are answered 429.
    pub max_reports_per_hour: u32,
}

/// `[http]`
#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    /// Address the API listens on.
    #[serde(deserialize_with = "values::socket_addr")]
    pub listen: SocketAddr,
    /// Address (`https://host[:port][/prefix]`) at which phones reach this API, put before
    /// links such as snapshot URLs in task messages; `""` = links are paths alone.
    #[serde(deserialize_with = "values::optional_http_url")]
    pub public_url: Option<BaseUrl>,
    /// What one client or request may take from the HTTP listener.
    pub limits: HttpLimits,
    /// `tls_cert`, `tls_key`: HTTPS instead of HTTP.
    #[serde(flatten)]
    pub tls: HttpTls,
    /// Reverse proxies whose `X-Forwarded-For` names the client (login limits, the audit
    /// log); a request from anywhere else is from its peer address.
    #[serde(deserialize_with = "values::ip_nets")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// sqlx URL: `sqlite://data/griddispatch.db` or `postgres://user@host[:port]/db`.
    pub url: DatabaseUrl,
    /// Folder for the files kept beside the database (snapshots, the dispatcher's socket);
    /// `""` = the SQLite file's folder, or `data` with PostgreSQL.
    #[serde(deserialize_with = "values::optional_path")]
    pub data_dir: Option<PathBuf>,
    /// Upper bound on pooled connections.
    pub max_connections: u32,
}

/// `[mqtt]`
#[derive(Debug, Clone, Deserialize)]
pub struct MqttSettings {
    /// Embedded broker address; `""` = none.
    #[serde(deserialize_with = "values::optional_socket_addr")]
    pub listen: Option<SocketAddr>,
    /// Broker the dispatcher uses; `""` = the embedded one.
    #[serde(deserialize_with = "values::optional_broker_url")]
    pub url: Option<BrokerUrl>,
    /// Username for an external broker.
    pub username: String,
    /// Password for an external broker; a secret, so that `Debug` never shows it.
    pub password: SecretString,
    /// The dispatcher's MQTT client id.
    pub client_id: String,
    /// Keep the dispatcher's session (and what the broker queued for it) across reconnects.
    pub persistent_session: bool,
    /// Largest packet the embedded broker accepts, bytes.
    pub max_packet_size: usize,
    /// Address of the embedded broker's MQTT-over-WebSocket listener (browsers: the field
    /// app); `""` = none.
    #[serde(deserialize_with = "values::optional_socket_addr")]
    pub ws_listen: Option<SocketAddr>,
    /// What one client or login may take from the embedded broker.
    pub limits: MqttLimits,
    /// `tls_listen`, `wss_listen`, `tls_cert`, `tls_key`, `ca_file`.
    #[serde(flatten)]
    pub tls: MqttTls,
}

impl MqttSettings {
    /// Whether the broker sends again what the dispatcher has not acknowledged: an external
    /// broker (it outlives this process) with a kept session (it remembers what is owed).
    /// Then messages are acknowledged only once their effects are stored, and those of a
    /// batch the database refused come again (`mqtt::acks`).
    pub fn broker_redelivers(&self) -> bool {
        self.url.is_some() && self.persistent_session
    }

    /// Whether a password for the external broker is set.
    pub fn has_password(&self) -> bool {
        !self.password.expose_secret().is_empty()
    }
}

/// `[dispatch]`
#[derive(Debug, Clone, Deserialize)]
pub struct DispatchSettings {
    /// Seconds to accept an offer.
    pub ack_timeout_secs: u64,
    /// Offers per incident before escalation.
    pub max_offers: u32,
    /// Oldest usable location fix, seconds.
    pub location_max_age_secs: u64,
    /// Advantage an outsider needs over a zone's own worker, seconds.
    pub zone_preference_secs: f64,
    /// Road distance / great-circle distance.
    pub detour_factor: f64,
    /// With roads imported: how many straight-line candidates get a road travel time and
    /// are ranked again by it.
    pub road_candidates: usize,
    /// With roads imported: a point farther than this from the roads, metres, falls back
    /// to the straight line.
    pub road_snap_m: f64,
    /// Incidents of this severity or more urgent get two offers at once.
    pub double_offer_max_severity: u8,
    /// Speed of each travel mode, km/h.
    pub speed_kmh: SpeedSettings,
    /// Responder kinds allowed per incident kind; key `default` for the rest.
    pub allowed_kinds: BTreeMap<String, Vec<ResponderKind>>,
}

/// `[dispatch.speed_kmh]`
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct SpeedSettings {
    /// Walking speed, km/h.
    pub foot: f64,
    /// Cycling speed, km/h.
    pub bike: f64,
    /// Driving speed, km/h.
    pub car: f64,
}

impl SpeedSettings {
    /// Speed of a travel mode in metres per second.
    pub fn metres_per_sec(&self, mode: TravelMode) -> f64 {
        let kmh = match mode {
            TravelMode::Foot => self.foot,
            TravelMode::Bike => self.bike,
            TravelMode::Car => self.car,
        };
        kmh / 3.6
    }
}

impl DispatchSettings {
    /// Responder kinds that may take an incident of `incident_kind`.
    pub fn allowed_for(&self, incident_kind: &str) -> &[ResponderKind] {
        self.allowed_kinds
            .get(incident_kind)
            .or_else(|| self.allowed_kinds.get("default"))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// `[verification]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationSettings {
    /// For incident kinds not listed in `kinds`.
    pub default: VerificationMode,
    /// Per incident kind (exact kind names).
    #[serde(default)]
    pub kinds: BTreeMap<String, VerificationMode>,
}

impl VerificationSettings {
    /// How a resolution of an incident of `kind` is verified.
    pub fn mode_for(&self, kind: &str) -> VerificationMode {
        self.kinds.get(kind).copied().unwrap_or(self.default)
    }
}

/// `[correlation]`
#[derive(Debug, Clone, Deserialize)]
pub struct CorrelationSettings {
    /// Metres.
    pub radius_m: f64,
    /// Seconds.
    pub window_secs: u64,
}

/// `[deadlines]`: how long an incident may stay open (处置时限), from its opening until it
/// is closed or cancelled: by severity, overridden per incident kind.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeadlineSettings {
    /// Severity 1 (most urgent), seconds.
    pub sev1_secs: u64,
    /// Severity 2, seconds.
    pub sev2_secs: u64,
    /// Severity 3, seconds.
    pub sev3_secs: u64,
    /// Severity 4 (least urgent), seconds.
    pub sev4_secs: u64,
    /// Incident kind → seconds, whatever the severity (`[deadlines.kinds]`).
    #[serde(default)]
    pub kinds: BTreeMap<String, u64>,
}

impl DeadlineSettings {
    /// Longest deadline accepted: a year. Longer is no deadline, and the bound keeps
    /// `created_at + deadline` far from overflowing.
    pub const MAX_SECS: u64 = 366 * 24 * 3600;

    /// Seconds an incident of `kind` and `severity` (1 most urgent … 4) may stay open: the
    /// kind's own deadline if it has one, else its severity's (below 1 counts as 1, above
    /// 4 as 4).
    pub fn secs_for(&self, kind: &str, severity: i64) -> u64 {
        if let Some(&secs) = self.kinds.get(kind) {
            return secs;
        }
        match severity {
            i64::MIN..=1 => self.sev1_secs,
            2 => self.sev2_secs,
            3 => self.sev3_secs,
            _ => self.sev4_secs,
        }
    }

    /// When an incident of `kind` and `severity` opened at `created_at` (Unix ms) is due.
    pub fn due_at(&self, kind: &str, severity: i64, created_at: i64) -> i64 {
        let ms =
            i64::try_from(self.secs_for(kind, severity).saturating_mul(1000)).unwrap_or(i64::MAX);
        created_at.saturating_add(ms)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let range = |key: String, v: u64| {
            if (1..=Self::MAX_SECS).contains(&v) {
                Ok(())
            } else {
                Err(ConfigError(format!(
                    "{key}: must be 1 to {} seconds (a year), is {v}",
                    Self::MAX_SECS
                )))
            }
        };
        for (key, v) in [
            ("sev1_secs", self.sev1_secs),
            ("sev2_secs", self.sev2_secs),
            ("sev3_secs", self.sev3_secs),
            ("sev4_secs", self.sev4_secs),
        ] {
            range(format!("deadlines.{key}"), v)?;
        }
        for (kind, &v) in &self.kinds {
            let key = format!("deadlines.kinds.{kind}");
            if crate::domain::alert::parse_kind(kind).is_err() {
                return Err(ConfigError(format!(
                    "{key}: not an incident kind (1 to 32 of a-z, 0-9, _)"
                )));
            }
            range(key, v)?;
        }
        Ok(())
    }
}

/// `[dead_letters]`
#[derive(Debug, Clone, Deserialize)]
pub struct DeadLetterSettings {
    /// Bytes of a payload kept.
    pub max_payload_bytes: usize,
    /// Dead letters kept at most; older ones are deleted first. At least 1.
    pub max_rows: u64,
    /// Days a dead letter is kept. At least 1.
    pub max_age_days: u64,
}

/// `[live]`
#[derive(Debug, Clone, Deserialize)]
pub struct LiveSettings {
    /// Events kept in memory for clients that reconnect with `since`.
    pub buffer_events: usize,
    /// Events a connected client may fall behind before it is disconnected.
    pub client_backlog: usize,
}

/// `[video]`
#[derive(Debug, Clone, Deserialize)]
pub struct VideoSettings {
    /// IANA time zone in which GB/T 28181 `AlarmTime` values (local time without a zone)
    /// are read, e.g. `Asia/Shanghai`.
    pub gb28181_timezone: String,
    /// Seconds a camera must stay offline (as Frigate or a stream probe reports it) before
    /// the dispatcher opens a `camera_offline` incident for it; at least 1.
    pub offline_incident_after_secs: u64,
    /// Seconds from the start of one round of stream probes to the next; 0 turns probes off.
    pub probe_interval_secs: u64,
    /// Stream probes running at once (each holds a blocking thread); at least 1.
    pub max_concurrent_probes: usize,
    /// Seconds one probe may take, connecting included, before the camera counts as
    /// offline; at least 1.
    pub probe_timeout_secs: u64,
    /// Seconds a snapshot (stream frame or Frigate picture) may take; at least 1.
    pub snapshot_timeout_secs: u64,
    /// Snapshots taken at once (each holds a blocking thread and a stream); at least 1.
    pub max_concurrent_snapshots: usize,
    /// Snapshots attempted per incident at most, so a busy camera cannot fill the disk.
    pub max_snapshots_per_incident: u32,
    /// Seconds between two snapshots of one camera for one incident, at least.
    pub snapshot_interval_secs: u64,
    /// Most ONVIF metadata sessions (cameras with `onvif_metadata` and a stream) held at
    /// once; each costs a thread and an RTSP connection. 0 = none.
    pub max_onvif_sessions: usize,
    /// Seconds between re-reads of the cameras, to start and stop ONVIF metadata sessions
    /// as cameras are added, changed or deleted; at least 1.
    pub onvif_reconcile_secs: u64,
    /// Seconds during which repeats of one ONVIF rule on one camera raise no new alert.
    pub onvif_cooldown_secs: u64,
    /// Most cameras one `POST /api/v1/cameras/import` may hold; 1 to 1,000,000.
    pub camera_import_max_rows: usize,
}

/// `[frigate]`
#[derive(Debug, Clone, Deserialize)]
pub struct FrigateSettings {
    /// Frigate's HTTP address, e.g. `http://frigate:5000`; `""` = pictures come from the
    /// camera streams only. `http://` only: our HTTP client is built without TLS.
    #[serde(deserialize_with = "values::optional_plain_http_url")]
    pub url: Option<BaseUrl>,
}

impl VideoSettings {
    /// The zone of `gb28181_timezone`.
    pub fn gb28181_tz(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.gb28181_timezone.parse().map_err(|_| {
            ConfigError(format!(
                "video.gb28181_timezone: {:?} is not an IANA time zone name, e.g. Asia/Shanghai",
                self.gb28181_timezone
            ))
        })
    }
}

/// A configuration that could not be loaded; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Defaults, then `file` (if given), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Settings::load`], with `adjust` run on the settings before they are checked:
    /// for what the command line fills in (`serve --https` names the certificate it made,
    /// which `mqtt.wss_listen` needs). Whatever `adjust` leaves is checked as a file would be.
    pub fn load_adjusted<T, E: From<ConfigError>>(
        file: Option<&Path>,
        adjust: impl FnOnce(&mut Settings) -> Result<T, E>,
    ) -> Result<(Settings, T), E> {
        let mut settings = Self::parsed(Self::sources(file, std::env::vars())?)?;
        let made = adjust(&mut settings)?;
        settings.validate()?;
        Ok((settings, made))
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        Self::built(Self::sources(file, env)?)
    }

    /// The defaults, `file` and the `GRIDDISPATCH__` variables of `env`, in that order.
    fn sources(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<config::ConfigBuilder<config::builder::DefaultState>, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "--config {}: no such file",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let env: std::collections::HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("GRIDDISPATCH__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("GRIDDISPATCH")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("points.earning_kinds")
                .source(Some(env)),
        );
        Ok(builder)
    }

    /// The defaults, then `text` as a settings file, without the environment (the fuzz
    /// target of settings files).
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        let builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::from_str(text, config::FileFormat::Toml));
        Self::built(builder)
    }

    /// The settings of `builder`'s sources, typed and checked.
    fn built(
        builder: config::ConfigBuilder<config::builder::DefaultState>,
    ) -> Result<Settings, ConfigError> {
        let settings = Self::parsed(builder)?;
        settings.validate()?;
        Ok(settings)
    }

    /// The settings of `builder`'s sources, typed but not yet checked together.
    fn parsed(
        builder: config::ConfigBuilder<config::builder::DefaultState>,
    ) -> Result<Settings, ConfigError> {
        let raw = builder.build().map_err(|e| ConfigError(e.to_string()))?;
        let settings: Settings = raw.try_deserialize().map_err(|e| match e {
            // A value our deserializers refused: "key: why", as the checks below say it.
            config::ConfigError::At {
                error,
                key: Some(key),
                ..
            } => ConfigError(format!("{key}: {error}")),
            e => ConfigError(e.to_string()),
        })?;
        Ok(settings)
    }

    /// Replicas share one database and one broker, and find each other over HTTP.
    fn validate_cluster(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        if self.database.url.backend() != Backend::Postgres {
            return bad(
                "database.url",
                "cluster.enabled needs PostgreSQL (postgres://…): replicas share one database",
            );
        }
        if self.mqtt.listen.is_some() {
            return bad(
                "mqtt.listen",
                "cluster.enabled needs an external broker: set mqtt.listen = \"\" and mqtt.url",
            );
        }
        if !self.mqtt.persistent_session {
            return bad(
                "mqtt.persistent_session",
                "cluster.enabled needs it: the broker keeps what arrives while the lead changes",
            );
        }
        if self.cluster.advertise_url.is_none() && self.http.listen.ip().is_unspecified() {
            return bad(
                "cluster.advertise_url",
                "http.listen is a wildcard address, so say where other replicas reach this one, e.g. http://10.0.0.5:8080",
            );
        }
        // Replicas forward to each other's advertised URL, with TLS exactly when they
        // serve it (`http.tls_cert`).
        let https = self.http.tls.files().is_some();
        match &self.cluster.advertise_url {
            Some(url) if https && url.url().scheme() != "https" => {
                return bad(
                    "cluster.advertise_url",
                    "http.tls_cert is set, so this replica speaks https only: advertise an https:// URL whose host its certificate names",
                );
            }
            Some(url) if !https && url.url().scheme() == "https" => {
                return bad(
                    "cluster.advertise_url",
                    "is https://, but http.tls_cert is empty: replicas reach each other directly, so set http.tls_cert (or advertise http://)",
                );
            }
            _ => {}
        }
        if self.cluster.ca_file.is_some() && !https {
            return bad(
                "cluster.ca_file",
                "is only used when the replicas serve https (http.tls_cert)",
            );
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        if self.field.location_interval_secs < 5 {
            return bad("field.location_interval_secs", "must be at least 5");
        }
        if self.mqtt.listen.is_none() && self.mqtt.url.is_none() {
            return bad(
                "mqtt.url",
                "no embedded broker (mqtt.listen is empty), so mqtt.url must name a broker",
            );
        }
        if self.mqtt.client_id.is_empty() {
            return bad("mqtt.client_id", "must not be empty");
        }
        self.mqtt.limits.validate()?;
        self.http.limits.validate()?;
        self.http.tls.validate()?;
        let url_tls = self.mqtt.url.as_ref().is_some_and(BrokerUrl::tls);
        self.mqtt
            .tls
            .validate(self.mqtt.listen.is_some(), url_tls)?;
        if self.field.max_reports_per_hour == 0 {
            return bad("field.max_reports_per_hour", "must be at least 1");
        }
        if self.cluster.enabled {
            self.validate_cluster()?;
        }
        for (key, v) in [
            ("live.buffer_events", self.live.buffer_events),
            ("live.client_backlog", self.live.client_backlog),
        ] {
            if !(1..=1_000_000).contains(&v) {
                return bad(key, "must be between 1 and 1000000");
            }
        }
        if !(1..=10_000_000).contains(&self.dead_letters.max_rows) {
            return bad("dead_letters.max_rows", "must be 1 to 10000000");
        }
        if !(1..=3650).contains(&self.dead_letters.max_age_days) {
            return bad("dead_letters.max_age_days", "must be 1 to 3650 (days)");
        }
        if self.database.max_connections == 0 {
            return bad("database.max_connections", "must be at least 1");
        }
        let d = &self.dispatch;
        if d.ack_timeout_secs == 0 {
            return bad("dispatch.ack_timeout_secs", "must be at least 1");
        }
        if d.max_offers == 0 {
            return bad("dispatch.max_offers", "must be at least 1");
        }
        if !(d.detour_factor.is_finite() && d.detour_factor >= 1.0) {
            return bad("dispatch.detour_factor", "must be a number >= 1.0");
        }
        if !(1..=64).contains(&d.road_candidates) {
            return bad("dispatch.road_candidates", "must be 1 to 64");
        }
        if !(d.road_snap_m.is_finite() && (1.0..=5_000.0).contains(&d.road_snap_m)) {
            return bad("dispatch.road_snap_m", "must be 1 to 5000 (metres)");
        }
        if !(d.zone_preference_secs.is_finite() && d.zone_preference_secs >= 0.0) {
            return bad("dispatch.zone_preference_secs", "must be >= 0");
        }
        for (key, v) in [
            ("dispatch.speed_kmh.foot", d.speed_kmh.foot),
            ("dispatch.speed_kmh.bike", d.speed_kmh.bike),
            ("dispatch.speed_kmh.car", d.speed_kmh.car),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(key, "must be a speed > 0 (km/h)");
            }
        }
        if !d.allowed_kinds.contains_key("default") {
            return bad("dispatch.allowed_kinds.default", "must be present");
        }
        if self.verification.kinds.keys().any(|k| k.trim().is_empty()) {
            return bad("verification.kinds", "a kind name must not be empty");
        }
        if !(self.correlation.radius_m.is_finite() && self.correlation.radius_m >= 0.0) {
            return bad("correlation.radius_m", "must be >= 0 (metres)");
        }
        self.deadlines.validate()?;
        self.video.gb28181_tz()?;
        if self.video.offline_incident_after_secs < 1 {
            return bad(
                "video.offline_incident_after_secs",
                "must be >= 1 (seconds)",
            );
        }
        if self.video.max_concurrent_probes < 1 {
            return bad("video.max_concurrent_probes", "must be >= 1");
        }
        if self.video.probe_timeout_secs < 1 {
            return bad("video.probe_timeout_secs", "must be >= 1 (seconds)");
        }
        if self.video.snapshot_timeout_secs < 1 {
            return bad("video.snapshot_timeout_secs", "must be >= 1 (seconds)");
        }
        if self.video.max_concurrent_snapshots < 1 {
            return bad("video.max_concurrent_snapshots", "must be at least 1");
        }
        self.console.validate()?;
        if !(1..=1_000_000).contains(&self.video.camera_import_max_rows) {
            return bad("video.camera_import_max_rows", "must be 1 to 1000000");
        }
        if self.video.onvif_reconcile_secs < 1 {
            return bad("video.onvif_reconcile_secs", "must be >= 1 (seconds)");
        }
        let r = &self.reports;
        if !(1..=3660).contains(&r.max_days) {
            return bad("reports.max_days", "must be 1 to 3660 (days)");
        }
        if r.keep_months > 120 {
            return bad("reports.keep_months", "must be 0 to 120 (months)");
        }
        if !(10..=86_400).contains(&r.keep_every_secs) {
            return bad("reports.keep_every_secs", "must be 10 to 86400 (seconds)");
        }
        if let Err(e) = r.score.check() {
            return bad(&format!("reports.score.{}", e.field), &e.reason);
        }
        if let Err(e) = r.grades.check() {
            return bad("reports.grades", &e.reason);
        }
        self.points.validate()?;
        self.audit.validate()?;
        self.telemetry.validate()
    }

    /// The folder for data that sits beside the database: `database.data_dir`, else the
    /// folder holding the SQLite file, else (PostgreSQL) `data`.
    pub fn data_dir(&self) -> Option<&Path> {
        if let Some(dir) = &self.database.data_dir {
            return Some(dir);
        }
        if self.database.url.backend() != Backend::Sqlite {
            return Some(Path::new("data"));
        }
        let path = self
            .database
            .url
            .as_str()
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or(path);
        Path::new(path).parent()
    }

    /// [`Settings::data_dir`], or the working folder when the database file has no folder
    /// in its URL.
    pub fn data_folder(&self) -> PathBuf {
        self.data_dir()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }
}

#[cfg(test)]
mod tests;
