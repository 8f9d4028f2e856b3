//! How many live audio streams one core follows in real time, and their latency, with
//! synthetic feature frames (no capture, no encoding): the timely graph and the aligner alone.
//!
//! Each stream is a `follow_reference` operator (band 500 frames) fed one feature frame every
//! 20 ms of wall-clock time, all on one timely worker (one thread): once tracking alone, once
//! with relocation (its background search budget, 60 000 cells per frame, is the bulk). Every
//! tick pushes a frame into every stream and steps the worker until each stream's output has
//! passed the tick. A stream count keeps real time when the worker's busy time per tick stays
//! under the 20 ms the tick lasts (p99). Latency: each provisional position's `latency_ns`,
//! from the frame's creation to its event.
//!
//! Then the same with 1 and 2 workers (timely's threads of one process), as `--workers` runs
//! them, and with two processes on 127.0.0.1 as one timely cluster (one worker each), as
//! `-n 2 -p I -h HOSTS` runs them: every worker builds every stream's operator and feeds the
//! share it owns, so a tick ends on a worker only once the others have passed it too. The bench starts the two
//! processes itself (this binary again, told its part by `STREAMS_CLUSTER_*` variables).
//!
//! `cargo bench --bench streams` (STREAMS_SECONDS sets each run's length, default 10 s;
//! STREAMS_PART=capacity, workers or processes runs one of the three tables).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use warpflow::align::FeatureMatrix;
use warpflow::engine_metrics::AlignerMetrics;
use warpflow::events::EventBody;
use warpflow::flow::operators::FollowReference;
use warpflow::flow::{FailureSlot, FeatureFrame};

/// Longest a worker parks while its graph waits (it wakes at once when data comes).
const PARK: Duration = Duration::from_micros(200);

#[path = "common/many_follows.rs"]
mod many_follows;
#[path = "common/synthetic.rs"]
mod synthetic;

use many_follows::{events, follower, HOP, REFERENCE_FRAMES, TIMING};
use synthetic::pseudo_random_frames;

/// What one run measured.
struct RunReport {
    busy_ms: Vec<f64>,
    latency_ms: Vec<f64>,
}

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// `streams` streams of dimension `dim` for `ticks` ticks of 20 ms, in real time, on one worker.
fn run(reference: &Arc<FeatureMatrix>, dim: usize, streams: usize, ticks: usize, relocation: bool) -> RunReport {
    let reference = reference.clone();
    timely::execute_directly(move |worker| {
        follow_streams(worker, &reference, dim, streams, |_| true, ticks, relocation, None)
    })
}

/// Builds an operator for each of `streams` streams on `worker`, and for `ticks` ticks of 20 ms
/// feeds those that are `owned` one frame each and steps until every stream's output has
/// passed the tick. The inputs of the streams it does not own close at once: in a cluster
/// another worker feeds them. The first tick is at `first_tick`, or as soon as the operators
/// are built; the processes of a cluster share theirs, so that neither waits most of a tick
/// for the other's frames.
#[allow(clippy::too_many_arguments)]
fn follow_streams(
    worker: &mut Worker,
    reference: &Arc<FeatureMatrix>,
    dim: usize,
    streams: usize,
    owned: impl Fn(usize) -> bool,
    ticks: usize,
    relocation: bool,
    first_tick: Option<Instant>,
) -> RunReport {
    let live = pseudo_random_frames(4_096, dim, 11);
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let probe = ProbeHandle::new();
    let mut inputs = Vec::with_capacity(streams);
    worker.dataflow::<u64, _, _>(|scope| {
        for stream in 0..streams {
            let (input, frames) = scope.new_input::<Vec<FeatureFrame>>();
            let follower = follower(reference, relocation);
            let (timing, events) = (TIMING, events(stream));
            let seen = latencies.clone();
            frames
                .follow_reference(
                    Some(follower),
                    timing,
                    events,
                    AlignerMetrics::detached(),
                    FailureSlot::default(),
                )
                .inspect(move |event| {
                    if let EventBody::Position {
                        latency_ns,
                        is_final: false,
                        ..
                    } = event.body
                    {
                        if let Ok(mut seen) = seen.lock() {
                            seen.push(latency_ns as f64 / 1e6);
                        }
                    }
                })
                .probe_with(&probe);
            if owned(stream) {
                inputs.push((stream, input));
            }
        }
    });
    let mut busy_ms = Vec::with_capacity(ticks);
    let start = first_tick.unwrap_or_else(Instant::now);
    for tick in 0..ticks {
        let due = start + HOP * tick as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let began = Instant::now();
        let time_ns = tick as u64 * HOP.as_nanos() as u64;
        for (stream, input) in inputs.iter_mut() {
            let offset = (tick + *stream * 37) % (live.len() / dim);
            input.send(FeatureFrame {
                time_ns,
                values: live[offset * dim..(offset + 1) * dim].to_vec(),
                captured_at: Instant::now(),
            });
            input.advance_to(time_ns + 1);
        }
        // Parked, not spinning, while the graph waits: in a cluster it waits on the other
        // process, which a spinning worker would keep from the core it shares.
        while probe.less_than(&(time_ns + 1)) {
            worker.step_or_park(Some(PARK));
        }
        busy_ms.push(began.elapsed().as_secs_f64() * 1e3);
    }
    // The warm-up (the aligner's start-up frames) is not what a long run sees.
    busy_ms.drain(..busy_ms.len().min(50));
    let latency_ms = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    RunReport { busy_ms, latency_ms }
}

