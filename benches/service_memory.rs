//! What one more stream costs `warpflow serve`: resident memory and threads per stream, for
//! each job, on one worker.
//!
//! For each job a fresh service gets one stream, and its resident memory (VmRSS) and threads
//! are read once it runs (the reference, the encoders and the first capture loaded); then the
//! other streams are added and, once they have run a while, read again. The difference over
//! the streams added is what one stream costs, its capture (a GStreamer pipeline on a live test
//! pattern) included. `follow` streams share one reference (a `.wfr` of 60 s) and join the
//! worker's one follow dataflow; `sync` streams its one sync dataflow. The table also
//! says whether every stream still ran in real time: running, and no frame dropped. A last row
//! opens the same captures in this process alone (a `follow` stream's: the test pattern's
//! audio at 22.05 kHz, taken from its ring as the service does), so that what a stream costs
//! the engine is the difference; and the last starts threads that only wait, since every
//! thread a stream adds costs the process its copy of the libraries' thread-local storage.
//!
//! `cargo bench --bench service_memory` (MEMORY_FOLLOW_STREAMS, default 50;
//! MEMORY_SYNC_STREAMS, default 20; MEMORY_SETTLE_S, default 30; SERVICE_BENCH_BIN, another
//! build as the service).

use std::str::FromStr;
use std::time::{Duration, Instant};

use warpflow::config::{Pace, SourceSpec};
use warpflow::media::{AudioChunk, AudioNeeds, Capture, MediaNeeds, RecordReceiver};

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "common/service.rs"]
mod service;

use service::{client, list, reference_wfr, start_service, usage};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What `streams` streams of a job cost one service.
struct Row {
    job: &'static str,
    streams: usize,
    first: (f64, usize, usize),
    all: (f64, usize, usize),
    running: usize,
    dropped: u64,
}

fn measure(job: &'static str, streams: usize, job_args: &[&str], settle: Duration) -> Row {
    let (server, service) = start_service(&["--workers", "1"], drop);
    let pid = service.id();
    let add = |n: usize| {
        let id = format!("{job}{n}");
        let mut args = vec!["add", &id, "--job", job, "--source", "test?duration_s=3600"];
        args.extend_from_slice(job_args);
        assert!(client(&server, &args), "stream {id} is added");
    };
    add(0);
    std::thread::sleep(settle);
    let first = usage(pid);
    (1..streams).for_each(add);
    std::thread::sleep(settle);
    let all = usage(pid);
    let described = list(&server);
    let running = described.iter().filter(|s| s["state"] == "running").count();
    let dropped = described.iter().filter_map(|s| s["frames_dropped"].as_u64()).sum();
    drop(service);
    Row {
        job,
        streams,
        first,
        all,
        running,
        dropped,
    }
}

/// Opens `count` captures of the test pattern's audio in this process, one first: resident
/// memory and threads with one and with all, each read after `settle` of taking their records.
fn captures_alone(count: usize, settle: Duration) -> Row {
    let spec = SourceSpec::from_str("test?duration_s=3600").expect("a test pattern");
    let needs = MediaNeeds {
        audio: Some(AudioNeeds { rate_hz: 22_050 }),
        video: None,
    };
    let mut captures = Vec::new();
    let open = || {
        let mut capture = Capture::open(&spec, needs, Pace::Realtime).expect("the test pattern opens");
        let audio = capture.take_audio().expect("its audio");
        capture.start().expect("the test pattern starts");
        (capture, audio)
    };
    let drain_for = |captures: &mut Vec<(Capture, RecordReceiver<AudioChunk>)>, wait: Duration| {
        let until = Instant::now() + wait;
        while Instant::now() < until {
            for (capture, audio) in captures.iter_mut() {
                while audio.pop().is_some() {}
                let _ = capture.poll();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    captures.push(open());
    drain_for(&mut captures, settle);
    let pid = std::process::id();
    let first = usage(pid);
    (1..count).for_each(|_| captures.push(open()));
    drain_for(&mut captures, settle);
    let all = usage(pid);
    Row {
        job: "capture alone",
        streams: count,
        first,
        all,
        running: captures.len(),
        dropped: captures.iter().map(|(c, _)| c.stats().frames_dropped()).sum(),
    }
}

/// Starts `count` threads in this process that do nothing but wait, one first: what a thread
/// costs before it does any work (its stack's first pages and a copy of the static
/// thread-local storage of every library loaded, which libtorch's CUDA libraries make large).
fn idle_threads(count: usize, settle: Duration) -> Row {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let stopped = std::sync::Arc::new(std::sync::Mutex::new(stopped));
    let spawn = || {
        let stopped = stopped.clone();
        std::thread::spawn(move || {
            let _ = stopped.lock().map(|receiver| receiver.recv());
        })
    };
    let pid = std::process::id();
    let mut threads = vec![spawn()];
    std::thread::sleep(settle / 10);
    let first = usage(pid);
    threads.extend((1..count).map(|_| spawn()));
    std::thread::sleep(settle / 10);
    let all = usage(pid);
    drop(stop);
    let running = threads.len();
    threads.into_iter().for_each(|thread| {
        let _ = thread.join();
    });
    Row {
        job: "a thread that only waits, in the bench's process",
        streams: count,
        first,
        all,
        running,
        dropped: 0,
    }
}

fn main() {
    // A stream's memory grows for its first half minute (its band, its path history and the
    // frames awaiting a final position fill up), and the whole process's with it.
    let settle = Duration::from_secs(setting("MEMORY_SETTLE_S", 30));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let wfr = reference_wfr(dir.path(), 60.0);
    let wfr = wfr.to_str().expect("a UTF-8 path");
    let follows = setting("MEMORY_FOLLOW_STREAMS", 50) as usize;
    let rows = [
        measure("follow", follows, &["--reference", wfr], settle),
        measure("sync", setting("MEMORY_SYNC_STREAMS", 20) as usize, &[], settle),
        captures_alone(follows, settle),
        idle_threads(follows, settle),
    ];
    println!("| job | streams | resident memory, 1 stream | all streams | per stream added | threads per stream | running, frames dropped |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let added = (row.streams.max(2) - 1) as f64;
        println!(
            "| {} | {} | {:.1} MB | {:.1} MB | {:.2} MB | {:.1} | {} of {}, {} |",
            row.job,
            row.streams,
            row.first.0,
            row.all.0,
            (row.all.0 - row.first.0) / added,
            (row.all.2 as f64 - row.first.2 as f64) / added,
            row.running,
            row.streams,
            row.dropped,
        );
    }
}
