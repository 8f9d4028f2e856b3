//! Many WebSocket clients on one `warpflow follow --serve` run, on loopback: what each client
//! received (and whether it missed anything), and the engine's own capture-to-event latency,
//! read from the run's standard output (not from the feed, so that the clients cannot hide
//! it). Shared by `tests/feed_load.rs` (no event lost) and `benches/feed_load.rs` (latency).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use super::served::Served;

/// What one client saw.
#[derive(Debug, Clone, Default)]
pub struct ClientReport {
    /// Events received (heartbeats not counted).
    pub events: u64,
    /// Times the seq jumped: events the client never got.
    pub missed: u64,
    /// Whether the feed closed the client for being too slow.
    pub cut_off: bool,
    /// Whether it could not connect, or its connection failed.
    pub failed: Option<String>,
}

/// The run and all its clients.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// One report per client.
    pub clients: Vec<ClientReport>,
    /// Capture-to-event latency (ms) of every provisional position the run printed.
    pub latencies_ms: Vec<f64>,
    /// Events the run printed.
    pub events_printed: u64,
}

impl LoadReport {
    /// The `q`-quantile (0..=1) of the latencies, in ms.
    pub fn latency_quantile_ms(&self, q: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return f64::NAN;
        }
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }
}

/// A mono WAV of pink noise, `seconds` long: live and reference at once, so that the run
/// emits a position for every frame whatever it finds.
pub fn noise_file(dir: &Path, seconds: u32) -> PathBuf {
    let path = dir.join("noise.wav");
    let samples = seconds * 22_050 / 1024 + 1;
    super::gst_launch(&format!(
        "audiotestsrc wave=pink-noise samplesperbuffer=1024 num-buffers={samples} ! \
         audio/x-raw,rate=22050,channels=1 ! audioconvert ! wavenc ! filesink location={}",
        path.display()
    ));
    path
}

/// Follows `file` against itself in real time with `clients` feed clients reading every
/// event for `duration`, then stops the run.
pub fn run_load(file: &Path, clients: usize, duration: Duration) -> LoadReport {
    let file = file.to_string_lossy();
    let mut run = Served::start_with(
        &[
            "follow",
            "--reference",
            &file,
            "--live",
            &file,
            "--pace",
            "realtime",
            "--serve",
            "127.0.0.1:0",
        ],
        Stdio::piped(),
    );
    let addr = run.addr;

    let printed = Arc::new(Mutex::new((Vec::new(), 0u64)));
    let stdout = run.stdout().expect("piped stdout");
    let collector = {
        let printed = printed.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let mut printed = printed.lock().expect("only this thread writes");
                printed.1 += 1;
                if event["type"] == "position" && event["final"] == false {
                    if let Some(ns) = event["latency_ns"].as_u64() {
                        printed.0.push(ns as f64 / 1e6);
                    }
                }
            }
        })
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let reports = runtime.block_on(async move {
        let url = format!("ws://{addr}/events");
        let tasks: Vec<_> = (0..clients)
            .map(|_| tokio::spawn(read_for(url.clone(), duration)))
            .collect();
        let mut reports = Vec::with_capacity(tasks.len());
        for task in tasks {
            reports.push(task.await.unwrap_or_else(|e| ClientReport {
                failed: Some(e.to_string()),
                ..ClientReport::default()
            }));
        }
        if clients == 0 {
            tokio::time::sleep(duration).await;
        }
        reports
    });
    drop(run);
    let _ = collector.join();
    let (latencies_ms, events_printed) = printed.lock().expect("the collector has ended").clone();
    LoadReport {
        clients: reports,
        latencies_ms,
        events_printed,
    }
}

/// One client: connects, reads every event for `duration`, and notes seq jumps.
async fn read_for(url: String, duration: Duration) -> ClientReport {
    let mut report = ClientReport::default();
    let (mut socket, _) = match tokio_tungstenite::connect_async(&url).await {
        Ok(connected) => connected,
        Err(error) => {
            report.failed = Some(error.to_string());
            return report;
        }
    };
    let deadline = tokio::time::Instant::now() + duration;
    let mut last_seq: Option<u64> = None;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => break,
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                report.failed = Some(error.to_string());
                break;
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                report.cut_off = frame.is_some_and(|f| u16::from(f.code) == 1008);
                break;
            }
            Ok(Some(Ok(Message::Text(text)))) => {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(text.as_str()) else {
                    continue;
                };
                let Some(seq) = event["seq"].as_u64() else { continue };
                report.events += 1;
                if let Some(last) = last_seq {
                    report.missed += seq.saturating_sub(last + 1);
                }
                last_seq = Some(seq);
            }
            Ok(Some(Ok(_))) => {}
        }
    }
    report
}
