//! Many live follow streams on one core: a dataflow per stream (how `warpflow serve` ran its
//! streams at first, and how a stream pinned to another process by `--captured-by` still runs),
//! an operator per stream in one dataflow (how `--workers` ran a fixed set at first), and one
//! operator for all of them (`follow_streams`: records carry their stream's key, each stream's
//! state lives in a table; how `serve` and runs of many streams run them now), side by side in
//! one run.
//!
//! Synthetic feature frames (no capture, no encoding), d = 128, band 500, tracking alone: every
//! 20 ms tick each stream gets one frame, and the worker steps until every output has passed
//! the tick. A design keeps real time while its busy time per tick stays under 20 ms (p99).
//! Streams start over the first ticks of a settling period, as streams of a service start at
//! different times: started together, every aligner would settle its final positions in the
//! same tick. "Aligner alone" runs the same followers on the same frames at the same pace
//! without timely or events; the graph's work per stream-frame is a design's busy time less
//! that, over the streams (for the design whose scans yield, less also the scan work it left
//! undone, so it can read below zero).
//!
//! With the relocation search on, the ticks before every stream's first scan are left out with
//! the warm-up (a stream scans only once it has a whole window of live frames), and so are the
//! first two seconds of scans, in which the scan budget of one operator for all finds the share
//! the load allows. That design is run twice: as `serve` runs it, its streams' scans slowing
//! down when the streams would take more than their share of the core
//! ([`warpflow::flow::operators::ScanBudgetPolicy`]), and with every scan at its whole budget.
//!
//! The streams play the reference from its first frame, each with noise of its own: a
//! stream's frame is about 0.30 in cosine distance from the reference frame it plays and 0.47
//! from the others, with which a relocation scan computes as large a share of its distances
//! as on the harness's real performance pairs (about 60%: a scan drops the paths that cannot
//! beat the tracked place, see [`warpflow::align::SubsequenceSearch::with_cost_limit`]). With
//! SHARED_STREAMS_LIVE=unrelated they play frames unrelated to the reference, which the
//! tracker cannot follow and a scan rules out later.
//!
//! `cargo bench --bench shared_streams` (SHARED_STREAMS_SECONDS sets each run's length,
//! default 5 s; SHARED_STREAMS_COUNTS a comma-separated list of stream counts;
//! SHARED_STREAMS_RELOCATION=on turns the default relocation search on;
//! SHARED_STREAMS_LIVE=unrelated plays unrelated frames).

use std::sync::Arc;
use std::time::Instant;

use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use warpflow::align::{FeatureMatrix, Follower};
use warpflow::engine_metrics::AlignerMetrics;
use warpflow::flow::operators::{FollowReference, FollowStreams, FollowedStreams, ScanBudgetPolicy, SharedFrame};
use warpflow::flow::{FailureSlot, FeatureFrame, Keyed};

#[path = "common/many_follows.rs"]
mod many_follows;
#[path = "common/synthetic.rs"]
mod synthetic;

use many_follows::{
    events, first_tick, follower, frame, live_frame, quantile, wait_for_tick, warm_up_ticks, DIM, HOP,
    REFERENCE_FRAMES, TIMING,
};

/// Frames in the table the streams play from (and in their noise).
const LIVE_FRAMES: usize = 4_096;
/// The noise's range: uniform in ± half of it, against frames uniform in [0, 1).
const NOISE_RANGE: f32 = 2.0;

/// What the streams play.
struct LiveFrames {
    /// The reference's first frames (playing) or unrelated ones.
    frames: Vec<f32>,
    /// Noise added to the reference's frames, each stream from its own place in it; `None`
    /// for unrelated frames.
    noise: Option<Vec<f32>>,
}

impl LiveFrames {
    /// What SHARED_STREAMS_LIVE asks for: the reference played with noise, or unrelated frames.
    fn new(reference: &FeatureMatrix) -> Self {
        match std::env::var("SHARED_STREAMS_LIVE").as_deref() {
            Ok("unrelated") => Self {
                frames: pseudo_random_frames(LIVE_FRAMES, DIM, 11),
                noise: None,
            },
            _ => Self {
                frames: (0..LIVE_FRAMES).flat_map(|k| reference.frame(k).into_owned()).collect(),
                noise: Some(pseudo_random_frames(LIVE_FRAMES, DIM, 13)),
            },
        }
    }

