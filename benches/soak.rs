//! Soak benchmark (issue 19, "Memory over time with cameras"): the real app
//! (`griddispatch serve`, started as a child process on free loopback ports) probing
//! 1,000 cameras round after round, its resident size read after every round, to tell a
//! plateau from a leak.
//!
//! Half the cameras point at a real H.264 RTSP stream that this process serves
//! (gst-rtsp-server, one shared media, `benches/common/rtsp.rs`), so every probe of theirs opens a session and
//! decodes video; the other half at a port that accepts connections and never answers, so
//! each of their probes lasts its whole timeout. Rounds are counted with the app's
//! `camera_probe_rounds_total` (from `/metrics`); `/proc/PID/status` is read every 250 ms.
//! Per round it keeps `VmRSS` when the round was seen to end, the least and the most since
//! the round before (the least falls in the quiet time between rounds), `VmHWM` and the
//! thread count, writes them to `soak.csv` and plots them to `soak-rss.svg` in the output
//! folder, and prints a markdown summary.
//!
//! Run it with `scripts/bench soak` (or `cargo bench --bench soak --locked`). Options:
//!
//! - `--cameras N` (default 1,000), `--rounds N` (default 200).
//! - `--interval S`, `--timeout S`, `--concurrency N`: the app's
//!   `video.probe_interval_secs`, `probe_timeout_secs`, `max_concurrent_probes`
//!   (defaults 12, 2, 200: a round of 1,000 cameras took about 9.5 s on 2 cores).
//! - `--quick`: 200 cameras, 20 rounds (a smoke run that shows the shape).
//! - `--env K=V`: extra environment for the app, e.g. `--env MALLOC_ARENA_MAX=2` (repeatable).
//! - `--out DIR`: where the CSV, the SVG and the app's log go (default
//!   `<target>/release/soak-<time>`).
//! - `--app PATH`: the binary to start (default: the `griddispatch` this build made; give a
//!   copy for a long run, since other builds sharing the target folder may replace it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use app::{cpu_model, load_average, mib, start_app, status_kib};
use griddispatch::store::{CameraRow, Store};

#[path = "common/app.rs"]
mod app;
#[path = "common/rtsp.rs"]
#[allow(dead_code)]
mod cameras;
#[path = "soak/plot.rs"]
mod plot;

#[derive(Debug)]
struct Options {
    cameras: usize,
    rounds: u64,
    interval: u64,
    timeout: u64,
    concurrency: usize,
    env: Vec<(String, String)>,
    out: Option<PathBuf>,
    app: PathBuf,
}

