//! Probing 200 cameras, half of which never answer: every round ends within the interval,
//! and neither threads nor memory keep growing. It counts the threads and memory of the
//! whole process, so it runs alone in a process of its own ([`common::run_alone`]).

use std::time::Duration;

use crate::common::rtsp;
use crate::common::{self, metric, TestApp};
use rtsp::{h264_launch, RtspServer};

/// Threads and resident memory of this process (Linux).
fn threads_and_rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (field("Threads:"), field("VmRSS:"))
}

/// Waits (60 s at most) until a probe round after round `seen` has completed; returns the
/// metrics then, with the fewest threads and the least resident memory (KiB) the process
/// had meanwhile. Those lows come from the quiet time between two rounds, once a round's
/// pipelines and connections are gone, so probes still finishing, or a loaded machine
/// slow to tear them down, do not count; what a round leaks is still there.
async fn next_round(app: &TestApp, seen: u64) -> (String, u64, u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (mut threads, mut rss) = (u64::MAX, u64::MAX);
    loop {
        let (t, r) = threads_and_rss_kib();
        (threads, rss) = (threads.min(t), rss.min(r));
        let m = app.metrics().await;
        if metric(&m, "camera_probe_rounds_total") > seen {
            return (m, threads, rss);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no probe round after round {seen} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn two_hundred_cameras_half_silent_probe_within_the_interval_without_growing() {
    if common::run_alone(
        module_path!(),
        "two_hundred_cameras_half_silent_probe_within_the_interval_without_growing",
    ) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(two_hundred_cameras());
    }
}

async fn two_hundred_cameras() {
    const INTERVAL_SECS: u64 = 12;
    let server = RtspServer::start(&h264_launch(160, 120, 5), 0);
    let silent = rtsp::SilentCamera::start();
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__VIDEO__PROBE_INTERVAL_SECS", "12"),
        ("GRIDDISPATCH__VIDEO__PROBE_TIMEOUT_SECS", "2"),
        ("GRIDDISPATCH__VIDEO__MAX_CONCURRENT_PROBES", "50"),
        // The silent half goes offline; no incidents needed for this test.
        ("GRIDDISPATCH__VIDEO__OFFLINE_INCIDENT_AFTER_SECS", "3600"),
    ])
    .await;
    let mut csv = String::from("id,name,lat,lon,stream_uri\n");
    for i in 0..200 {
        let uri = if i % 2 == 0 {
            server.uri()
        } else {
            silent.uri()
        };
        csv.push_str(&format!(
            "cam{i:03},Camera {i},39.49{i:03},106.69{i:03},{uri}\n"
        ));
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/cameras/import", app.base))
        .bearer_auth(&app.token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.text().await.unwrap()
    );

    // For each round: the fewest threads and least memory from the end of the round
    // before it to its own end (see `next_round`).
    let mut samples = Vec::new();
    let mut seen = 0;
    while samples.len() < 4 {
        let (m, threads, rss) = next_round(&app, seen).await;
        let m = m.as_str();
        seen = metric(m, "camera_probe_rounds_total");
        let round_ms = metric(m, "camera_probe_round_ms");
        if metric(m, "camera_probe_round_cameras") == 0 {
            // A round that ran before the import.
            continue;
        }
        assert_eq!(metric(m, "camera_probe_round_cameras"), 200);
        assert!(
            round_ms < INTERVAL_SECS * 1000,
            "round {seen} took {round_ms} ms, interval {INTERVAL_SECS} s"
        );
        eprintln!("round {seen}: {round_ms} ms; since the last round at least {threads} threads, {rss} KiB resident");
        samples.push((threads, rss));
    }
    let cams = app.get("/api/v1/cameras").await;
    let cams = cams.as_array().unwrap();
    let online = cams.iter().filter(|c| c["status"] == "online").count();
    let offline = cams.iter().filter(|c| c["status"] == "offline").count();
    assert_eq!((online, offline), (100, 100), "online/offline");
    // The first round warms thread pools, caches and allocator arenas; after it the count
    // of threads must stay put and memory may only settle (a leaked pipeline per probe
    // would cost megabytes per round: 100 answering streams decode every round).
    let (t1, r1) = samples[1];
    let (t3, r3) = samples[3];
    assert!(t3 <= t1 + 8, "threads grew from {t1} to {t3}");
    assert!(
        r3 <= r1 + 64 * 1024,
        "resident memory grew from {r1} KiB to {r3} KiB"
    );
}