fn main() {
    let seconds: usize = std::env::var("STREAMS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let ticks = seconds * 50;
    if let Ok(process) = std::env::var("STREAMS_CLUSTER_PROCESS") {
        cluster_process(&process, ticks);
        return;
    }
    let part = std::env::var("STREAMS_PART").unwrap_or_default();
    if part.is_empty() || part == "capacity" {
        capacity_table(ticks);
    }
    if part.is_empty() || part == "workers" {
        workers_table(ticks);
    }
    if part.is_empty() || part == "processes" {
        processes_table(seconds);
    }
}

/// Streams one core keeps in real time, doubling until it no longer does.
fn capacity_table(ticks: usize) {
    println!(
        "| relocation | d | streams | busy per 20 ms tick: mean | p99 | core load | latency p50 | p99 | real time |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (relocation, dim) in [(false, 12usize), (false, 128), (true, 12), (true, 128)] {
        let reference =
            Arc::new(FeatureMatrix::new(dim, pseudo_random_frames(REFERENCE_FRAMES, dim, 7)).expect("whole frames"));
        for streams in [1usize, 16, 64, 256, 512, 1024, 2048, 4096] {
            let report = run(&reference, dim, streams, ticks, relocation);
            let mean = report.busy_ms.iter().sum::<f64>() / report.busy_ms.len().max(1) as f64;
            let p99 = quantile(&report.busy_ms, 0.99);
            let keeps = p99 < HOP.as_secs_f64() * 1e3;
            println!(
                "| {} | {dim} | {streams} | {mean:.2} ms | {p99:.2} ms | {:.0}% | {:.2} ms | {:.2} ms | {} |",
                if relocation { "on" } else { "off" },
                100.0 * mean / (HOP.as_secs_f64() * 1e3),
                quantile(&report.latency_ms, 0.5),
                quantile(&report.latency_ms, 0.99),
                if keeps { "yes" } else { "no" }
            );
            if !keeps {
                break;
            }
        }
    }
}

/// Streams kept in real time with 1 and 2 workers (threads of one process, timely's own, as
/// `--workers` runs them: every worker builds every stream's operator and feeds its share),
/// tracking alone at d = 12.
fn workers_table(ticks: usize) {
    let dim = 12;
    let reference =
        Arc::new(FeatureMatrix::new(dim, pseudo_random_frames(REFERENCE_FRAMES, dim, 7)).expect("whole frames"));
    println!();
    println!("| workers | streams | busy per tick p99 (worst worker) | latency p99 | real time |");
    println!("| --- | --- | --- | --- | --- |");
    for workers in [1usize, 2] {
        for per_worker in [256usize, 384] {
            let streams = workers * per_worker;
            let config = timely::Config::process(workers);
            let reports = follow_on_workers(config, &reference, dim, streams, ticks, None);
            let busy_p99 = reports.iter().map(|r| quantile(&r.busy_ms, 0.99)).fold(0.0, f64::max);
            let latencies: Vec<f64> = reports.iter().flat_map(|r| r.latency_ms.iter().copied()).collect();
            println!(
                "| {workers} | {streams} | {busy_p99:.2} ms | {:.2} ms | {} |",
                quantile(&latencies, 0.99),
                if busy_p99 < HOP.as_secs_f64() * 1e3 {
                    "yes"
                } else {
                    "no"
                }
            );
        }
    }
}

/// Streams per process in the cluster rows.
const CLUSTER_STREAMS_PER_PROCESS: [usize; 4] = [128, 256, 384, 512];

/// Streams kept in real time by two processes on 127.0.0.1 as one timely cluster (one worker
/// each), tracking alone at d = 12; each process holds the streams whose index has its parity.
fn processes_table(seconds: usize) {
    println!();
    println!("| processes | streams | busy per tick p99 (worst process) | latency p99 (worst process) | real time |");
    println!("| --- | --- | --- | --- | --- |");
    let exe = std::env::current_exe().expect("the bench knows its own path");
    for per_process in CLUSTER_STREAMS_PER_PROCESS {
        let hosts = free_local_addresses(2).join(",");
        // Time enough for both processes to start, connect and build their operators.
        let first_tick_ms = unix_ms() + 3_000;
        let children: Vec<_> = (0..2)
            .map(|process| {
                Command::new(&exe)
                    .env("STREAMS_CLUSTER_PROCESS", process.to_string())
                    .env("STREAMS_CLUSTER_HOSTS", &hosts)
                    .env("STREAMS_CLUSTER_STREAMS", (2 * per_process).to_string())
                    .env("STREAMS_CLUSTER_FIRST_TICK_MS", first_tick_ms.to_string())
                    .env("STREAMS_SECONDS", seconds.to_string())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("a cluster process starts")
            })
            .collect();
        let mut results = Vec::new();
        for child in children {
            let output = child.wait_with_output().expect("a cluster process ends");
            let text = String::from_utf8_lossy(&output.stdout);
            results.extend(text.lines().filter_map(|line| {
                let mut values = line.strip_prefix("RESULT ")?.split(' ').map(str::parse::<f64>);
                Some((values.next()?.ok()?, values.next()?.ok()?))
            }));
        }
        if results.len() != 2 {
            println!("| 2 | {} | (a process gave no result) | | |", 2 * per_process);
            continue;
        }
        let busy_p99 = results.iter().map(|r| r.0).fold(0.0, f64::max);
        let latency_p99 = results.iter().map(|r| r.1).fold(0.0, f64::max);
        println!(
            "| 2 | {} | {busy_p99:.2} ms | {latency_p99:.2} ms | {} |",
            2 * per_process,
            if busy_p99 < HOP.as_secs_f64() * 1e3 {
                "yes"
            } else {
                "no"
            }
        );
    }
}

/// `count` addresses on 127.0.0.1 whose ports were free a moment ago.
fn free_local_addresses(count: usize) -> Vec<String> {
    let listeners: Vec<_> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("a bound address").to_string())
        .collect()
}

