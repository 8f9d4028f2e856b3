//! Streams joining and leaving one `follow_streams` operator while others run, and what a
//! followed stream holds in memory.
//!
//! First, the memory one follower holds (d = 128, band 500, tracking), from the process's
//! resident memory before and after 1000 of them, each fed 200 frames. Then, steady:
//! `CHURN_STEADY` streams (default 500) each get a frame every 20 ms tick; churn: the same,
//! while every tick the two oldest streams end and two new ones join (100 streams added and 100
//! removed a second). A stream joins by adding its follower to the operator's table on the
//! worker, and leaves by an end record. Each run reports its busy time per tick (p99 against the
//! 20 ms a tick lasts) and whether every frame sent came out as a provisional position and, by
//! the time its stream ended (all end after the run), as a final one: none dropped.
//!
//! `cargo bench --bench stream_churn` (CHURN_SECONDS sets each run's length, default 10 s).

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::ProbeHandle;

use warpflow::align::FeatureMatrix;
use warpflow::engine_metrics::AlignerMetrics;
use warpflow::events::EventBody;
use warpflow::flow::operators::{FollowStreams, FollowedStreams, SharedFrame};
use warpflow::flow::Keyed;

#[path = "common/many_follows.rs"]
mod many_follows;
#[path = "common/synthetic.rs"]
mod synthetic;

use many_follows::{
    events, first_tick, follower, frame, live_frame, quantile, wait_for_tick, DIM, REFERENCE_FRAMES, TIMING,
    WARM_UP_TICKS,
};
use synthetic::pseudo_random_frames;

/// What one run saw.
struct ChurnReport {
    busy_ms: Vec<f64>,
    frames_sent: u64,
    provisional: u64,
    finals: u64,
    added: u64,
    ended: u64,
}

/// `steady` streams for `ticks` ticks; after the warm-up, `churn` streams end and `churn` join
/// every tick.
fn run(reference: &Arc<FeatureMatrix>, live: &[f32], steady: usize, churn: usize, ticks: usize) -> ChurnReport {
    let reference = reference.clone();
    let live = live.to_vec();
    timely::execute_directly(move |worker| {
        let followed = FollowedStreams::default();
        let provisional = Rc::new(Cell::new(0u64));
        let finals = Rc::new(Cell::new(0u64));
        let probe = ProbeHandle::new();
        let (counted, settled) = (provisional.clone(), finals.clone());
        let mut input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, records) = scope.new_input::<Vec<SharedFrame>>();
            records
                .follow_streams(followed.clone())
                .inspect(move |record| match record {
                    Keyed::Data {
                        data: EventBody::Position { is_final: false, .. },
                        ..
                    } => counted.set(counted.get() + 1),
                    Keyed::Data {
                        data: EventBody::Position { is_final: true, .. },
                        ..
                    } => settled.set(settled.get() + 1),
                    _ => {}
                })
                .probe_with(&probe);
            input
        });
        let join = |stream: usize| {
            followed.add(
                stream as u64,
                follower(&reference, false),
                TIMING,
                events(stream),
                AlignerMetrics::detached(),
            )
        };
        let mut running: VecDeque<(usize, usize)> = (0..steady).map(|s| (s, first_tick(s))).collect();
        running.iter().for_each(|&(s, _)| assert!(join(s)));
        let (mut next, mut frames_sent, mut added, mut ended) = (steady, 0u64, 0u64, 0u64);
        let mut busy_ms = Vec::with_capacity(ticks);
        let start = Instant::now();
        for tick in 0..ticks {
            wait_for_tick(start, tick);
            let began = Instant::now();
            if tick >= WARM_UP_TICKS {
                for _ in 0..churn {
                    if let Some((old, _)) = running.pop_front() {
                        input.send(Keyed::End { stream: old as u64 });
                        ended += 1;
                    }
                    assert!(join(next));
                    running.push_back((next, tick));
                    next += 1;
                    added += 1;
                }
            }
            for &(stream, _) in running.iter().filter(|&&(_, from)| tick >= from) {
                input.send(Keyed::Data {
                    stream: stream as u64,
                    data: frame(live_frame(&live, stream, tick).to_vec(), tick),
                });
                frames_sent += 1;
            }
            input.advance_to(tick as u64 + 1);
            while probe.less_than(&(tick as u64 + 1)) {
                worker.step();
            }
            busy_ms.push(began.elapsed().as_secs_f64() * 1e3);
        }
        busy_ms.drain(..WARM_UP_TICKS.min(busy_ms.len()));
        // The streams still running end, untimed: each gives the final positions it owes.
        for (stream, _) in running.drain(..) {
            input.send(Keyed::End { stream: stream as u64 });
        }
        drop(input);
        while worker.step_or_park(None) {}
        ChurnReport {
            busy_ms,
            frames_sent,
            provisional: provisional.get(),
            finals: finals.get(),
            added,
            ended,
        }
    })
}

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Bytes one follower holds after 200 frames, from 1000 of them.
fn bytes_per_follower(reference: &Arc<FeatureMatrix>, live: &[f32]) -> f64 {
    const FOLLOWERS: usize = 1000;
    let before = resident_bytes();
    let mut followers: Vec<_> = (0..FOLLOWERS).map(|_| follower(reference, false)).collect();
    for tick in 0..200 {
        for (stream, follower) in followers.iter_mut().enumerate() {
            let step = follower
                .push_frame(live_frame(live, stream, tick))
                .expect("whole frames");
            std::hint::black_box(step);
            follower.drain_final_positions().for_each(drop);
        }
    }
    let after = resident_bytes();
    std::hint::black_box(&followers);
    after.saturating_sub(before) as f64 / FOLLOWERS as f64
}

fn main() {
    let seconds: usize = std::env::var("CHURN_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let steady: usize = std::env::var("CHURN_STEADY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let ticks = WARM_UP_TICKS + seconds * 50;
    let reference =
        Arc::new(FeatureMatrix::new(DIM, pseudo_random_frames(REFERENCE_FRAMES, DIM, 7)).expect("whole frames"));
    let live = pseudo_random_frames(4_096, DIM, 11);
    // First, while the allocator holds no freed memory that the followers could reuse unseen.
    println!(
        "memory one follower holds after 200 frames (d = {DIM}, band 500, beside the shared reference): {:.0} kB\n",
        bytes_per_follower(&reference, &live) / 1024.0
    );
    println!("| run | streams | added / removed a second | busy per tick: mean | p99 | frames sent | provisional positions | final positions |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, churn) in [("steady", 0usize), ("churn", 2)] {
        let report = run(&reference, &live, steady, churn, ticks);
        let mean = report.busy_ms.iter().sum::<f64>() / report.busy_ms.len().max(1) as f64;
        println!(
            "| {name} | {steady} | {} / {} | {mean:.2} ms | {:.2} ms | {} | {} | {} |",
            report.added / seconds as u64,
            report.ended / seconds as u64,
            quantile(&report.busy_ms, 0.99),
            report.frames_sent,
            report.provisional,
            report.finals,
        );
    }
}
