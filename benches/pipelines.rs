//! Many real streams in one `warpflow sync` run: N built-in test patterns (GStreamer test
//! sources, 30 fps video and audio, made with +80 ms) captured, encoded and measured in real
//! time on 1 and 2 workers. A row keeps real time when no stream dropped a record (the rings
//! drop the oldest when the graph falls behind a real-time source); the offsets show each
//! stream is still measured right. CPU is the run's user + system time over its wall time.
//!
//! `cargo bench --bench pipelines` (PIPELINES_SECONDS sets each run's length, default 15 s).

use std::process::Command;
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

fn main() {
    let seconds: u64 = std::env::var("PIPELINES_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    println!("| workers | streams | wall | CPU | records in (all) | dropped | offsets (made +80 ms) |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for workers in [1u32, 2] {
        for streams in [1usize, 4, 12, 24, 48] {
            let mut args = vec![
                "-f".to_owned(),
                "%U %S".to_owned(),
                env!("CARGO_BIN_EXE_warpflow").to_owned(),
                "sync".into(),
                "--pace".into(),
                "realtime".into(),
                "--workers".into(),
                workers.to_string(),
            ];
            for index in 0..streams {
                args.extend([
                    "--live".into(),
                    format!("test?duration_s={seconds}&av_offset_ms=80"),
                    "--stream".into(),
                    format!("s{index}"),
                ]);
            }
            let started = Instant::now();
            let output = Command::new("/usr/bin/time")
                .args(&args)
                .output()
                .expect("/usr/bin/time runs warpflow");
            let wall_s = started.elapsed().as_secs_f64();
            let stderr = String::from_utf8_lossy(&output.stderr);
            let summaries: Vec<(u64, u64, f64)> = stderr.lines().filter_map(summary_numbers).collect();
            let cpu_s: f64 = stderr
                .lines()
                .last()
                .map(|l| l.split_whitespace().filter_map(|w| w.parse::<f64>().ok()).sum())
                .unwrap_or(f64::NAN);
            let records: u64 = summaries.iter().map(|s| s.0).sum();
            let dropped: u64 = summaries.iter().map(|s| s.1).sum();
            let (low, high) = summaries
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
                    (lo.min(s.2), hi.max(s.2))
                });
            println!(
                "| {workers} | {streams} | {wall_s:.1} s | {:.0}% | {records} | {dropped} | {low:+.0} … {high:+.0} ms ({} of {streams} summaries) |",
                100.0 * cpu_s / wall_s,
                summaries.len()
            );
        }
    }
}
