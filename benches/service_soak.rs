//! A long run of `warpflow serve` with streams coming and going: resident memory, open files
//! and threads over time, and whether every stream's events came whole.
//!
//! Every `SOAK_PERIOD_S` (default 3 s) a new stream on a test pattern is added with
//! `warpflow streams add` (each under an id of its own, so that nothing kept per id can hide),
//! its job taken in turn from `SOAK_JOBS` (default `sync,follow`: a `sync` stream, which joins
//! the worker's shared sync dataflow, then a `follow` stream of a 60 s `.wfr`, which joins its
//! shared follow dataflow), and, once `SOAK_STREAMS` (default 6) run, the oldest is removed.
//! Each minute the service's resident memory (VmRSS), open file descriptors and threads are
//! read from /proc. At the end
//! every stream is removed and each one's events are checked: `seq` from 0 with no gap, ending
//! with `eos`.
//!
//! `cargo bench --bench service_soak` (SOAK_SECONDS sets the length, default 1800 s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "common/service.rs"]
mod service;

use common::served::Served;
use service::{client, reference_wfr, start_service, usage};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Each stream's events so far: its seqs in order, and whether its `eos` came.
#[derive(Default)]
struct Lives {
    seqs: HashMap<String, Vec<u64>>,
    ended: HashMap<String, bool>,
}

/// Starts the service, gathering each stream's events into `lives`.
fn start(lives: Arc<Mutex<Lives>>) -> (String, Served) {
    start_service(&[], move |event| {
        let (Some(stream), Some(seq)) = (event["stream"].as_str(), event["seq"].as_u64()) else {
            return;
        };
        let mut lives = lives.lock().unwrap_or_else(|p| p.into_inner());
        lives.seqs.entry(stream.to_owned()).or_default().push(seq);
        if event["type"] == "eos" {
            lives.ended.insert(stream.to_owned(), true);
        }
    })
}

fn main() {
    let seconds = setting("SOAK_SECONDS", 1800);
    let period = Duration::from_secs(setting("SOAK_PERIOD_S", 3));
    let running_at_once = setting("SOAK_STREAMS", 6) as usize;
    let jobs = std::env::var("SOAK_JOBS").unwrap_or_else(|_| "sync,follow".into());
    let jobs: Vec<&str> = jobs.split(',').map(str::trim).collect();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let wfr = reference_wfr(dir.path(), 60.0);
    let wfr = wfr.to_str().expect("a UTF-8 path");
    let lives = Arc::new(Mutex::new(Lives::default()));
    let (server, service) = start(lives.clone());
    let pid = service.id();
    println!("| minute | added | removed | failed requests | resident memory | open files | threads |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let start = Instant::now();
    let (mut added, mut removed, mut failed) = (0usize, 0usize, 0usize);
    let mut running: std::collections::VecDeque<String> = Default::default();
    let mut next_sample = Duration::ZERO;
    let mut samples = Vec::new();
    while start.elapsed() < Duration::from_secs(seconds) {
        let id = format!("s{added}");
        let job = jobs[added % jobs.len()];
        let mut args = vec!["add", &id, "--job", job, "--source", "test"];
        if job == "follow" {
            args.extend(["--reference", wfr]);
        }
        if client(&server, &args) {
            running.push_back(id);
        } else {
            failed += 1;
        }
        added += 1;
        while running.len() > running_at_once {
            let oldest = running.pop_front().unwrap_or_default();
            if !client(&server, &["remove", &oldest]) {
                failed += 1;
            }
            removed += 1;
        }
        if start.elapsed() >= next_sample {
            let (rss_mb, fds, threads) = usage(pid);
            println!(
                "| {} | {added} | {removed} | {failed} | {rss_mb:.1} MB | {fds} | {threads} |",
                next_sample.as_secs() / 60
            );
            samples.push((rss_mb, fds, threads));
            next_sample += Duration::from_secs(60);
        }
        std::thread::sleep(period);
    }
    for id in running.drain(..) {
        if !client(&server, &["remove", &id]) {
            failed += 1;
        }
        removed += 1;
    }
    let (rss_mb, fds, threads) = usage(pid);
    println!("| end | {added} | {removed} | {failed} | {rss_mb:.1} MB | {fds} | {threads} |");
    std::thread::sleep(Duration::from_secs(1));
    drop(service);

    let lives = lives.lock().unwrap_or_else(|p| p.into_inner());
    let whole = lives
        .seqs
        .iter()
        .filter(|(id, seqs)| {
            lives.ended.get(*id).copied().unwrap_or(false) && seqs.iter().copied().eq(0..seqs.len() as u64)
        })
        .count();
    // Memory after the first two minutes (start-up, the first streams) against the end.
    let settled = samples.get(2).or(samples.last()).map_or(f64::NAN, |s| s.0);
    println!();
    println!(
        "{} streams added, {whole} of {} with their events whole (seq 0 to eos, no gap); resident memory {settled:.1} MB at minute 2, {rss_mb:.1} MB at the end ({:+.1}%); open files {}–{}, threads {}–{}",
        added,
        lives.seqs.len(),
        100.0 * (rss_mb - settled) / settled,
        samples.iter().map(|s| s.1).min().unwrap_or(0),
        samples.iter().map(|s| s.1).max().unwrap_or(0),
        samples.iter().map(|s| s.2).min().unwrap_or(0),
        samples.iter().map(|s| s.2).max().unwrap_or(0),
    );
}
