//! Load on the event feed: 200 WebSocket clients on loopback read a real-time `follow` run
//! (about 100 events a second: provisional and final positions, progress) for 30 s. Every
//! client that keeps up gets every event from the one it started at, none is cut off, and the
//! run goes on. The latency with and without the clients is compared in
//! `benches/feed_load.rs` (timings are for benchmarks, not tests).

mod common;

use std::time::Duration;

use common::feed_load::{noise_file, run_load};

#[test]
fn two_hundred_clients_for_thirty_seconds_lose_nothing() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = noise_file(dir.path(), 45);
    let report = run_load(&file, 200, Duration::from_secs(30));
    let failed: Vec<_> = report.clients.iter().filter_map(|c| c.failed.as_ref()).collect();
    assert!(
        failed.is_empty(),
        "clients failed: {:?}",
        &failed[..failed.len().min(3)]
    );
    let cut_off = report.clients.iter().filter(|c| c.cut_off).count();
    let missed: u64 = report.clients.iter().map(|c| c.missed).sum();
    let fewest = report.clients.iter().map(|c| c.events).min().unwrap_or(0);
    let most = report.clients.iter().map(|c| c.events).max().unwrap_or(0);
    println!(
        "200 clients, 30 s: {fewest}..{most} events each, {missed} missed, {cut_off} cut off; \
         the run printed {} events, position latency p50 {:.2} ms, p99 {:.2} ms",
        report.events_printed,
        report.latency_quantile_ms(0.5),
        report.latency_quantile_ms(0.99)
    );
    assert_eq!(cut_off, 0, "no client is cut off");
    assert_eq!(missed, 0, "no client misses an event");
    // About 100 events a second for 30 s; clients connect within a second or two of each other.
    assert!(fewest > 2_000, "every client kept receiving: the fewest got {fewest}");
    assert!(most - fewest < 500, "clients saw the same stream: {fewest}..{most}");
}
