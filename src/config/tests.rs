//! Tests of loading and checking the settings.
use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn field_location_interval_is_at_least_five_seconds() {
    let s = Settings::load_with_env(None, env(&[])).unwrap();
    assert_eq!(s.field.location_interval_secs, 30);
    let ok = env(&[("GRIDDISPATCH__FIELD__LOCATION_INTERVAL_SECS", "5")]);
    assert_eq!(
        Settings::load_with_env(None, ok)
            .unwrap()
            .field
            .location_interval_secs,
        5
    );
    let low = env(&[("GRIDDISPATCH__FIELD__LOCATION_INTERVAL_SECS", "4")]);
    let err = Settings::load_with_env(None, low).unwrap_err().to_string();
    assert!(err.contains("field.location_interval_secs"), "{err}");
}

#[test]
fn database_url_takes_sqlite_or_postgres_and_the_data_folder_follows() {
    let s = Settings::load_with_env(None, env(&[])).unwrap();
    assert_eq!(s.data_folder(), PathBuf::from("data"));
    let pg = Settings::load_with_env(
        None,
        env(&[("GRIDDISPATCH__DATABASE__URL", "postgres://gd@db.example/gd")]),
    )
    .unwrap();
    // No file to sit beside: the data folder is `data`, or database.data_dir.
    assert_eq!(pg.data_folder(), PathBuf::from("data"));
    let pg = Settings::load_with_env(
        None,
        env(&[
            (
                "GRIDDISPATCH__DATABASE__URL",
                "postgresql://gd@db.example/gd",
            ),
            ("GRIDDISPATCH__DATABASE__DATA_DIR", "/var/lib/gd"),
        ]),
    )
    .unwrap();
    assert_eq!(pg.data_folder(), PathBuf::from("/var/lib/gd"));
    let err = Settings::load_with_env(
        None,
        env(&[("GRIDDISPATCH__DATABASE__URL", "mysql://gd@db.example/gd")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("database.url"), "{err}");
}

#[test]
fn defaults_match_the_documented_values() {
    let s = Settings::load_with_env(None, env(&[])).unwrap();
    assert_eq!(s.http.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(s.mqtt.listen, Some("0.0.0.0:1883".parse().unwrap()));
    assert_eq!(s.mqtt.url, None);
    assert_eq!(s.mqtt.ws_listen, None);
    assert_eq!(s.database.url.backend(), Backend::Sqlite);
    assert_eq!(s.database.data_dir, None);
    assert_eq!(s.dispatch.ack_timeout_secs, 60);
    assert_eq!(s.dispatch.max_offers, 3);
    assert_eq!(s.dispatch.location_max_age_secs, 300);
    assert_eq!(s.dispatch.zone_preference_secs, 120.0);
    assert_eq!(s.dispatch.detour_factor, 1.3);
    assert_eq!(s.dispatch.speed_kmh.bike, 15.0);
    assert_eq!(s.correlation.radius_m, 150.0);
    assert_eq!(s.correlation.window_secs, 300);
    assert_eq!(s.dispatch.allowed_for("fight"), &[ResponderKind::Patrol]);
    assert_eq!(s.dispatch.allowed_for("medical").len(), 3);
    assert_eq!(
        s.dispatch.allowed_for("camera_fault"),
        &[ResponderKind::GridWorker]
    );
    assert_eq!(s.video.gb28181_tz().unwrap(), chrono_tz::Asia::Shanghai);
    assert_eq!(s.video.snapshot_timeout_secs, 5);
    assert_eq!(s.video.max_concurrent_snapshots, 4);
    assert_eq!(s.http.public_url, None);
    assert_eq!(s.frigate.url, None);
    assert_eq!(s.field.mqtt_ws_url, None);
    assert_eq!(s.cluster.advertise_url, None);
    assert_eq!(s.video.max_onvif_sessions, 256);
    assert_eq!(s.video.onvif_reconcile_secs, 30);
    assert_eq!(s.video.onvif_cooldown_secs, 60);
}

#[test]
fn environment_overrides_nested_keys() {
    let s = Settings::load_with_env(
        None,
        env(&[
            ("GRIDDISPATCH__HTTP__LISTEN", "127.0.0.1:18080"),
            ("GRIDDISPATCH__DISPATCH__SPEED_KMH__CAR", "40"),
            ("GRIDDISPATCH__MQTT__LISTEN", ""),
            ("GRIDDISPATCH__MQTT__URL", "mqtt://127.0.0.1:1883"),
        ]),
    )
    .unwrap();
    assert_eq!(s.http.listen, "127.0.0.1:18080".parse().unwrap());
    assert_eq!(s.dispatch.speed_kmh.car, 40.0);
    assert_eq!(s.mqtt.listen, None);
    assert_eq!(s.mqtt.url, Some(BrokerUrl::new("127.0.0.1", 1883)));
}

#[test]
fn a_bad_value_names_its_setting() {
    let err = Settings::load_with_env(
        None,
        env(&[("GRIDDISPATCH__DISPATCH__DETOUR_FACTOR", "0.5")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("dispatch.detour_factor"), "{err}");
    let err =
        Settings::load_with_env(None, env(&[("GRIDDISPATCH__HTTP__LISTEN", "nope")])).unwrap_err();
    assert!(err.to_string().contains("http.listen"), "{err}");
    let err = Settings::load_with_env(None, env(&[("GRIDDISPATCH__DISPATCH__MAX_OFFERS", "many")]))
        .unwrap_err();
    assert!(err.to_string().contains("max_offers"), "{err}");
    let err = Settings::load_with_env(
        None,
        env(&[("GRIDDISPATCH__VIDEO__GB28181_TIMEZONE", "Mars/Olympus")]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("video.gb28181_timezone"), "{err}");
    let err = Settings::load_with_env(
        None,
        env(&[("GRIDDISPATCH__VIDEO__OFFLINE_INCIDENT_AFTER_SECS", "0")]),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("video.offline_incident_after_secs"),
        "{err}"
    );
    for (key, value, named) in [
        ("GRIDDISPATCH__FRIGATE__URL", "frigate:5000", "frigate.url"),
        ("GRIDDISPATCH__FRIGATE__URL", "https://nvr", "frigate.url"),
        (
            "GRIDDISPATCH__HTTP__PUBLIC_URL",
            "http://h/?a=1",
            "http.public_url",
        ),
        (
            "GRIDDISPATCH__HTTP__PUBLIC_URL",
            "ftp://x",
            "http.public_url",
        ),
        (
            "GRIDDISPATCH__VIDEO__SNAPSHOT_TIMEOUT_SECS",
            "0",
            "video.snapshot_timeout_secs",
        ),
        (
            "GRIDDISPATCH__VIDEO__MAX_CONCURRENT_SNAPSHOTS",
            "0",
            "video.max_concurrent_snapshots",
        ),
    ] {
        let err = Settings::load_with_env(None, env(&[(key, value)])).unwrap_err();
        assert!(err.to_string().contains(named), "{key}={value}: {err}");
    }
    let s = Settings::load_with_env(
        None,
        env(&[
            (
                "GRIDDISPATCH__HTTP__PUBLIC_URL",
                "https://gd.example.org/x/",
            ),
            ("GRIDDISPATCH__FRIGATE__URL", "http://frigate:5000"),
        ]),
    )
    .unwrap();
    assert_eq!(
        s.frigate.url.as_ref().map(BaseUrl::as_str),
        Some("http://frigate:5000")
    );
    assert_eq!(
        s.http.public_url.as_ref().map(BaseUrl::as_str),
        Some("https://gd.example.org/x/")
    );
    let err = Settings::load_with_env(
        None,
        env(&[("GRIDDISPATCH__VIDEO__ONVIF_RECONCILE_SECS", "0")]),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("video.onvif_reconcile_secs"),
        "{err}"
    );
}

#[test]
fn security_bounds_have_defaults_and_are_checked() {
    let s = Settings::load_with_env(None, env(&[])).unwrap();
    assert_eq!(s.console.max_concurrent_password_checks, 0);
    assert_eq!(s.dead_letters.max_rows, 10_000);
    assert_eq!(s.dead_letters.max_age_days, 30);
    assert_eq!(s.video.camera_import_max_rows, 50_000);
    for (key, value, named) in [
        (
            "GRIDDISPATCH__CONSOLE__MAX_CONCURRENT_PASSWORD_CHECKS",
            "100000",
            "console.max_concurrent_password_checks",
        ),
        (
            "GRIDDISPATCH__DEAD_LETTERS__MAX_ROWS",
            "0",
            "dead_letters.max_rows",
        ),
        (
            "GRIDDISPATCH__DEAD_LETTERS__MAX_AGE_DAYS",
            "0",
            "dead_letters.max_age_days",
        ),
        (
            "GRIDDISPATCH__VIDEO__CAMERA_IMPORT_MAX_ROWS",
            "0",
            "video.camera_import_max_rows",
        ),
    ] {
        let err = Settings::load_with_env(None, env(&[(key, value)])).unwrap_err();
        assert!(err.to_string().contains(named), "{key}={value}: {err}");
    }
}

#[test]
fn typed_values_name_their_key_when_refused() {
    for (key, value, named) in [
        (
            "GRIDDISPATCH__HTTP__LISTEN",
            "localhost:8080",
            "http.listen",
        ),
        ("GRIDDISPATCH__MQTT__LISTEN", "1883", "mqtt.listen"),
        ("GRIDDISPATCH__MQTT__WS_LISTEN", "nowhere", "mqtt.ws_listen"),
        ("GRIDDISPATCH__MQTT__URL", "amqp://x", "mqtt.url"),
        ("GRIDDISPATCH__MQTT__URL", "mqtt://h:1883/topic", "mqtt.url"),
        ("GRIDDISPATCH__DATABASE__URL", "data/x.db", "database.url"),
        (
            "GRIDDISPATCH__CLUSTER__ADVERTISE_URL",
            "ftp://10.0.0.5",
            "cluster.advertise_url",
        ),
    ] {
        let err = Settings::load_with_env(None, env(&[(key, value)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("configuration: {named}: ")),
            "{key}={value}: {err}"
        );
    }
}

#[test]
fn debug_never_shows_a_password() {
    let s = Settings::load_with_env(
        None,
        env(&[
            ("GRIDDISPATCH__MQTT__USERNAME", "dispatcher"),
            ("GRIDDISPATCH__MQTT__PASSWORD", "hunter22-mqtt"),
            (
                "GRIDDISPATCH__DATABASE__URL",
                "postgres://gd:hunter22-db@db.example/gd",
            ),
        ]),
    )
    .unwrap();
    assert!(s.mqtt.has_password());
    assert_eq!(s.mqtt.password.expose_secret(), "hunter22-mqtt");
    let shown = format!("{s:?}");
    assert!(shown.contains("dispatcher"), "{shown}");
    assert!(!shown.contains("hunter22"), "{shown}");
}

#[test]
fn deadlines_go_by_severity_unless_the_kind_has_its_own() {
    let s = Settings::load_with_env(None, env(&[])).unwrap();
    let d = &s.deadlines;
    assert_eq!(
        (d.sev1_secs, d.sev2_secs, d.sev3_secs, d.sev4_secs),
        (3600, 14400, 86400, 259200)
    );
    assert_eq!(d.secs_for("fire", 1), 3600);
    assert_eq!(d.secs_for("fight", 2), 14400);
    assert_eq!(d.secs_for("noise", 3), 86400);
    assert_eq!(d.secs_for("illegal_dumping", 4), 259200);
    // Out of range counts as the nearest end.
    assert_eq!(d.secs_for("fire", 0), 3600);
    assert_eq!(d.secs_for("fire", 9), 259200);
    // camera_offline (severity 4) has a day of its own.
    assert_eq!(d.secs_for("camera_offline", 4), 86400);
    assert_eq!(d.due_at("fire", 1, 1_000), 1_000 + 3_600_000);
    assert_eq!(d.due_at("camera_offline", 4, 0), 86_400_000);

    let s = Settings::load_with_env(
        None,
        env(&[
            ("GRIDDISPATCH__DEADLINES__SEV2_SECS", "5"),
            ("GRIDDISPATCH__DEADLINES__KINDS__GAS_LEAK", "2"),
        ]),
    )
    .unwrap();
    assert_eq!(s.deadlines.due_at("fight", 2, 10), 5_010);
    // The kind wins whatever the severity.
    assert_eq!(s.deadlines.due_at("gas_leak", 4, 10), 2_010);
    assert_eq!(s.deadlines.secs_for("camera_offline", 4), 86400);
}

#[test]
fn deadlines_are_positive_and_at_most_a_year_naming_the_key() {
    for (var, key) in [
        ("GRIDDISPATCH__DEADLINES__SEV1_SECS", "deadlines.sev1_secs"),
        ("GRIDDISPATCH__DEADLINES__SEV4_SECS", "deadlines.sev4_secs"),
        (
            "GRIDDISPATCH__DEADLINES__KINDS__CAMERA_OFFLINE",
            "deadlines.kinds.camera_offline",
        ),
    ] {
        for bad in ["0", "31622401"] {
            let err = Settings::load_with_env(None, env(&[(var, bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{var}={bad}: {err}");
        }
        assert!(Settings::load_with_env(None, env(&[(var, "31622400")])).is_ok());
    }
    let err = Settings::load_with_env(None, env(&[("GRIDDISPATCH__DEADLINES__SEV2_SECS", "-1")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sev2_secs"), "{err}");
}

#[test]
fn verification_is_by_operator_unless_set_per_kind() {
    use crate::domain::closed_loop::VerificationMode;
    let s = Settings::load_with_env(None, env(&[])).unwrap();
    assert_eq!(s.verification.default, VerificationMode::Operator);
    assert_eq!(s.verification.mode_for("fire"), VerificationMode::Operator);
    let s = Settings::load_with_env(
        None,
        env(&[
            ("GRIDDISPATCH__VERIFICATION__DEFAULT", "inspector"),
            ("GRIDDISPATCH__VERIFICATION__KINDS__CAMERA_OFFLINE", "none"),
        ]),
    )
    .unwrap();
    assert_eq!(
        s.verification.mode_for("camera_offline"),
        VerificationMode::None
    );
    assert_eq!(
        s.verification.mode_for("camera"),
        VerificationMode::Inspector
    );
    let err = Settings::load_with_env(
        None,
        env(&[("GRIDDISPATCH__VERIFICATION__DEFAULT", "maybe")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("verification"), "{err}");
}

#[test]
fn points_default_to_volunteers_and_check_their_bounds() {
    use crate::domain::points::PointsRule;
    use crate::domain::ResponderKind;
    let s = Settings::load_with_env(None, env(&[])).unwrap();
    let p = &s.points;
    assert_eq!(p.earning_kinds, vec![ResponderKind::Volunteer]);
    assert_eq!((p.expiry_months, p.code_valid_secs), (36, 300));
    assert_eq!(p.balance_cap(), None);
    assert_eq!(
        p.rule_for("litter"),
        PointsRule::BySeverity([20, 15, 10, 5])
    );
    let s = Settings::load_with_env(
        None,
        env(&[
            (
                "GRIDDISPATCH__POINTS__EARNING_KINDS",
                "volunteer,grid_worker",
            ),
            ("GRIDDISPATCH__POINTS__RULES__LITTER", "7"),
            ("GRIDDISPATCH__POINTS__BALANCE_CAP", "1000"),
        ]),
    )
    .unwrap();
    assert!(s.points.earns(ResponderKind::GridWorker));
    assert_eq!(s.points.rule_for("litter").points(1), 7);
    assert_eq!(s.points.rule_for("fire").points(1), 20);
    assert_eq!(s.points.balance_cap(), Some(1000));
    for (key, value, named) in [
        (
            "GRIDDISPATCH__POINTS__EXPIRY_MONTHS",
            "0",
            "points.expiry_months",
        ),
        (
            "GRIDDISPATCH__POINTS__MONTHLY_CAP",
            "-1",
            "points.monthly_cap",
        ),
        (
            "GRIDDISPATCH__POINTS__CODE_VALID_SECS",
            "1",
            "points.code_valid_secs",
        ),
        (
            "GRIDDISPATCH__POINTS__RULES__LITTER",
            "-3",
            "points.rules.litter",
        ),
        (
            "GRIDDISPATCH__POINTS__EARNING_KINDS",
            "mayor",
            "earning_kinds",
        ),
    ] {
        let err = Settings::load_with_env(None, env(&[(key, value)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(named), "{key}={value}: {err}");
    }
}

#[test]
fn what_the_command_line_fills_in_is_checked_with_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gd.toml");
    std::fs::write(&file, "[mqtt]\nwss_listen = \"127.0.0.1:8084\"\n").unwrap();
    // Alone, a WSS listener without its certificate is refused…
    let e = Settings::load(Some(&file)).unwrap_err().to_string();
    assert!(e.contains("mqtt.wss_listen"), "{e}");
    // …but `serve --https` names the certificate it made before the check.
    let (s, made) = Settings::load_adjusted(Some(&file), |s| -> Result<_, ConfigError> {
        s.mqtt.tls.tls_cert = Some("made/cert.pem".into());
        s.mqtt.tls.tls_key = Some("made/key.pem".into());
        Ok(42)
    })
    .unwrap();
    assert_eq!(made, 42);
    assert_eq!(
        s.mqtt.tls.wss_listen,
        Some("127.0.0.1:8084".parse().unwrap())
    );
    // What it leaves wrong is refused as a file's value would be.
    let e = Settings::load_adjusted(Some(&file), |s| -> Result<_, ConfigError> {
        s.mqtt.tls.tls_cert = Some("made/cert.pem".into());
        Ok(())
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("mqtt.tls_key"), "{e}");
}

#[test]
fn telemetry_is_off_unless_an_endpoint_is_set() {
    let s = Settings::load_with_env(None, env(&[])).unwrap();
    assert!(s.telemetry.otlp_endpoint.is_none());
    assert_eq!(s.telemetry.traces_url(), None);
    assert_eq!(s.telemetry.service_name, "griddispatch");
    assert_eq!(s.telemetry.sample_ratio, 1.0);
    let traces = |endpoint: &str| {
        Settings::load_with_env(
            None,
            env(&[("GRIDDISPATCH__TELEMETRY__OTLP_ENDPOINT", endpoint)]),
        )
        .unwrap()
        .telemetry
        .traces_url()
    };
    // The collector's address, as OTEL_EXPORTER_OTLP_ENDPOINT takes it; or the full URL.
    for (endpoint, url) in [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
        ("http://otel:4318/", "http://otel:4318/v1/traces"),
        ("http://proxy/otlp", "http://proxy/otlp/v1/traces"),
        ("http://otel:4318/v1/traces", "http://otel:4318/v1/traces"),
    ] {
        assert_eq!(traces(endpoint).as_deref(), Some(url), "{endpoint}");
    }
}

#[test]
fn a_bad_telemetry_setting_is_refused_naming_its_key() {
    for (key, value) in [
        ("GRIDDISPATCH__TELEMETRY__OTLP_ENDPOINT", "127.0.0.1:4318"),
        ("GRIDDISPATCH__TELEMETRY__OTLP_ENDPOINT", "not a url"),
        // Our HTTP client has no built-in roots: https would fail at every export.
        (
            "GRIDDISPATCH__TELEMETRY__OTLP_ENDPOINT",
            "https://otel:4318",
        ),
        ("GRIDDISPATCH__TELEMETRY__OTLP_ENDPOINT", "grpc://otel:4317"),
        ("GRIDDISPATCH__TELEMETRY__SAMPLE_RATIO", "1.5"),
        ("GRIDDISPATCH__TELEMETRY__SAMPLE_RATIO", "-0.1"),
        ("GRIDDISPATCH__TELEMETRY__SERVICE_NAME", " "),
    ] {
        let err = Settings::load_with_env(None, env(&[(key, value)]))
            .unwrap_err()
            .to_string();
        let setting = key
            .trim_start_matches("GRIDDISPATCH__")
            .replace("__", ".")
            .to_lowercase();
        assert!(err.contains(&setting), "{key}={value}: {err}");
    }
}
