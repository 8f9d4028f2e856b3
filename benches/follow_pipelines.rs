//! Many `follow` streams in one run: N streams, each a melody file read at real-time pace,
//! each following the same melody, on 1 and 2 workers. The follow streams a worker holds share
//! its audio encoder (one batch per step for all of them); the `batch` column is the mean
//! number of frames per encoder call, from the run's `GET /metrics`. A row keeps real time when
//! no stream dropped a record. CPU is the run's user + system time over its wall time; latency
//! is capture to provisional `position`; error is |reference − live| of the final positions
//! (each stream plays the reference itself, so the truth is reference = live).
//!
//! `cargo bench --bench follow_pipelines`. FOLLOW_PIPELINES_SECONDS sets the melody's length
//! (default 20); FOLLOW_PIPELINES_FEATURES the `--audio-features` compared, one table block
//! each (default `logmel-flux,logmel`); FOLLOW_PIPELINES_BIN runs another build of warpflow instead, e.g. an earlier
//! commit's, for a before-and-after on one machine (the batch column needs `/metrics`' shared
//! encoder, so it stays empty for builds without one).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{melody, render, write_wav, TimeMap};
use serde_json::Value;

const RATE_HZ: u32 = 22_050;

/// What one row's run reported.
struct Row {
    wall_s: f64,
    cpu_s: f64,
    finished_streams: usize,
    dropped: u64,
    latency_ms: Vec<f64>,
    error_ms: Vec<f64>,
    mean_batch: Option<f64>,
}

fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// The shared encoder's batch histogram (sum and count) from `GET /metrics` at `address`.
fn shared_batches(address: &str) -> Option<(f64, f64)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let value = |suffix: &str| {
        text.lines()
            .find(|l| l.contains(suffix) && l.contains("stream=\"shared\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some((
        value("encoder_batch_records_sum")?,
        value("encoder_batch_records_count")?,
    ))
}

fn run_row(binary: &str, live: &Path, features: &str, streams: usize, workers: usize) -> Row {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let address = format!("127.0.0.1:{port}");
    let mut args = vec![
        "-f".to_owned(),
        "%U %S".to_owned(),
        binary.to_owned(),
        "follow".into(),
        "--reference".into(),
        live.to_string_lossy().into_owned(),
        "--pace".into(),
        "realtime".into(),
        "--audio-features".into(),
        features.to_owned(),
        "--workers".into(),
        workers.to_string(),
        "--serve".into(),
        address.clone(),
    ];
    for index in 0..streams {
        args.extend([
            "--live".into(),
            live.to_string_lossy().into_owned(),
            "--stream".into(),
            format!("s{index}"),
        ]);
    }
    let started = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/time runs warpflow");
    let stdout = child.stdout.take().expect("piped");
    let mut row = Row {
        wall_s: 0.0,
        cpu_s: 0.0,
        finished_streams: 0,
        dropped: 0,
        latency_ms: Vec::new(),
        error_ms: Vec::new(),
        mean_batch: None,
    };
    let mut batches = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match event["type"].as_str() {
            Some("position") if event["final"] == false => {
                row.latency_ms
                    .push(event["latency_ns"].as_f64().unwrap_or(f64::NAN) / 1e6);
            }
            Some("position") => {
                let (live, reference) = (event["live_ns"].as_f64(), event["ref_ns"].as_f64());
                if let (Some(live), Some(reference)) = (live, reference) {
                    row.error_ms.push((reference - live).abs() / 1e6);
                }
            }
            Some("progress") if event["stage"] == "finished" => {
                row.dropped += event["frames_dropped"].as_u64().unwrap_or(0);
                // The last stream's finishing: the encoder's metrics are complete.
                batches = shared_batches(&address).or(batches);
            }
            Some("eos") => row.finished_streams += 1,
            _ => {}
        }
    }
    let output = child.wait_with_output().expect("warpflow ends");
    row.wall_s = started.elapsed().as_secs_f64();
    row.cpu_s = String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()
        .map(|l| l.split_whitespace().filter_map(|w| w.parse::<f64>().ok()).sum())
        .unwrap_or(f64::NAN);
    row.mean_batch = batches
        .filter(|(_, count)| *count > 0.0)
        .map(|(sum, count)| sum / count);
    row
}

fn main() {
    let seconds: f64 = std::env::var("FOLLOW_PIPELINES_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20.0);
    let binary = std::env::var("FOLLOW_PIPELINES_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_warpflow").to_owned());
    let dir = tempfile::tempdir().expect("temporary folder");
    let live = dir.path().join("melody.wav");
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (seconds, seconds)],
    };
    write_wav(
        &live,
        RATE_HZ,
        &render(&melody(seconds), &identity, RATE_HZ, seconds, 0.01),
    );
    println!("{binary}, a {seconds} s melody per stream");
    println!();
    let features = std::env::var("FOLLOW_PIPELINES_FEATURES").unwrap_or_else(|_| "logmel-flux,logmel".to_owned());
    println!(
        "| features | workers | streams | wall | CPU | finished | dropped | latency p50 / p99 | error median / p90 | batch |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let rows = [(1usize, [1usize, 8, 32, 64].as_slice()), (2, [64].as_slice())];
    for (features, (workers, counts)) in features.split(',').flat_map(|f| rows.map(|r| (f, r))) {
        for &streams in counts {
            let mut row = run_row(&binary, &live, features, streams, workers);
            let batch = row.mean_batch.map_or("–".to_owned(), |b| format!("{b:.1}"));
            println!(
                "| {features} | {workers} | {streams} | {:.1} s | {:.0}% | {} of {streams} | {} | {:.1} / {:.1} ms | {:.0} / {:.0} ms | {batch} |",
                row.wall_s,
                100.0 * row.cpu_s / row.wall_s,
                row.finished_streams,
                row.dropped,
                quantile(&mut row.latency_ms, 0.5),
                quantile(&mut row.latency_ms, 0.99),
                quantile(&mut row.error_ms, 0.5),
                quantile(&mut row.error_ms, 0.9),
            );
        }
    }
}
