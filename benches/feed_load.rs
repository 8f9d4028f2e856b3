//! The engine's capture-to-event latency with and without 200 WebSocket clients on the feed:
//! a real-time `follow` run (about 100 events a second) for 30 s each, alternating, so that
//! the machine's noise shows in the repeated rows. Latency is read from the run's standard
//! output (provisional positions' `latency_ns`).
//!
//! `cargo bench --bench feed_load` (about two minutes).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::feed_load::{noise_file, run_load};

fn main() {
    let seconds: u64 = std::env::var("FEED_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = noise_file(dir.path(), seconds as u32 + 15);
    println!("| clients | events/client (min) | missed | cut off | positions | latency p50 | p90 | p99 | max |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for clients in [0, 200, 0, 200] {
        let report = run_load(&file, clients, Duration::from_secs(seconds));
        let fewest = report.clients.iter().map(|c| c.events).min().unwrap_or(0);
        let missed: u64 = report.clients.iter().map(|c| c.missed).sum();
        let cut_off = report.clients.iter().filter(|c| c.cut_off).count();
        println!(
            "| {clients} | {fewest} | {missed} | {cut_off} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
            report.latencies_ms.len(),
            report.latency_quantile_ms(0.5),
            report.latency_quantile_ms(0.9),
            report.latency_quantile_ms(0.99),
            report.latency_quantile_ms(1.0),
        );
    }
}
