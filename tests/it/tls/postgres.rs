//! PostgreSQL over TLS (`database.url` with `sslmode=require` / `verify-full`), against a
//! real server: a throwaway cluster made here with initdb, `ssl=on` with a certificate made
//! in the test, and a pg_hba.conf that trusts TLS connections from 127.0.0.1 and rejects
//! the others, so a passing test proves the link was encrypted. It runs the same whatever
//! `GRIDDISPATCH_TEST_DB` says (it is its own server); without initdb it is skipped loudly.

use std::path::{Path, PathBuf};
use std::process::Command;

use griddispatch::config::Settings;
use serde_json::json;

use super::Certs;
use crate::common::free_port;

/// A PostgreSQL cluster in a temporary folder, stopped on drop.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// As whom the server runs (`postgres` when the test runs as root, which initdb refuses).
    user: Option<&'static str>,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

impl Cluster {
    fn command(&self, tool: &str) -> Command {
        command_as(self.user, &self.bin.join(tool))
    }

    /// initdb + pg_ctl start with TLS; None (having said so) when PostgreSQL's server
    /// binaries are not installed.
    fn start(test: &str) -> Option<(Cluster, Certs)> {
        let Some(bin) = server_bin() else {
            eprintln!(
                "\n*** SKIPPED {test}: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql) ***\n"
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL's server binaries are required in CI"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let certs = Certs::make(dir.path(), "pg");
        let data = dir.path().join("data");
        let root = running_as_root();
        let user = root.then_some("postgres");
        if root {
            chown_to_postgres(dir.path());
        }
        let cluster = Cluster {
            bin,
            data,
            port: free_port(),
            user,
            _dir: dir,
        };
        let out = cluster
            .command("initdb")
            .arg("-D")
            .arg(&cluster.data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {out:?}");
        // TLS from 127.0.0.1 is trusted, anything else over TCP is rejected.
        std::fs::write(
            cluster.data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        if root {
            chown_to_postgres(&cluster.data.join("pg_hba.conf"));
        }
        let options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c ssl=on -c ssl_cert_file={} -c ssl_key_file={} -c fsync=off",
            cluster.port,
            cluster._dir.path().display(),
            certs.cert.display(),
            certs.key.display()
        );
        let out = cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(&cluster.data)
            .arg("-l")
            .arg(cluster._dir.path().join("log"))
            .args(["-o", &options, "-w", "start"])
            .output()
            .unwrap();
        let log = std::fs::read_to_string(cluster._dir.path().join("log")).unwrap_or_default();
        assert!(out.status.success(), "pg_ctl start: {out:?}\n{log}");
        Some((cluster, certs))
    }

    fn url(&self, query: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/postgres?{query}",
            self.port
        )
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has initdb.
fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Whether the test runs as root (initdb and postgres refuse to).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn command_as(user: Option<&str>, tool: &Path) -> Command {
    match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(tool);
            c
        }
        None => Command::new(tool),
    }
}

/// Gives `path` (and what is under it) to the `postgres` user, whose server reads it.
fn chown_to_postgres(path: &Path) {
    let out = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "chown: {out:?}");
}

/// Settings for an instance on `db_url`, its files in `dir`.
fn settings(dir: &Path, db_url: &str) -> Settings {
    let env = [
        ("GRIDDISPATCH__HTTP__LISTEN", "127.0.0.1:0"),
        ("GRIDDISPATCH__MQTT__LISTEN", "127.0.0.1:0"),
        ("GRIDDISPATCH__DATABASE__URL", db_url),
        (
            "GRIDDISPATCH__DATABASE__DATA_DIR",
            &dir.display().to_string(),
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    Settings::load_with_env(None, env).unwrap()
}

#[tokio::test]
async fn the_store_runs_on_postgresql_over_tls_and_checks_the_server() {
    let test = "the_store_runs_on_postgresql_over_tls_and_checks_the_server";
    let Some((pg, certs)) = Cluster::start(test) else {
        return;
    };
    let files = tempfile::tempdir().unwrap();
    let verify_full = pg.url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        certs.ca.display()
    ));

    // verify-full: the server's certificate is checked against the CA and the name.
    let running = griddispatch::app::start(&settings(files.path(), &verify_full))
        .await
        .expect("starts on PostgreSQL over TLS");
    assert_eq!(running.store.backend().as_str(), "postgres");
    let token = running
        .store
        .create_token("t", griddispatch::domain::Role::Admin)
        .await
        .unwrap();
    let base = format!("http://{}", running.http_addr);
    let http = reqwest::Client::new();
    let made = http
        .post(format!("{base}/api/v1/zones"))
        .bearer_auth(&token)
        .json(&json!({"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[106.69,39.49],[106.70,39.49],[106.70,39.50],[106.69,39.50],[106.69,39.49]]]},"properties":{"id":"g1","name":"g1","kind":"grid"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201, "{}", made.text().await.unwrap());
    let zones = http
        .get(format!("{base}/api/v1/zones"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(zones.contains("\"g1\""), "{zones}");
    running.stop().await.unwrap();

    // The server saw TLS: pg_stat_ssl says so for a connection made as the store makes them.
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&verify_full).await.unwrap();
    let (ssl,): (bool,) =
        sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(ssl);
    conn.close().await.unwrap();

    // require: encrypted, the certificate not checked; the data is still there.
    let running = griddispatch::app::start(&settings(files.path(), &pg.url("sslmode=require")))
        .await
        .expect("starts with sslmode=require");
    running.stop().await.unwrap();

    // In clear the server refuses (pg_hba.conf), and the start fails naming the setting.
    let e = griddispatch::app::start(&settings(files.path(), &pg.url("sslmode=disable")))
        .await
        .expect_err("a plain connection was accepted");
    assert!(format!("{e:#}").contains("database.url"), "{e:#}");

    // verify-full with another CA refuses the server's certificate.
    let other = Certs::make(files.path(), "other");
    let foreign = pg.url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        other.ca.display()
    ));
    let e = griddispatch::app::start(&settings(files.path(), &foreign))
        .await
        .expect_err("a certificate from a foreign CA was accepted");
    let e = format!("{e:#}");
    assert!(e.contains("database.url"), "{e}");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
}
