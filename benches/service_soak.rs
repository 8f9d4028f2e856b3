//! A long run of `warpflow serve` with streams coming and going: resident memory, open files
//! and threads over time, and whether every stream's events came whole.
//!
//! Every `SOAK_PERIOD_S` (default 3 s) a new `sync` stream on a test pattern is added with
//! `warpflow streams add` (each under an id of its own, so that nothing kept per id can hide)
//! and, once `SOAK_STREAMS` (default 6) run, the oldest is removed. Each minute the service's
//! resident memory (VmRSS), open file descriptors and threads are read from /proc. At the end
//! every stream is removed and each one's events are checked: `seq` from 0 with no gap, ending
//! with `eos`.
//!
//! `cargo bench --bench service_soak` (SOAK_SECONDS sets the length, default 1800 s).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Each stream's events so far: its seqs in order, and whether its `eos` came.
#[derive(Default)]
struct Lives {
    seqs: HashMap<String, Vec<u64>>,
    ended: HashMap<String, bool>,
}

/// `warpflow streams --server ADDR ARGS…`; whether it succeeded.
fn client(server: &str, args: &[&str]) -> bool {
    Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["streams", "--server", server])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// VmRSS in MB, open file descriptors and threads of process `pid`.
fn usage(pid: u32) -> (f64, usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(f64::NAN);
    let count = |dir: &str| std::fs::read_dir(format!("/proc/{pid}/{dir}")).map_or(0, |d| d.count());
    (rss_kb / 1024.0, count("fd"), count("task"))
}

/// Starts `warpflow serve` on a free port; its address and the process.
fn start_service(lives: Arc<Mutex<Lives>>) -> (String, Child) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the warpflow binary starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let server = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("warpflow: events at ws://")?
                .strip_suffix("/events")
                .map(str::to_owned)
        })
        .expect("the service says where it serves");
    std::thread::spawn(move || lines.for_each(drop));
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let (Some(stream), Some(seq)) = (event["stream"].as_str(), event["seq"].as_u64()) else {
                continue;
            };
            let mut lives = lives.lock().unwrap_or_else(|p| p.into_inner());
            lives.seqs.entry(stream.to_owned()).or_default().push(seq);
            if event["type"] == "eos" {
                lives.ended.insert(stream.to_owned(), true);
            }
        }
    });
    (server, child)
}

fn main() {
    let seconds = setting("SOAK_SECONDS", 1800);
    let period = Duration::from_secs(setting("SOAK_PERIOD_S", 3));
    let running_at_once = setting("SOAK_STREAMS", 6) as usize;
    let lives = Arc::new(Mutex::new(Lives::default()));
    let (server, mut service) = start_service(lives.clone());
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
        if client(&server, &["add", &id, "--job", "sync", "--source", "test"]) {
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
    let _ = service.kill();
    let _ = service.wait();

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
