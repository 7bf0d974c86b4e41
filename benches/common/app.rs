//! The real app as a child process, for the benchmarks that measure it from outside
//! (`benches/scale.rs`, `benches/soak.rs`): start `griddispatch serve` on free loopback
//! ports, wait for `/readyz`, read its `/proc/PID/status`, stop it.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A port nobody listens on now (bound, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A line of `/proc/PID/status`: its first number (kB for the `Vm*` lines, a count for
/// `Threads:`).
pub fn status_kib(pid: u32, field: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
}

/// kB to MiB; NaN when unknown.
pub fn mib(kib: Option<f64>) -> f64 {
    kib.map_or(f64::NAN, |k| k / 1024.0)
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` writes them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The CPU's model name from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// A running `griddispatch serve`.
pub struct App {
    pub child: tokio::process::Child,
    pub pid: u32,
    pub base: String,
    /// From spawning the process until `/readyz` answered 200.
    pub ready_after: Duration,
}

/// Starts `serve` of binary `app` on `db_url` (files beside it in `data_dir`, its log in
/// `data_dir/serve.log`) with `extra` settings and environment, and waits for `/readyz`.
pub async fn start_app(
    app: &Path,
    db_url: &str,
    data_dir: &Path,
    extra: &[(&str, String)],
    http: &reqwest::Client,
) -> anyhow::Result<App> {
    let (http_port, mqtt_port) = (free_port(), free_port());
    let log = std::fs::File::create(data_dir.join("serve.log"))?;
    let mut cmd = tokio::process::Command::new(app);
    cmd.arg("serve")
        .env(
            "GRIDDISPATCH__HTTP__LISTEN",
            format!("127.0.0.1:{http_port}"),
        )
        .env(
            "GRIDDISPATCH__MQTT__LISTEN",
            format!("127.0.0.1:{mqtt_port}"),
        )
        .env("GRIDDISPATCH__DATABASE__URL", db_url)
        .env("GRIDDISPATCH__DATABASE__DATA_DIR", data_dir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let base = format!("http://127.0.0.1:{http_port}");
    let spawned = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id().unwrap_or(0);
    loop {
        let ok = http
            .get(format!("{base}/readyz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().as_u16() == 200);
        if ok {
            break;
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!(
                "serve exited ({status}) before /readyz; see {}",
                data_dir.join("serve.log").display()
            );
        }
        anyhow::ensure!(
            spawned.elapsed() < Duration::from_secs(900),
            "/readyz never answered 200"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(App {
        ready_after: spawned.elapsed(),
        child,
        pid,
        base,
    })
}

impl App {
    /// SIGTERM (a clean stop), then SIGKILL if it has not ended within 20 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            eprintln!("serve {} did not stop on SIGTERM; killed", self.pid);
            self.child.kill().await?;
        }
        Ok(())
    }
}