/// One process of the cluster rows: its worker holds the streams of its parity and prints its
/// busy time per tick (p99) and its latency (p99) on a `RESULT` line.
fn cluster_process(process: &str, ticks: usize) {
    let process: usize = process.parse().expect("STREAMS_CLUSTER_PROCESS is a number");
    let addresses: Vec<String> = std::env::var("STREAMS_CLUSTER_HOSTS")
        .expect("STREAMS_CLUSTER_HOSTS lists the processes")
        .split(',')
        .map(str::to_owned)
        .collect();
    let streams: usize = std::env::var("STREAMS_CLUSTER_STREAMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("STREAMS_CLUSTER_STREAMS is a number");
    let first_tick_ms: u64 = std::env::var("STREAMS_CLUSTER_FIRST_TICK_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("STREAMS_CLUSTER_FIRST_TICK_MS is a number");
    let first_tick = Instant::now() + Duration::from_millis(first_tick_ms.saturating_sub(unix_ms()));
    let dim = 12;
    let reference =
        Arc::new(FeatureMatrix::new(dim, pseudo_random_frames(REFERENCE_FRAMES, dim, 7)).expect("whole frames"));
    let config = timely::Config {
        communication: timely::CommunicationConfig::Cluster {
            threads: 1,
            process,
            addresses,
            report: false,
            zerocopy: false,
        },
        worker: timely::WorkerConfig::default(),
    };
    for report in follow_on_workers(config, &reference, dim, streams, ticks, Some(first_tick)) {
        println!(
            "RESULT {} {}",
            quantile(&report.busy_ms, 0.99),
            quantile(&report.latency_ms, 0.99)
        );
    }
}

/// [`follow_streams`] on the workers `config` starts in this process, each feeding the streams
/// whose index modulo the number of workers is its own; the reports of this process's workers.
fn follow_on_workers(
    config: timely::Config,
    reference: &Arc<FeatureMatrix>,
    dim: usize,
    streams: usize,
    ticks: usize,
    first_tick: Option<Instant>,
) -> Vec<RunReport> {
    let reference = reference.clone();
    let guards = timely::execute(config, move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        follow_streams(
            worker,
            &reference,
            dim,
            streams,
            |s| s % peers == index,
            ticks,
            false,
            first_tick,
        )
    })
    .expect("the workers start");
    guards.join().into_iter().flatten().collect()
}

/// Milliseconds since the Unix epoch: a clock both processes of a cluster read alike.
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
