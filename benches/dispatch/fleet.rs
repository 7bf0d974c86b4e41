//! 2. Alert → task: the worker fleet, a child process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::stats::unix_ns;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, Semaphore};

// ---- 2. alert → task, the worker fleet (child process) ---------------------------------

/// Child process: connects one MQTT client per line of `file` (`rid password lat lon`),
/// publishes each worker's OwnTracks fix, then answers every offer with `accepted` and
/// `resolved`. Writes to stdout: `READY <connected> <failed> <secs>` once, then
/// `T <alert description> <unix ns>` per offer received. Exits when stdin closes, or after
/// `max_secs` whatever happens, so a lost parent cannot leave it running.
pub(crate) async fn fleet(file: String, host: String, port: u16, max_secs: u64) {
    let text = std::fs::read_to_string(&file).expect("fleet file");
    let workers: Vec<(String, String, f64, f64)> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((
                it.next()?.to_owned(),
                it.next()?.to_owned(),
                it.next()?.parse().ok()?,
                it.next()?.parse().ok()?,
            ))
        })
        .collect();
    let total = workers.len();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = out_rx.recv().await {
            let mut buf = line;
            // Batch what is already queued into one write, so 1,000 lines/s stay cheap.
            while let Ok(more) = out_rx.try_recv() {
                buf.push_str(&more);
            }
            if stdout.write_all(buf.as_bytes()).await.is_err() {
                break;
            }
            let _ = stdout.flush().await;
        }
    });

    let ready = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    // Bounded concurrent CONNECTs: a burst of 10,000 SYNs would overflow the listen backlog
    // and the broker's login checks would queue past its CONNECT timeout.
    let connecting = Arc::new(Semaphore::new(200));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for (rid, password, lat, lon) in workers {
        let permit = connecting.clone().acquire_owned().await.expect("semaphore");
        let (ready, failed, out) = (ready.clone(), failed.clone(), out_tx.clone());
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let mut opts = MqttOptions::new(format!("phone-{rid}"), host, port);
            opts.set_keep_alive(Duration::from_secs(120));
            opts.set_credentials(rid.clone(), password);
            opts.set_clean_session(true);
            let (client, mut events) = AsyncClient::new(opts, 64);
            let inbox = format!("dispatch/{rid}/tasks/");
            client
                .try_subscribe(format!("{inbox}#"), QoS::AtLeastOnce)
                .expect("queue subscribe");
            let mut permit = Some(permit);
            let mut errors = 0u32;
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let fix = json!({"_type":"location","lat":lat,"lon":lon,
                            "tst":unix_ns() / 1_000_000_000,"acc":8,"batt":80,"tid":"bn"});
                        let _ = client.try_publish(
                            format!("owntracks/{rid}/phone"),
                            QoS::AtLeastOnce,
                            false,
                            fix.to_string(),
                        );
                        if permit.take().is_some() {
                            ready.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let got = unix_ns();
                        // Update answers and our own task's later versions share the
                        // inbox; only a fresh offer starts the measurement.
                        if p.payload.is_empty() || p.topic.contains("/update") {
                            continue;
                        }
                        let Ok(task) = serde_json::from_slice::<Value>(&p.payload) else {
                            continue;
                        };
                        if task["status"] != "offered" {
                            continue;
                        }
                        let desc = task["description"].as_str().unwrap_or("-");
                        let _ = out.send(format!("T {desc} {got}\n"));
                        let v = task["version"].as_i64().unwrap_or(1);
                        let topic = format!("{}/update", p.topic);
                        // Both at once: the dispatcher handles one client's updates in
                        // order, so `resolved` always follows `accepted`.
                        for (status, version) in [("accepted", v), ("resolved", v + 1)] {
                            let _ = client.try_publish(
                                topic.clone(),
                                QoS::AtLeastOnce,
                                false,
                                json!({"status": status, "version": version}).to_string(),
                            );
                        }
                    }
                    Ok(_) => {}
                    Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                        eprintln!("fleet: {rid} refused: {code:?}");
                        failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("fleet: {rid}: {e}; reconnecting");
                        }
                        if permit.is_some() && errors >= 5 {
                            failed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while ready.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < total
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = out_tx.send(format!(
        "READY {} {} {:.2}\n",
        ready.load(Ordering::Relaxed),
        total - ready.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    ));
    // Run until the parent closes our stdin (or dies), bounded in any case.
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let _ = tokio::time::timeout(Duration::from_secs(max_secs), async {
        while let Ok(Some(_)) = stdin.next_line().await {}
    })
    .await;
    for t in tasks {
        t.abort();
    }
    drop(out_tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}
