//! The command line: `serve`, `token create`, `user add|list|passwd`, `cameras import`,
//! `mqtt export-auth`, `simulate`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::domain::Role;

/// griddispatch: incident dispatch for grid-management networks.
#[derive(Debug, Parser)]
#[command(name = "griddispatch", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Commands,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Run the dispatcher: HTTP API, embedded MQTT broker, dispatcher.
    Serve {
        /// A TOML file layered over the defaults (env vars override both).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Load the demo county (Wuda district, Wuhai) and drive it with simulated workers.
        #[arg(long)]
        demo: bool,
        /// Serve HTTPS, and MQTT over secure WebSocket on the embedded broker (port 8084
        /// unless mqtt.wss_listen is set), with a certificate for this machine made at start
        /// by a local CA kept in the data folder (demo-tls/). For the demo and trials: the
        /// field app on a phone gets a secure page. http.tls_cert / mqtt.tls_cert, when set,
        /// are used instead.
        #[arg(long)]
        https: bool,
    },
    /// Manage API tokens.
    Token {
        /// Token action.
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Manage console users (people who log in to the web console).
    User {
        /// User action.
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage the cameras of a running instance.
    Cameras {
        /// Camera action.
        #[command(subcommand)]
        action: CameraAction,
    },
    /// Import the road network for travel times (docs/roads.md).
    Roads {
        /// Roads action.
        #[command(subcommand)]
        action: RoadsAction,
    },
    /// Work with an external MQTT broker.
    Mqtt {
        /// MQTT action.
        #[command(subcommand)]
        action: MqttAction,
    },
    /// Drive virtual workers and alert sources against a running instance.
    Simulate {
        /// Base URL of the instance, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        /// Admin API token (to create the simulated responders and source).
        #[arg(long, env = "GRIDDISPATCH_TOKEN")]
        token: String,
        /// Broker to connect the virtual workers to (default: the URL's host, port 1883).
        #[arg(long)]
        mqtt_url: Option<String>,
        /// Number of virtual workers.
        #[arg(long, default_value_t = 50)]
        workers: usize,
        /// Alerts per second.
        #[arg(long, default_value_t = 1.0)]
        rate: f64,
        /// Seconds to run.
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// For an https:// URL: the PEM file of the CA to trust, e.g. the
        /// data/demo-tls/ca.pem of `serve --https` (no other CA is trusted).
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
}

/// `roads` actions.
#[derive(Debug, Subcommand)]
pub enum RoadsAction {
    /// Read an OpenStreetMap extract (.osm.pbf or .osm) into one routable graph per travel
    /// mode, written to `roads.bin` in the data directory, and the offline base map (roads,
    /// water, railways, buildings) to `basemap.bin` beside it; `serve` loads both at start.
    Import {
        /// The extract, e.g. a region downloaded once from an OSM extract site.
        file: PathBuf,
        /// A TOML file layered over the defaults (for `database.data_dir`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where to write the graphs instead of `<data_dir>/roads.bin` (the base map goes
        /// beside it, as `basemap.bin`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `token` actions.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it alone on stdout.
    Create {
        /// admin, operator or viewer.
        #[arg(long)]
        role: Role,
        /// A name for the token (shown in incident timelines).
        #[arg(long, default_value = "cli")]
        name: String,
        /// Config file (for database.url).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// `user` actions. Passwords are read from stdin (one line), never from the command
/// line, where other users of the machine could see them in the process list.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a user; the password is the first line of stdin (at least 8 characters).
    Add {
        /// Login name.
        #[arg(long)]
        username: String,
        /// admin, operator or viewer.
        #[arg(long)]
        role: Role,
        /// Config file (for database.url).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List users: name, role, created, disabled.
    List {
        /// Config file (for database.url).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Set a user's password from the first line of stdin; ends the user's sessions.
    Passwd {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Config file (for database.url).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// `cameras` actions.
#[derive(Debug, Subcommand)]
pub enum CameraAction {
    /// Import cameras from a CSV or GeoJSON file into a running instance, all or nothing:
    /// existing ids are updated, new ones created; any bad row and nothing is stored.
    Import {
        /// CSV with a header row naming its columns, of
        /// id,name,lat,lon,zone_id,stream_uri,gb28181_id,heading,fov,onvif_metadata (the
        /// first four required), or a GeoJSON FeatureCollection of Points with those
        /// properties.
        file: PathBuf,
        /// Config file; the instance is found at its http.listen unless --url is given.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Base URL of the instance, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
        /// Admin API token.
        #[arg(long, env = "GRIDDISPATCH_TOKEN", hide_env_values = true)]
        token: String,
    },
}

/// `mqtt` actions.
#[derive(Debug, Subcommand)]
pub enum MqttAction {
    /// Write the broker's password file and ACL file (DIR/passwd, DIR/acl): every
    /// responder, every source and the dispatcher (mqtt.username/mqtt.password) with
    /// exactly the topics of the contract. Fails, writing nothing, when a login cannot be
    /// exported (e.g. issued before Mosquitto hashes were kept), naming each one.
    ExportAuth {
        /// File format; `mosquitto` (password_file and acl_file of Mosquitto 2).
        #[arg(long, value_enum)]
        format: AuthFormat,
        /// Folder to write into; created when missing.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Config file (for database.url, mqtt.username and mqtt.password).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write the logins that can be exported and leave out, naming them on stderr,
        /// those that cannot.
        #[arg(long)]
        skip_missing: bool,
    },
}

/// Formats `mqtt export-auth` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthFormat {
    /// Mosquitto's password file (`$7$` PBKDF2-SHA512 hashes) and ACL file.
    Mosquitto,
}

impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        Role::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// Runs a parsed command line; `logs` takes the span exporter `serve` may start.
pub async fn run(cli: Cli, logs: &crate::telemetry::Logs) -> anyhow::Result<()> {
    match cli.command {
        Commands::Serve {
            config,
            demo,
            https,
        } => {
            // `--https` fills in the certificate before the settings are checked, so a
            // `mqtt.wss_listen` without `mqtt.tls_cert` is fine with it.
            let (settings, made) =
                Settings::load_adjusted(config.as_deref(), |settings| -> anyhow::Result<_> {
                    match https {
                        true => crate::demo::https::prepare(settings).map(Some),
                        false => Ok(None),
                    }
                })?;
            let export = logs.export(&settings.telemetry)?;
            let served = serve(&settings, demo, made.as_ref()).await;
            if let Some(export) = export {
                export.shutdown().await;
            }
            served
        }
        Commands::Token {
            action: TokenAction::Create { role, name, config },
        } => {
            if role == Role::Merchant {
                anyhow::bail!("a token cannot have the merchant role: a merchant's login is made with the merchant (POST /api/v1/merchants)");
            }
            let store = open_store(config.as_deref()).await?;
            let token = store.create_token(&name, role).await?;
            audit_cli(
                &store,
                "tokens.create",
                "tokens",
                &name,
                serde_json::json!({ "name": name, "role": role }),
            )
            .await;
            store.close().await;
            #[allow(clippy::print_stdout)]
            {
                println!("{token}");
            }
            Ok(())
        }
        Commands::User { action } => run_user(action).await,
        Commands::Cameras {
            action:
                CameraAction::Import {
                    file,
                    config,
                    url,
                    token,
                },
        } => {
            let url = match url {
                Some(u) => u,
                None => crate::admin::local_url(&Settings::load(config.as_deref())?)?,
            };
            crate::admin::import_cameras(&file, &url, &token).await
        }
        Commands::Roads {
            action: RoadsAction::Import { file, config, out },
        } => {
            let out = match out {
                Some(o) => o,
                None => Settings::load(config.as_deref())?
                    .data_dir()
                    .unwrap_or(std::path::Path::new("."))
                    .join(crate::roads::FILE_NAME),
            };
            tokio::task::spawn_blocking(move || import_roads(&file, &out)).await?
        }
        Commands::Mqtt {
            action:
                MqttAction::ExportAuth {
                    format: AuthFormat::Mosquitto,
                    out,
                    config,
                    skip_missing,
                },
        } => {
            let settings = Settings::load(config.as_deref())?;
            let done = crate::mqtt::mosquitto::export(&settings, &out, skip_missing).await?;
            for u in &done.skipped {
                eprintln!("skipped {}: {}", u.username, u.reason);
            }
            eprintln!(
                "wrote {} and {}: the dispatcher and {} login(s){}; reload Mosquitto (SIGHUP) to apply",
                done.passwd.display(),
                done.acl.display(),
                done.logins,
                if done.skipped.is_empty() {
                    String::new()
                } else {
                    format!(", {} skipped", done.skipped.len())
                }
            );
            Ok(())
        }
        Commands::Simulate {
            url,
            token,
            mqtt_url,
            workers,
            rate,
            duration,
            ca_file,
        } => {
            let trust = match ca_file {
                Some(path) => Some(crate::tls::read_ca_pem(&path, "--ca-file")?),
                None => None,
            };
            let run = crate::sim::SimRun {
                workers,
                rate,
                duration,
                trust,
            };
            crate::sim::simulate(url, token, mqtt_url, run).await
        }
    }
}

/// `serve` with its settings loaded: runs until a signal or a failed task stops it.
async fn serve(
    settings: &Settings,
    demo: bool,
    https: Option<&crate::demo::https::HttpsSetup>,
) -> anyhow::Result<()> {
    if demo {
        demo_streets(settings).await;
    }
    let running = crate::app::start(settings).await?;
    crate::app::stop_on_signals(running.cancel.clone());
    if let Some(made) = https {
        crate::demo::https::announce(&running, settings, made);
    }
    if demo {
        crate::demo::start(&running, settings).await?;
    }
    running.wait().await
}

/// Opens the database named by a config file, for commands that work on it directly.
async fn open_store(config: Option<&std::path::Path>) -> anyhow::Result<crate::store::Store> {
    let settings = Settings::load(config)?;
    crate::store::Store::connect(settings.database.url.as_str(), 1).await
}

/// The first line of stdin without its line ending, checked as a password.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| anyhow::anyhow!("reading the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        anyhow::bail!(
            "no password on stdin; pipe it in, e.g. `echo \"$PW\" | griddispatch user add ...`"
        );
    }
    crate::store::check_password(&password)?;
    Ok(password)
}

/// Writes an audit log entry for a change made on the command line: the actor is
/// `cli:<login user>`, from the address `local`. The change is already made when this
/// runs, so a failure to write it is reported, not undone.
async fn audit_cli(
    store: &crate::store::Store,
    action: &str,
    kind: &str,
    id: &str,
    after: serde_json::Value,
) {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let entry = crate::store::NewAuditEntry {
        at: crate::clock::now_ms(),
        actor: format!("cli:{user}"),
        address: Some("local".into()),
        action: action.into(),
        target_kind: Some(kind.into()),
        target_id: Some(id.into()),
        after: Some(after.to_string()),
        ..Default::default()
    };
    if let Err(e) = store.append_audit(&entry).await {
        eprintln!("warning: the change is made, but the audit log could not record it: {e}");
    }
}

async fn run_user(action: UserAction) -> anyhow::Result<()> {
    match action {
        UserAction::Add {
            username,
            role,
            config,
        } => {
            crate::store::check_username(&username)?;
            let password = password_from_stdin()?;
            let store = open_store(config.as_deref()).await?;
            let made = store.create_user(&username, &password, role).await;
            if made.is_ok() {
                let after = serde_json::json!({ "username": username, "role": role });
                audit_cli(&store, "users.create", "users", &username, after).await;
            }
            store.close().await;
            made?;
            eprintln!("user {username} ({role}) created");
        }
        UserAction::List { config } => {
            let store = open_store(config.as_deref()).await?;
            let users = store.users().await;
            store.close().await;
            #[allow(clippy::print_stdout)]
            for u in users? {
                println!(
                    "{}\t{}\t{}{}",
                    u.username,
                    u.role,
                    crate::clock::rfc3339(u.created_at),
                    if u.disabled { "\tdisabled" } else { "" }
                );
            }
        }
        UserAction::Passwd { username, config } => {
            let password = password_from_stdin()?;
            let store = open_store(config.as_deref()).await?;
            let changed = store
                .update_user(
                    &username,
                    crate::store::UserChange {
                        password: Some(password),
                        ..Default::default()
                    },
                )
                .await;
            if changed.is_ok() {
                let after = serde_json::json!({ "password": "changed" });
                audit_cli(&store, "users.password", "users", &username, after).await;
            }
            store.close().await;
            changed?;
            eprintln!("password of {username} changed; its sessions have ended");
        }
    }
    Ok(())
}

/// `serve --demo` without a roads file: the demo's street sketch is imported, so the demo
/// ranks by road. Failing that, it ranks by straight line, as any county without roads.
async fn demo_streets(settings: &Settings) {
    let Some(dir) = settings.data_dir().map(std::path::Path::to_owned) else {
        return;
    };
    match tokio::task::spawn_blocking(move || crate::demo::streets::prepare(&dir)).await {
        Ok(Ok(true)) => println!(
            "demo streets: a sketch of streets along the demo grids (not Wuda's real map) imported as the roads; `roads import` your region's extract to replace it (docs/roads.md)"
        ),
        Ok(Ok(false)) => {}
        Ok(Err(e)) => eprintln!("demo streets not imported, ranking by straight line: {e:#}"),
        Err(e) => eprintln!("demo streets not imported, ranking by straight line: {e}"),
    }
}

/// `roads import`: reads the extract with a progress line, builds and writes the graphs,
/// and says what was kept.
fn import_roads(file: &std::path::Path, out: &std::path::Path) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("reading {}", file.display()));
    let started = std::time::Instant::now();
    let (summary, b) = crate::roads::Roads::import_into(file, out, &mut |n| {
        bar.set_message(format!("reading {}: {n} elements", file.display()));
        bar.tick();
    })?;
    bar.finish_and_clear();
    let base_out = out.with_file_name(crate::roads::basemap::FILE_NAME);
    eprintln!(
        "read {} nodes and {} roads covering {:.1} km² in {:.1} s",
        summary.nodes_read,
        summary.ways,
        summary.area_km2,
        started.elapsed().as_secs_f64()
    );
    for (mode, s) in &summary.modes {
        let share = if s.nodes_read == 0 {
            0.0
        } else {
            100.0 * s.nodes as f64 / s.nodes_read as f64
        };
        eprintln!(
            "{:>4}: {} nodes, {} one-way edges; the largest connected part keeps {share:.1} % of the {} road nodes",
            mode.as_str(),
            s.nodes,
            s.edges,
            s.nodes_read
        );
    }
    if let Some((_, car)) = summary
        .modes
        .iter()
        .find(|(m, _)| *m == crate::domain::TravelMode::Car)
    {
        let t = car.turns;
        eprintln!(
            "turn restrictions: {} read, {} applied to cars ({} junction copies), {} skipped: {} not for cars, {} conditional, {} via a way, {} with members missing or not car roads, {} not at the ways' ends, {} of unknown kind; walkers and bikes ignore them",
            t.read,
            t.applied,
            car.turn_copies,
            t.skipped(),
            t.not_for_mode,
            t.conditional,
            t.via_way,
            t.missing,
            t.not_at_end,
            t.unknown
        );
    }
    eprintln!(
        "base map: {} roads ({} named), {} water areas, {} islands, {} waterways, {} railways, {} buildings",
        b.roads, b.named_roads, b.water, b.islands, b.waterways, b.railways, b.buildings
    );
    eprintln!(
        "wrote {} and {}; restart `serve` to rank by road and draw the base map (docs/roads.md)",
        out.display(),
        base_out.display()
    );
    Ok(())
}