fn options() -> Options {
    let mut o = Options {
        cameras: 1_000,
        rounds: 200,
        interval: 12,
        timeout: 2,
        concurrency: 200,
        env: Vec::new(),
        out: None,
        app: env!("CARGO_BIN_EXE_griddispatch").into(),
    };
    let (mut cameras, mut rounds) = (None, None);
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("a value after the option");
        match a.as_str() {
            "--quick" => quick = true,
            "--cameras" => cameras = Some(value().parse().unwrap()),
            "--rounds" => rounds = Some(value().parse().unwrap()),
            "--interval" => o.interval = value().parse().unwrap(),
            "--timeout" => o.timeout = value().parse().unwrap(),
            "--concurrency" => o.concurrency = value().parse().unwrap(),
            "--env" => {
                let kv = value();
                let (k, v) = kv.split_once('=').expect("--env K=V");
                o.env.push((k.to_owned(), v.to_owned()));
            }
            "--out" => o.out = Some(value().into()),
            "--app" => o.app = value().into(),
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    if quick {
        (o.cameras, o.rounds) = (200, 20);
    }
    o.cameras = cameras.unwrap_or(o.cameras);
    o.rounds = rounds.unwrap_or(o.rounds);
    o
}

/// `griddispatch_<name>` from the metrics text.
fn metric(text: &str, name: &str) -> Option<u64> {
    let prefix = format!("griddispatch_{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// What the soak keeps of one round.
struct Round {
    round: u64,
    at_s: f64,
    round_ms: u64,
    probes: u64,
    failed: u64,
    rss: f64,
    rss_min: f64,
    rss_max: f64,
    hwm: f64,
    threads: f64,
    threads_max: f64,
    load1: String,
}

const CSV_HEADER: &str = "round,elapsed_s,round_ms,probes,failed,rss_mib,rss_min_mib,rss_max_mib,hwm_mib,threads,threads_max,load1";

impl Round {
    fn csv(&self) -> String {
        format!(
            "{},{:.1},{},{},{},{:.1},{:.1},{:.1},{:.1},{},{},{}",
            self.round,
            self.at_s,
            self.round_ms,
            self.probes,
            self.failed,
            self.rss,
            self.rss_min,
            self.rss_max,
            self.hwm,
            self.threads,
            self.threads_max,
            self.load1
        )
    }
}

/// The cameras, every other one on the stream, the rest silent.
fn camera_rows(n: usize, stream: &str, silent: &str) -> Vec<CameraRow> {
    (0..n)
        .map(|i| CameraRow {
            id: format!("soak-{i:05}"),
            name: format!("Soak camera {i}"),
            lat: 39.4 + (i / 100) as f64 * 0.001,
            lon: 106.6 + (i % 100) as f64 * 0.001,
            zone_id: None,
            stream_uri: Some(if i % 2 == 0 { stream } else { silent }.to_owned()),
            gb28181_id: None,
            heading: None,
            fov: None,
            onvif_metadata: false,
        })
        .collect()
}

/// Reads the app's status every 250 ms and its metrics until `o.rounds` rounds of every
/// camera have ended; one [`Round`] each, appended to `csv` as they come.
async fn watch(o: &Options, app: &app::App, csv: &Path) -> anyhow::Result<Vec<Round>> {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut last_round_at = Instant::now();
    let (mut seen, mut probes_seen, mut failed_seen) = (0, 0, 0);
    let (mut rss_min, mut rss_max, mut threads_max) = (f64::MAX, 0.0_f64, 0.0_f64);
    let mut rows = Vec::new();
    let mut file = String::from(CSV_HEADER);
    file.push('\n');
    std::fs::write(csv, &file)?;
    while (rows.len() as u64) < o.rounds {
        let rss = mib(status_kib(app.pid, "VmRSS:"));
        anyhow::ensure!(!rss.is_nan(), "the app (pid {}) is gone", app.pid);
        let threads = status_kib(app.pid, "Threads:").unwrap_or(f64::NAN);
        (rss_min, rss_max) = (rss_min.min(rss), rss_max.max(rss));
        threads_max = threads_max.max(threads);
        let text = http
            .get(format!("{}/metrics", app.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .text()
            .await?;
        let get = |name| metric(&text, name).unwrap_or(0);
        let rounds = get("camera_probe_rounds_total");
        if rounds > seen {
            let (probes, failed) = (
                get("camera_probes_total"),
                get("camera_probe_failures_total"),
            );
            if get("camera_probe_round_cameras") as usize == o.cameras {
                let r = Round {
                    round: rows.len() as u64 + 1,
                    at_s: started.elapsed().as_secs_f64(),
                    round_ms: get("camera_probe_round_ms"),
                    probes: probes - probes_seen,
                    failed: failed - failed_seen,
                    rss,
                    rss_min,
                    rss_max,
                    hwm: mib(status_kib(app.pid, "VmHWM:")),
                    threads,
                    threads_max,
                    load1: load_average().split(' ').next().unwrap_or("").to_owned(),
                };
                eprintln!(
                    "round {}: {} ms, {} probes ({} failed); RSS {:.1} MiB (least {:.1}, most {:.1}), HWM {:.1}, threads {} (most {})",
                    r.round, r.round_ms, r.probes, r.failed, r.rss, r.rss_min, r.rss_max, r.hwm, r.threads, r.threads_max
                );
                file.push_str(&r.csv());
                file.push('\n');
                std::fs::write(csv, &file)?;
                rows.push(r);
            }
            (seen, probes_seen, failed_seen) = (rounds, probes, failed);
            (rss_min, rss_max, threads_max) = (rss, rss, threads);
            last_round_at = Instant::now();
        }
        anyhow::ensure!(
            last_round_at.elapsed() < Duration::from_secs(600),
            "no probe round ended for 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(rows)
}

/// Least-squares slope of `y` against round over `rows`, MiB per 100 rounds.
fn slope_per_100(rows: &[Round], y: impl Fn(&Round) -> f64) -> f64 {
    let n = rows.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let mx = rows.iter().map(|r| r.round as f64).sum::<f64>() / n;
    let my = rows.iter().map(&y).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for r in rows {
        let dx = r.round as f64 - mx;
        sxy += dx * (y(r) - my);
        sxx += dx * dx;
    }
    sxy / sxx * 100.0
}

fn summary(o: &Options, rows: &[Round], load_at_start: &str, when: &str) -> String {
    let mut s = String::new();
    let env = o
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let _ = writeln!(
        s,
        "\n{}, {} cores; load average {load_at_start} at start, {} at the end; {when}.\n",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average()
    );
    let _ = writeln!(
        s,
        "{} cameras (half on one H.264 RTSP stream, half silent), interval {} s, timeout {} s, {} probes at once{}; {} rounds.\n",
        o.cameras,
        o.interval,
        o.timeout,
        o.concurrency,
        if env.is_empty() { String::new() } else { format!(", app environment {env}") },
        rows.len()
    );
    let _ = writeln!(s, "| Round | minutes in | round (ms) | failed probes | RSS at end (MiB) | least since the round before (MiB) | most (MiB) | VmHWM (MiB) | threads (most) |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let last = rows.len() as u64;
    for r in rows {
        let show = r.round <= 5 || r.round % 25 == 0 || r.round == 10 || r.round == last;
        if show {
            let _ = writeln!(
                s,
                "| {} | {:.1} | {} | {}/{} | {:.1} | {:.1} | {:.1} | {:.1} | {} ({}) |",
                r.round,
                r.at_s / 60.0,
                r.round_ms,
                r.failed,
                r.probes,
                r.rss,
                r.rss_min,
                r.rss_max,
                r.hwm,
                r.threads,
                r.threads_max
            );
        }
    }
    let half = &rows[rows.len() / 2..];
    let _ = writeln!(
        s,
        "\nSecond half (rounds {}–{}): least RSS between rounds {:.1}–{:.1} MiB, slope {:+.1} MiB per 100 rounds (least), {:+.1} (at end).",
        half.first().map_or(0, |r| r.round),
        last,
        half.iter().map(|r| r.rss_min).fold(f64::MAX, f64::min),
        half.iter().map(|r| r.rss_min).fold(0.0, f64::max),
        slope_per_100(half, |r| r.rss_min),
        slope_per_100(half, |r| r.rss)
    );
    s
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let o = options();
    let when = chrono::Utc::now();
    let out = o.out.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_BIN_EXE_griddispatch"))
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("soak-{}", when.format("%Y%m%d-%H%M%S")))
    });
    std::fs::create_dir_all(&out)?;
    let load_at_start = load_average();
    let stream = cameras::RtspServer::start(&cameras::h264_launch(160, 120, 5), 0);
    let silent = cameras::SilentCamera::holding(Duration::from_secs(o.timeout * 3 + 5));

    let db = tempfile::tempdir()?;
    let url = format!("sqlite://{}/soak.db", db.path().display());
    let store = Store::connect(&url, 2).await?;
    store
        .import_cameras(&camera_rows(o.cameras, &stream.uri(), &silent.uri()))
        .await?;
    store.close().await;

    let mut extra: Vec<(&str, String)> = vec![
        (
            "GRIDDISPATCH__VIDEO__PROBE_INTERVAL_SECS",
            o.interval.to_string(),
        ),
        (
            "GRIDDISPATCH__VIDEO__PROBE_TIMEOUT_SECS",
            o.timeout.to_string(),
        ),
        (
            "GRIDDISPATCH__VIDEO__MAX_CONCURRENT_PROBES",
            o.concurrency.to_string(),
        ),
        // The silent half goes offline; incidents for them are not what is measured.
        (
            "GRIDDISPATCH__VIDEO__OFFLINE_INCIDENT_AFTER_SECS",
            "86400".into(),
        ),
    ];
    extra.extend(o.env.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let http = reqwest::Client::new();
    let app = start_app(&o.app, &url, db.path(), &extra, &http).await?;
    eprintln!(
        "soak: {} cameras, {} rounds; app pid {} ready after {:.1?}, output in {}",
        o.cameras,
        o.rounds,
        app.pid,
        app.ready_after,
        out.display()
    );
    let rows = watch(&o, &app, &out.join("soak.csv")).await;
    let _ = std::fs::copy(db.path().join("serve.log"), out.join("serve.log"));
    app.stop().await?;
    let rows = rows?;

    let series = |f: fn(&Round) -> f64| rows.iter().map(|r| (r.round, f(r))).collect();
    plot::rss_svg(
        &out.join("soak-rss.svg"),
        &format!(
            "griddispatch serve, {} cameras (half answering), {} s rounds: resident memory",
            o.cameras, o.interval
        ),
        &[
            plot::Line {
                label: "VmHWM (peak so far)",
                color: plotters::style::RGBColor(200, 120, 0),
                points: series(|r| r.hwm),
            },
            plot::Line {
                label: "VmRSS, most during the round",
                color: plotters::style::RGBColor(200, 30, 30),
                points: series(|r| r.rss_max),
            },
            plot::Line {
                label: "VmRSS, least since the round before",
                color: plotters::style::RGBColor(30, 60, 200),
                points: series(|r| r.rss_min),
            },
        ],
    )?;
    let text = summary(
        &o,
        &rows,
        &load_at_start,
        &when.format("%Y-%m-%d %H:%M UTC").to_string(),
    );
    std::fs::write(out.join("summary.md"), &text)?;
    println!("{text}");
    println!("CSV, plot and the app's log in {}", out.display());
    drop(stream);
    drop(silent);
    Ok(())
}