    fn name(&self) -> &'static str {
        match self.noise {
            Some(_) => "the reference from its start, with noise",
            None => "frames unrelated to the reference",
        }
    }

    /// Stream `stream`'s frame at `tick`.
    fn frame(&self, stream: usize, tick: usize) -> Vec<f32> {
        let Some(noise) = &self.noise else {
            return live_frame(&self.frames, stream, tick).to_vec();
        };
        let played = (tick - first_tick(stream)) % LIVE_FRAMES;
        let noise = live_frame(noise, stream, played);
        self.frames[played * DIM..(played + 1) * DIM]
            .iter()
            .zip(noise)
            .map(|(value, noise)| value + NOISE_RANGE * (noise - 0.5))
            .collect()
    }
}
use synthetic::pseudo_random_frames;

#[derive(Clone, Copy, PartialEq)]
enum Design {
    DataflowPerStream,
    OperatorPerStream,
    OneOperatorWholeScans,
    OneOperator,
}

impl Design {
    fn name(self) -> &'static str {
        match self {
            Design::DataflowPerStream => "a dataflow per stream",
            Design::OperatorPerStream => "an operator per stream",
            Design::OneOperatorWholeScans => "one operator for all, scans at their whole budget",
            Design::OneOperator => "one operator for all (serve now)",
        }
    }
}

/// Ticks left out after the warm-up while the scan budget settles (relocation on).
const SETTLE_TICKS: usize = 100;

/// Ticks left out at the start of a run.
fn left_out_ticks() -> usize {
    warm_up_ticks(relocation()) + if relocation() { SETTLE_TICKS } else { 0 }
}

/// Feeds `streams` streams for `ticks` ticks of 20 ms in real time through `design`; the busy
/// time of each tick after those left out, in ms, and the share of their scan budget the
/// streams spent at the end.
fn run(
    design: Design,
    reference: &Arc<FeatureMatrix>,
    live: &Arc<LiveFrames>,
    streams: usize,
    ticks: usize,
) -> (Vec<f64>, f64) {
    let reference = reference.clone();
    let live = live.clone();
    timely::execute_directly(move |worker| {
        let probe = ProbeHandle::new();
        let (mut feed, scan_share) = build(design, worker, &reference, streams, &probe);
        let start = Instant::now();
        let mut busy_ms = Vec::with_capacity(ticks);
        for tick in 0..ticks {
            wait_for_tick(start, tick);
            let began = Instant::now();
            let time = tick as u64 + 1;
            feed(tick, &live, time);
            while probe.less_than(&time) {
                worker.step();
            }
            busy_ms.push(began.elapsed().as_secs_f64() * 1e3);
        }
        (busy_ms.split_off(left_out_ticks().min(busy_ms.len())), scan_share())
    })
}

/// Whether the followers search for relocations (SHARED_STREAMS_RELOCATION=on).
fn relocation() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("SHARED_STREAMS_RELOCATION").is_ok_and(|v| v == "on"))
}

/// What feeds one tick: every stream's frame, then the inputs advanced past the tick.
type Feed = Box<dyn FnMut(usize, &LiveFrames, u64)>;
/// The share of their scan budget the streams spend now.
type ScanShare = Box<dyn Fn() -> f64>;

/// Builds `design` for `streams` streams on `worker`, every output into `probe`.
fn build(
    design: Design,
    worker: &mut Worker,
    reference: &Arc<FeatureMatrix>,
    streams: usize,
    probe: &ProbeHandle<u64>,
) -> (Feed, ScanShare) {
    match design {
        Design::OneOperator | Design::OneOperatorWholeScans => {
            let policy = (design == Design::OneOperator).then(ScanBudgetPolicy::default);
            let followed = FollowedStreams::new(policy);
            let table = followed.clone();
            for stream in 0..streams {
                let metrics = AlignerMetrics::detached();
                followed.add(
                    stream as u64,
                    follower(reference, relocation()),
                    TIMING,
                    events(stream),
                    metrics,
                );
            }
            let mut input = worker.dataflow::<u64, _, _>(|scope| {
                let (input, records) = scope.new_input::<Vec<SharedFrame>>();
                records.follow_streams(followed).probe_with(probe);
                input
            });
            let feed = Box::new(move |tick, live: &LiveFrames, time| {
                for stream in (0..streams).filter(|&stream| tick >= first_tick(stream)) {
                    let frame = frame(live.frame(stream, tick), tick);
                    input.send(Keyed::Data {
                        stream: stream as u64,
                        data: frame,
                    });
                }
                input.advance_to(time);
            });
            (feed, Box::new(move || table.scan_budget_share()))
        }
        Design::OperatorPerStream | Design::DataflowPerStream => {
            let mut inputs = Vec::with_capacity(streams);
            let mut add = |scope: &timely::dataflow::Scope<'_, u64>, stream: usize| {
                let (input, frames) = scope.new_input::<Vec<FeatureFrame>>();
                frames
                    .follow_reference(
                        Some(follower(reference, relocation())),
                        TIMING,
                        events(stream),
                        AlignerMetrics::detached(),
                        FailureSlot::default(),
                    )
                    .probe_with(probe);
                inputs.push(input);
            };
            if design == Design::OperatorPerStream {
                worker.dataflow::<u64, _, _>(|scope| (0..streams).for_each(|stream| add(&scope, stream)));
            } else {
                for stream in 0..streams {
                    worker.dataflow::<u64, _, _>(|scope| add(&scope, stream));
                }
            }
            let feed = Box::new(move |tick, live: &LiveFrames, time| {
                for (stream, input) in inputs.iter_mut().enumerate() {
                    if tick >= first_tick(stream) {
                        input.send(frame(live.frame(stream, tick), tick));
                    }
                    input.advance_to(time);
                }
            });
            (feed, Box::new(|| 1.0))
        }
    }
}

