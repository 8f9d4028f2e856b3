//! Capture-to-graph latency: how long after a record's capture (its running time on the
//! pipeline clock; for audio, its first sample's) the graph's side of the ring has it, polled
//! every millisecond as the worker does when idle. Measured on the built-in test pattern at
//! 30 fps and 100 audio buffers/s, and on a real local RTSP server (H.264 + Opus) before and
//! after the server goes down and comes back, to show that latency does not creep after a
//! reconnect. Prints a table (`cargo bench --bench capture_latency`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::rtsp::{flash_and_beep_file, run_main_context, RtspServer};
use warpflow::config::{Pace, SourceSpec};
use warpflow::media::{AudioNeeds, Capture, MediaNeeds, SupervisionConfig, VideoNeeds};

/// Capture for the sync job's needs.
const NEEDS: MediaNeeds = MediaNeeds {
    audio: Some(AudioNeeds { rate_hz: 16_000 }),
    video: Some(VideoNeeds {
        width: 64,
        height: 48,
        colour: false,
    }),
};

/// Latencies (ms) of the records that arrived, per medium.
#[derive(Default)]
struct Latencies {
    audio_ms: Vec<f64>,
    video_ms: Vec<f64>,
}

/// Pops records from `capture` for `duration`, noting each one's age.
fn drain_for(capture: &mut Capture, rings: &mut Rings, duration: Duration, into: &mut Latencies) {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        if capture.poll().is_err() {
            return;
        }
        let Some(now_ns) = capture.running_time_ns() else {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        while let Some(chunk) = rings.audio.pop() {
            into.audio_ms.push(now_ns.saturating_sub(chunk.pts_ns) as f64 / 1e6);
        }
        while let Some(frame) = rings.video.pop() {
            into.video_ms.push(now_ns.saturating_sub(frame.pts_ns) as f64 / 1e6);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

struct Rings {
    audio: warpflow::media::RecordReceiver<warpflow::media::AudioChunk>,
    video: warpflow::media::RecordReceiver<warpflow::media::VideoFrame>,
}

fn open(spec: &SourceSpec) -> (Capture, Rings) {
    let mut capture = Capture::open(spec, NEEDS, Pace::Realtime).expect("the source opens");
    capture.set_supervision(SupervisionConfig {
        stall_timeout: Duration::from_secs(2),
        ..SupervisionConfig::default()
    });
    let rings = Rings {
        audio: capture.take_audio().expect("audio"),
        video: capture.take_video().expect("video"),
    };
    capture.start().expect("the source starts");
    (capture, rings)
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() - 1) as f64 * p).round() as usize]
}

fn row(source: &str, medium: &str, values: &mut [f64]) {
    let count = values.len();
    let (p50, p99) = (percentile(values, 0.5), percentile(values, 0.99));
    println!("| {source} | {medium} | {count} | {p50:.2} | {p99:.2} |");
}

fn main() {
    gst::init().expect("GStreamer initialises");
    println!("| source | medium | records | p50 ms | p99 ms |");
    println!("|---|---|---:|---:|---:|");

    let spec: SourceSpec = "test?fps=30&duration_s=12".parse().expect("a test pattern");
    let (mut capture, mut rings) = open(&spec);
    let mut pattern = Latencies::default();
    // The first second is start-up, not steady state.
    drain_for(
        &mut capture,
        &mut rings,
        Duration::from_secs(1),
        &mut Latencies::default(),
    );
    drain_for(&mut capture, &mut rings, Duration::from_secs(10), &mut pattern);
    row("test pattern 30 fps", "video", &mut pattern.video_ms);
    row("test pattern 100 buffers/s", "audio", &mut pattern.audio_ms);
    drop(capture);

    let dir = tempfile::tempdir().expect("temporary folder");
    let file = flash_and_beep_file(dir.path(), 60);
    run_main_context();
    let server = RtspServer::start(&file, 0);
    let port = server.port;
    let spec: SourceSpec = format!("rtspt://127.0.0.1:{port}/x").parse().expect("an RTSP URI");
    let (mut capture, mut rings) = open(&spec);
    drain_for(
        &mut capture,
        &mut rings,
        Duration::from_secs(2),
        &mut Latencies::default(),
    );
    let mut before = Latencies::default();
    drain_for(&mut capture, &mut rings, Duration::from_secs(10), &mut before);
    server.stop();
    drain_for(
        &mut capture,
        &mut rings,
        Duration::from_secs(3),
        &mut Latencies::default(),
    );
    let server = RtspServer::start(&file, port);
    let mut outage = Latencies::default();
    let back_by = Instant::now() + Duration::from_secs(30);
    while outage.video_ms.is_empty() && Instant::now() < back_by {
        drain_for(&mut capture, &mut rings, Duration::from_millis(100), &mut outage);
    }
    drain_for(
        &mut capture,
        &mut rings,
        Duration::from_secs(2),
        &mut Latencies::default(),
    );
    let mut after = Latencies::default();
    drain_for(&mut capture, &mut rings, Duration::from_secs(10), &mut after);
    row("RTSP before the outage", "video", &mut before.video_ms);
    row("RTSP before the outage", "audio", &mut before.audio_ms);
    row("RTSP after reconnecting", "video", &mut after.video_ms);
    row("RTSP after reconnecting", "audio", &mut after.audio_ms);
    let statuses = capture.take_statuses();
    println!("\nsource statuses during the RTSP run: {statuses:?}");
    drop(capture);
    server.stop();
}
