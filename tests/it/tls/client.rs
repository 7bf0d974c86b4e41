//! The dispatcher's own client over mqtts:// (`mqtt.url`, `mqtt.ca_file`) to an external
//! broker: a Mosquitto of its own for this test, with only a TLS listener (the embedded
//! broker cannot stand in: it lets only its own dispatcher log in as the superuser). A
//! worker's phone over TLS to the same Mosquitto gets its task; a dispatcher that trusts
//! another CA never connects.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use super::{spawn, Certs, TlsClient};
use crate::common::{self, free_port, test_settings, wait_up_to, TestApp};

/// A Mosquitto with one TLS listener on 127.0.0.1, anonymous clients allowed; killed on drop.
struct TlsMosquitto {
    child: Child,
    port: u16,
}

impl Drop for TlsMosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsMosquitto {
    /// Starts one with `certs`, or None (after saying so loudly) when there is no mosquitto.
    fn start(dir: &std::path::Path, certs: &Certs, test: &str) -> Option<TlsMosquitto> {
        let Some(bin) = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
        else {
            eprintln!(
                "\n*** SKIPPED {test}: no mosquitto binary (apt-get install mosquitto) ***\n"
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "Mosquitto is required in CI"
            );
            return None;
        };
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "# Run as root in the test: keep root, which can read the key in the test folder.\n\
                 user root\n\
                 persistence false\n\
                 allow_anonymous true\n\
                 listener {port} 127.0.0.1\n\
                 cafile {}\ncertfile {}\nkeyfile {}\n",
                certs.ca.display(),
                certs.cert.display(),
                certs.key.display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        let deadline = std::time::Instant::now() + common::WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "mosquitto never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(TlsMosquitto { child, port })
    }
}

/// `/readyz`'s `mqtt` field.
async fn mqtt_ready(app: &TestApp) -> Option<bool> {
    let resp = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .ok()?;
    let v: Value = resp.json().await.ok()?;
    v["mqtt"].as_bool()
}

/// Settings with no embedded broker, the dispatcher on `url` trusting `ca`.
fn dispatcher_settings(
    dir: &tempfile::TempDir,
    url: &str,
    ca: &std::path::Path,
) -> griddispatch::config::Settings {
    let client_id = format!("gd-tls-{}", common::unique());
    let ca = ca.display().to_string();
    test_settings(
        dir,
        &[
            ("GRIDDISPATCH__MQTT__LISTEN", ""),
            ("GRIDDISPATCH__MQTT__URL", url),
            ("GRIDDISPATCH__MQTT__CA_FILE", &ca),
            ("GRIDDISPATCH__MQTT__CLIENT_ID", &client_id),
            ("GRIDDISPATCH__MQTT__PERSISTENT_SESSION", "false"),
        ],
    )
}

/// An instance with no embedded broker whose dispatcher uses `url`, trusting `ca`.
async fn dispatcher_on(url: &str, ca: &std::path::Path) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let settings = dispatcher_settings(&dir, url, ca);
    spawn(dir, settings, reqwest::Client::new()).await
}

#[tokio::test]
async fn the_dispatcher_works_through_a_broker_over_mqtts_and_refuses_a_foreign_ca() {
    let test = "the_dispatcher_works_through_a_broker_over_mqtts_and_refuses_a_foreign_ca";
    let folder = tempfile::tempdir().unwrap();
    let certs = Certs::make(folder.path(), "mosquitto");
    let Some(broker) = TlsMosquitto::start(folder.path(), &certs, test) else {
        return;
    };
    let url = format!("mqtts://localhost:{}", broker.port);

    let app = dispatcher_on(&url, &certs.ca).await;
    assert_eq!(app.running.as_ref().unwrap().mqtt_url, url);
    wait_up_to(
        common::WAIT,
        "the dispatcher's mqtts connection",
        || async { (mqtt_ready(&app).await == Some(true)).then_some(Value::Null) },
    )
    .await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let pw = app.responder("w1", "grid_worker", "foot", Some("g1")).await;
    let mut phone = TlsClient::subscribed(
        "localhost",
        broker.port,
        Some(certs.ca_pem()),
        &format!("phone-w1-{}", common::unique()),
        ("w1", &pw),
        "dispatch/w1/tasks/#",
    )
    .await;
    let tst = phone.locate("w1", 39.4951, 106.6951).await;
    app.wait_fix("w1", tst).await;
    let incident = app
        .alert(json!({"id":"a1","kind":"medical","severity":2,"lat":39.4952,"lon":106.6952}))
        .await;
    let task = phone.task("w1").await;
    assert_eq!(task["incident_id"], incident.as_str());

    // A dispatcher trusting another CA refuses the broker's certificate: it starts (the
    // API serves), but never connects, and says so in /readyz (and an error in its log).
    let other = Certs::make(folder.path(), "other");
    let dir = tempfile::tempdir().unwrap();
    let running = griddispatch::app::start(&dispatcher_settings(&dir, &url, &other.ca))
        .await
        .expect("starts");
    let readyz = format!("http://{}/readyz", running.http_addr);
    for _ in 0..10 {
        let resp = reqwest::get(&readyz).await.unwrap();
        assert_eq!(resp.status(), 503);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["mqtt"], false, "{v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    running.stop().await.unwrap();
    common::drop_test_db(dir.path());

    // A CA file that is not one stops the start with an error naming the setting.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let junk = junk.display().to_string();
    let settings = test_settings(
        &dir,
        &[
            ("GRIDDISPATCH__MQTT__LISTEN", ""),
            ("GRIDDISPATCH__MQTT__URL", &url),
            ("GRIDDISPATCH__MQTT__CA_FILE", &junk),
        ],
    );
    let e = griddispatch::app::start(&settings)
        .await
        .expect_err("a junk CA file was taken");
    assert!(format!("{e:#}").contains("mqtt.ca_file"), "{e:#}");
    common::drop_test_db(dir.path());
}