/// The same followers on the same frames without timely: busy time per tick after the
/// warm-up, in ms.
fn aligner_alone(reference: &Arc<FeatureMatrix>, live: &LiveFrames, streams: usize, ticks: usize) -> Vec<f64> {
    let mut followers: Vec<Follower> = (0..streams).map(|_| follower(reference, relocation())).collect();
    let mut busy_ms = Vec::with_capacity(ticks);
    let start = Instant::now();
    for tick in 0..ticks {
        wait_for_tick(start, tick);
        let began = Instant::now();
        for (stream, follower) in followers.iter_mut().enumerate() {
            if tick < first_tick(stream) {
                continue;
            }
            let step = follower
                .push_frame(&live.frame(stream, tick))
                .expect("frames of the reference's size");
            std::hint::black_box(step);
            follower.drain_final_positions().for_each(drop);
        }
        busy_ms.push(began.elapsed().as_secs_f64() * 1e3);
    }
    busy_ms.split_off(left_out_ticks().min(busy_ms.len()))
}

fn main() {
    let seconds: usize = std::env::var("SHARED_STREAMS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let counts: Vec<usize> = std::env::var("SHARED_STREAMS_COUNTS")
        .ok()
        .map(|list| list.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![256, 512, 1024, 2048]);
    let ticks = left_out_ticks() + seconds * 50;
    let reference =
        Arc::new(FeatureMatrix::new(DIM, pseudo_random_frames(REFERENCE_FRAMES, DIM, 7)).expect("whole frames"));
    let live = Arc::new(LiveFrames::new(&reference));
    println!(
        "relocation search {}; the streams play {}\n",
        if relocation() {
            "on (the default)"
        } else {
            "off (tracking alone)"
        },
        live.name()
    );
    println!("| design | streams | busy per 20 ms tick: mean | p99 | per stream-frame | graph work per stream-frame | real time | scan budget spent |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for streams in counts {
        let alone = aligner_alone(&reference, &live, streams, ticks);
        let alone_mean = alone.iter().sum::<f64>() / alone.len().max(1) as f64;
        let per_frame_us = |mean_ms: f64| mean_ms * 1e3 / streams as f64;
        println!(
            "| aligner alone | {streams} | {alone_mean:.2} ms | {:.2} ms | {:.1} µs | — | — | 100% |",
            quantile(&alone, 0.99),
            per_frame_us(alone_mean)
        );
        for design in [
            Design::DataflowPerStream,
            Design::OperatorPerStream,
            Design::OneOperatorWholeScans,
            Design::OneOperator,
        ] {
            let (busy, scan_share) = run(design, &reference, &live, streams, ticks);
            let mean = busy.iter().sum::<f64>() / busy.len().max(1) as f64;
            let p99 = quantile(&busy, 0.99);
            println!(
                "| {} | {streams} | {mean:.2} ms | {p99:.2} ms | {:.1} µs | {:.1} µs | {} | {:.0}% |",
                design.name(),
                per_frame_us(mean),
                per_frame_us(mean - alone_mean),
                if p99 < HOP.as_secs_f64() * 1e3 { "yes" } else { "no" },
                scan_share * 100.0
            );
        }
    }
}
