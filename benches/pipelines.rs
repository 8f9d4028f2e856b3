//! Many real streams in one `warpflow sync` run: N built-in test patterns (GStreamer test
//! sources, 30 fps video and audio, made with +80 ms) captured, encoded and measured in real
//! time on 1 and 2 workers, and by two processes on 127.0.0.1 as one timely cluster (each
//! capturing and measuring the streams it owns). A row keeps real time when no stream dropped
//! a record (the rings drop the oldest when the graph falls behind a real-time source); the
//! offsets show each stream is still measured right. CPU is the run's user + system time (of
//! both processes, in a cluster) over its wall time.
//!
//! `cargo bench --bench pipelines` (PIPELINES_SECONDS sets each run's length, default 15 s;
//! PIPELINES_BIN runs another build of warpflow instead, e.g. an earlier commit's, for a
//! before-and-after on one machine).

use std::process::{Command, Stdio};
use std::time::Instant;

/// The numbers in one summary line: (records in, dropped, median offset in ms).
fn summary_numbers(line: &str) -> Option<(u64, u64, f64)> {
    let offset = line
        .split("median A/V offset ")
        .nth(1)?
        .split(" ms")
        .next()?
        .parse()
        .ok()?;
    let tail = line.rsplit(" · ").next()?;
    let mut words = tail.split_whitespace();
    let records = words.next()?.parse().ok()?;
    let dropped = tail.split("in, ").nth(1)?.split_whitespace().next()?.parse().ok()?;
    Some((records, dropped, offset))
}

/// How the streams of a row are run.
#[derive(Clone, Copy)]
enum Layout {
    /// One process with this many workers (threads).
    Workers(u32),
    /// Two processes on 127.0.0.1 as one timely cluster, one worker each.
    TwoProcesses,
}

/// What the processes of one row reported: their summary lines' numbers and their CPU seconds.
struct RowOutcome {
    summaries: Vec<(u64, u64, f64)>,
    cpu_s: f64,
}

/// Runs `streams` test patterns of `seconds` each under `layout`, every process under
/// /usr/bin/time.
fn run_row(binary: &str, layout: Layout, streams: usize, seconds: u64, hostfile: &std::path::Path) -> RowOutcome {
    let mut args = vec![
        "-f".to_owned(),
        "%U %S".to_owned(),
        binary.to_owned(),
        "sync".into(),
        "--pace".into(),
        "realtime".into(),
    ];
    for index in 0..streams {
        args.extend([
            "--live".into(),
            format!("test?duration_s={seconds}&av_offset_ms=80"),
            "--stream".into(),
            format!("s{index}"),
        ]);
    }
    let process_args: Vec<Vec<String>> = match layout {
        Layout::Workers(workers) => vec![vec!["--workers".into(), workers.to_string()]],
        Layout::TwoProcesses => (0..2)
            .map(|index| {
                vec![
                    "-n".into(),
                    "2".into(),
                    "-p".into(),
                    index.to_string(),
                    "--hostfile".into(),
                    hostfile.to_string_lossy().into_owned(),
                ]
            })
            .collect(),
    };
    let children: Vec<_> = process_args
        .iter()
        .map(|extra| {
            Command::new("/usr/bin/time")
                .args(&args)
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("/usr/bin/time runs warpflow")
        })
        .collect();
    let mut outcome = RowOutcome {
        summaries: Vec::new(),
        cpu_s: 0.0,
    };
    for child in children {
        let output = child.wait_with_output().expect("warpflow ends");
        let stderr = String::from_utf8_lossy(&output.stderr);
        outcome.summaries.extend(stderr.lines().filter_map(summary_numbers));
        outcome.cpu_s += stderr
            .lines()
            .last()
            .map(|l| l.split_whitespace().filter_map(|w| w.parse::<f64>().ok()).sum())
            .unwrap_or(f64::NAN);
    }
    outcome
}

fn main() {
    let seconds: u64 = std::env::var("PIPELINES_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let binary = std::env::var("PIPELINES_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_warpflow").to_owned());
    println!("{binary}");
    println!();
    let dir = tempfile::tempdir().expect("temporary folder");
    let ports: Vec<u16> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .map(|listener| listener.local_addr().expect("bound").port())
        .collect();
    let hostfile = dir.path().join("hosts.txt");
    std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", ports[0], ports[1])).expect("hostfile written");
    let rows = [
        (Layout::Workers(1), [1usize, 4, 12, 24, 48].as_slice()),
        (Layout::Workers(2), [1, 4, 12, 24, 48].as_slice()),
        (Layout::TwoProcesses, [4, 24, 48].as_slice()),
    ];
    println!("| layout | streams | wall | CPU | records in (all) | dropped | offsets (made +80 ms) |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (layout, counts) in rows {
        for &streams in counts {
            let started = Instant::now();
            let outcome = run_row(&binary, layout, streams, seconds, &hostfile);
            let wall_s = started.elapsed().as_secs_f64();
            let records: u64 = outcome.summaries.iter().map(|s| s.0).sum();
            let dropped: u64 = outcome.summaries.iter().map(|s| s.1).sum();
            let (low, high) = outcome
                .summaries
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
                    (lo.min(s.2), hi.max(s.2))
                });
            let name = match layout {
                Layout::Workers(1) => "1 worker".to_owned(),
                Layout::Workers(workers) => format!("{workers} workers"),
                Layout::TwoProcesses => "2 processes".to_owned(),
            };
            println!(
                "| {name} | {streams} | {wall_s:.1} s | {:.0}% | {records} | {dropped} | {low:+.0} … {high:+.0} ms ({} of {streams} summaries) |",
                100.0 * outcome.cpu_s / wall_s,
                outcome.summaries.len()
            );
        }
    }
}
