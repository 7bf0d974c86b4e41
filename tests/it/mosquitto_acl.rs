//! `griddispatch mqtt export-auth --format mosquitto` against a real Mosquitto: a broker
//! started with the exported files lets each login in with the password griddispatch
//! issued, and gives it exactly its own topics (docs/contract.md "Login and ACL").

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{Client, TestApp, WAIT};
use rumqttc::{ConnectReturnCode, SubscribeReasonCode};
use serde_json::json;

/// How long to watch for a message that must not come.
const QUIET: Duration = Duration::from_millis(500);

/// The Mosquitto broker binary, if installed.
fn mosquitto_bin() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/sbin/mosquitto");
    if fixed.is_file() {
        return Some(fixed);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("mosquitto"))
            .find(|p| p.is_file())
    })
}

/// A Mosquitto child process on a free loopback port, killed on drop.
struct Mosquitto {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Mosquitto {
    fn start(bin: &Path, dir: &Path, auth: &Path) -> Mosquitto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.join("mosquitto.conf");
        // `user root`: the exported files are 0600 and owned by whoever runs the test; when
        // that is root, Mosquitto would otherwise switch to user `mosquitto` and could not
        // read them (as a deployment must chown them, docs/deploy.md). Ignored unless root.
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n\
                 acl_file {}\npersistence false\nuser root\nlog_dest stderr\n",
                auth.join("passwd").display(),
                auth.join("acl").display()
            ),
        )
        .unwrap();
        let log = dir.join("mosquitto.log");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut m = Mosquitto { child, port, log };
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = m.child.try_wait().unwrap() {
                panic!("mosquitto exited ({status}): {}", m.log_text());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "mosquitto never listened: {}",
                m.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        m
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asks Mosquitto to reread its password and ACL files.
    fn reload(&self) {
        let ok = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -HUP mosquitto");
    }

    /// Logs in and returns Mosquitto's answer.
    async fn login(&self, client_id: &str, user: &str, pass: &str) -> ConnectReturnCode {
        let mut c = Client::try_connect("127.0.0.1", self.port, client_id, user, pass).await;
        tokio::time::timeout(WAIT, c.connack.recv())
            .await
            .expect("connack in time")
            .expect("connack")
    }

    async fn client(&self, client_id: &str, user: &str, pass: &str) -> Client {
        Client::connect("127.0.0.1", self.port, client_id, user, pass).await
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `griddispatch mqtt export-auth --format mosquitto --out <out> --config <config>`
/// plus `extra`; returns (success, stderr).
async fn export(config: &Path, out: &Path, extra: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_griddispatch"))
        .args(["mqtt", "export-auth", "--format", "mosquitto", "--out"])
        .arg(out)
        .arg("--config")
        .arg(config)
        .args(extra)
        .env("RUST_LOG", "error")
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn reset_password(app: &TestApp, path: &str) -> String {
    let (s, v) = app.post(path, json!({})).await;
    assert_eq!(s, 200, "{path}: {v}");
    v["mqtt"]["password"]
        .as_str()
        .unwrap_or_else(|| panic!("no password in {v}"))
        .to_owned()
}

#[tokio::test]
async fn exported_logins_and_acls_hold_on_a_real_mosquitto() {
    let Some(bin) = mosquitto_bin() else {
        eprintln!("\n*** SKIPPED exported_logins_and_acls_hold_on_a_real_mosquitto: no mosquitto binary (apt-get install mosquitto) ***\n");
        if std::env::var_os("CI").is_some() {
            panic!("Mosquitto is required in CI");
        }
        return;
    };
    let app = TestApp::spawn(&[]).await;
    let w1_pw = app.responder("w1", "grid_worker", "foot", None).await;
    let w2_pw = app.responder("w2", "grid_worker", "foot", None).await;
    let w3_pw = app.responder("w3", "grid_worker", "foot", None).await;
    let (s1_user, s1_pw) = app.source("s1").await;
    assert_eq!(s1_user, "source-s1");

    // w3 stands for a login issued before griddispatch kept Mosquitto hashes.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db_url).await.unwrap();
    sqlx::query("UPDATE mqtt_accounts SET mosquitto_hash = NULL WHERE username = 'w3'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("auth");
    let dispatcher_pw = "dispatcher-secret-1";
    let config = work.path().join("griddispatch.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n[mqtt]\nusername = \"dispatcher\"\npassword = \"{dispatcher_pw}\"\n",
            app.db_url
        ),
    )
    .unwrap();

    // A login that cannot be exported is named with the way to fix it, and nothing is written.
    let (ok, err) = export(&config, &out, &[]).await;
    assert!(!ok, "export with an unexportable login succeeded: {err}");
    assert!(
        err.contains("w3") && err.contains("/api/v1/responders/w3/reset-password"),
        "{err}"
    );
    assert!(!out.join("passwd").exists() && !out.join("acl").exists());

    let (ok, err) = export(&config, &out, &["--skip-missing"]).await;
    assert!(ok, "{err}");
    assert!(err.contains("skipped w3"), "{err}");
    let passwd = std::fs::read_to_string(out.join("passwd")).unwrap();
    let users: Vec<&str> = passwd
        .lines()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(users, ["dispatcher", "source-s1", "w1", "w2"], "{passwd}");
    assert!(passwd.lines().all(|l| l.contains(":$7$101$")), "{passwd}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("passwd"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "password file mode {mode:o}");
    }

    let broker = Mosquitto::start(&bin, work.path(), &out);

    // Logins: issued passwords work, a wrong one and the left-out login do not.
    let mut disp = broker.client("disp", "dispatcher", dispatcher_pw).await;
    let codes = disp.subscribe("#").await;
    assert!(
        matches!(codes[0], SubscribeReasonCode::Success(_)),
        "{codes:?}"
    );
    let mut w1 = broker.client("phone-w1", "w1", &w1_pw).await;
    let mut w2 = broker.client("phone-w2", "w2", &w2_pw).await;
    assert_ne!(
        broker.login("phone-w1-bad", "w1", "wrong").await,
        ConnectReturnCode::Success,
        "a wrong password was accepted"
    );
    assert_ne!(
        broker.login("phone-w3", "w3", &w3_pw).await,
        ConnectReturnCode::Success,
        "a skipped login got in"
    );

    // w1 cannot read w2's tasks. Mosquitto 2.0's acl_file grants any SUBSCRIBE (0x00, not
    // 0x80) and applies the read rules to each message instead; either way nothing of
    // w2's may reach w1, while w2 gets it and w1 gets its own.
    let _ = w1.subscribe("dispatch/w2/tasks/#").await;
    let own = w1.subscribe("dispatch/w1/tasks/#").await;
    assert!(matches!(own[0], SubscribeReasonCode::Success(_)), "{own:?}");
    w2.subscribe("dispatch/w2/tasks/#").await;
    disp.publish("dispatch/w2/tasks/t9", r#"{"task_id":"t9"}"#)
        .await;
    disp.publish("dispatch/w1/tasks/t1", r#"{"task_id":"t1"}"#)
        .await;
    assert!(
        w2.next_where(WAIT, |t, _| t == "dispatch/w2/tasks/t9")
            .await
            .is_some(),
        "w2 never got its task"
    );
    assert!(
        w1.next_where(WAIT, |t, _| t == "dispatch/w1/tasks/t1")
            .await
            .is_some(),
        "w1 never got its task"
    );
    let leaked = w1
        .next_where(QUIET, |t, _| t.starts_with("dispatch/w2/"))
        .await;
    assert!(leaked.is_none(), "w1 read w2's task: {leaked:?}");

    // w1 cannot publish as w2 or as a source; its own update goes through. Published in
    // this order on one connection, so the dispatcher would see the forbidden ones first.
    w1.publish("dispatch/w2/tasks/t9/update", r#"{"status":"accepted"}"#)
        .await;
    w1.publish("alerts/s1", r#"{"id":"forged","kind":"fire"}"#)
        .await;
    w1.publish("dispatch/w1/tasks/t1/update", r#"{"status":"accepted"}"#)
        .await;
    assert!(
        disp.next_where(WAIT, |t, _| t == "dispatch/w1/tasks/t1/update")
            .await
            .is_some(),
        "w1's own update never reached the dispatcher"
    );
    let forged = disp
        .next_where(QUIET, |t, _| {
            t == "dispatch/w2/tasks/t9/update" || t == "alerts/s1"
        })
        .await;
    assert!(forged.is_none(), "w1 published as another: {forged:?}");

    // The source publishes its own alerts, not another source's.
    let s1 = broker.client("src-s1", &s1_user, &s1_pw).await;
    s1.publish("alerts/s2", r#"{"id":"a0"}"#).await;
    s1.publish("alerts/s1", r#"{"id":"a1"}"#).await;
    assert!(
        disp.next_where(WAIT, |t, _| t == "alerts/s1")
            .await
            .is_some(),
        "the source's own alert never arrived"
    );
    let other = disp.next_where(QUIET, |t, _| t == "alerts/s2").await;
    assert!(other.is_none(), "the source published as s2: {other:?}");

    // The fix the export names: reissue w3's password, export again (now complete), and
    // reload Mosquitto with SIGHUP; w3 logs in with the new password.
    let w3_new = reset_password(&app, "/api/v1/responders/w3/reset-password").await;
    let (ok, err) = export(&config, &out, &[]).await;
    assert!(ok, "{err}");
    broker.reload();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let code = broker
            .login(&format!("phone-w3-{attempt}"), "w3", &w3_new)
            .await;
        if code == ConnectReturnCode::Success {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "w3 never got in after the reload ({code:?}): {}",
            broker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
