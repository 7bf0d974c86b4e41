//! Start-up failures: one clear line naming the setting, a non-zero exit, never a panic.

use crate::common;
use std::process::Command;

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let db_env = common::test_db_env(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_griddispatch"))
        .args(args)
        .envs(db_env)
        .env("GRIDDISPATCH__HTTP__LISTEN", "127.0.0.1:0")
        .env("GRIDDISPATCH__MQTT__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "error")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    common::drop_test_db(dir.path());
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_one_clear_line(stderr: &str, setting: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(setting),
        "{setting} not named in {:?}",
        lines[0]
    );
}

#[test]
fn bad_config_values_name_the_setting() {
    for (key, value, setting) in [
        (
            "GRIDDISPATCH__DISPATCH__ACK_TIMEOUT_SECS",
            "soon",
            "ack_timeout_secs",
        ),
        (
            "GRIDDISPATCH__DISPATCH__DETOUR_FACTOR",
            "0.2",
            "dispatch.detour_factor",
        ),
        ("GRIDDISPATCH__HTTP__LISTEN", "localhost", "http.listen"),
        ("GRIDDISPATCH__MQTT__URL", "amqp://x", "mqtt.url"),
        (
            "GRIDDISPATCH__DISPATCH__SPEED_KMH__FOOT",
            "-1",
            "dispatch.speed_kmh.foot",
        ),
        (
            "GRIDDISPATCH__CONSOLE__SESSION_HOURS",
            "0",
            "console.session_hours",
        ),
    ] {
        let (ok, _, err) = run(&["serve"], &[(key, value)]);
        assert!(!ok, "{key}={value} was accepted");
        assert_one_clear_line(&err, setting);
    }
}

#[test]
fn a_taken_port_names_the_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (ok, _, err) = run(&["serve"], &[("GRIDDISPATCH__HTTP__LISTEN", &addr)]);
    assert!(!ok);
    assert_one_clear_line(&err, "http.listen");
    let (ok, _, err) = run(&["serve"], &[("GRIDDISPATCH__MQTT__LISTEN", &addr)]);
    assert!(!ok);
    assert_one_clear_line(&err, "mqtt.listen");
}

#[test]
fn an_unusable_database_names_the_setting() {
    let (ok, _, err) = run(
        &["serve"],
        &[(
            "GRIDDISPATCH__DATABASE__URL",
            "sqlite:///proc/no/such/dir/x.db",
        )],
    );
    assert!(!ok);
    assert_one_clear_line(&err, "database.url");
    let (ok, _, err) = run(
        &["serve"],
        &[("GRIDDISPATCH__DATABASE__URL", "postgres://nowhere/db")],
    );
    assert!(!ok);
    assert_one_clear_line(&err, "database.url");
}

#[test]
fn token_create_prints_the_token_alone() {
    let (ok, out, err) = run(
        &[
            "token",
            "create",
            "--role",
            "viewer",
            "--name",
            "wall screen",
        ],
        &[],
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1);
    assert!(out.trim().starts_with("gd_"));
    let (ok, _, err) = run(&["token", "create", "--role", "king"], &[]);
    assert!(!ok);
    assert!(err.contains("king"), "{err}");
}

/// A token made on the command line is in the audit log: `tokens.create` by
/// `cli:<login user>` from `local`, with its name and role and never the token itself.
#[tokio::test]
async fn a_token_made_on_the_command_line_is_in_the_audit_log() {
    let app = common::TestApp::spawn(&[]).await;
    let env = [
        ("GRIDDISPATCH__DATABASE__URL".to_owned(), app.db_url.clone()),
        (
            "GRIDDISPATCH__DATABASE__DATA_DIR".to_owned(),
            app.dir.path().display().to_string(),
        ),
        ("USER".to_owned(), "zhaolei".to_owned()),
    ];
    let token = common::cli_token_create(&env, "operator", "call desk 2");
    let log = app.get("/api/v1/audit?action=tokens.create").await;
    let entries = log.as_array().expect("a list");
    assert_eq!(entries.len(), 1, "{log}");
    let e = &entries[0];
    assert_eq!(e["actor"], "cli:zhaolei");
    assert_eq!(e["address"], "local");
    assert_eq!(
        (e["target_kind"].as_str(), e["target_id"].as_str()),
        (Some("tokens"), Some("call desk 2"))
    );
    assert_eq!(e["after"]["role"], "operator", "{e}");
    assert!(
        !log.to_string().contains(&token),
        "the token itself is in the log"
    );
}
