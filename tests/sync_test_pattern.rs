//! `warpflow sync` on the built-in flash-and-beep pattern finds the offset it was given.

mod common;

use common::hang::interrupt_and_wait;
use common::{events, median, of_type, warpflow};

/// One video frame at 30 fps.
const FRAME_NS: f64 = 1e9 / 30.0;

/// The real-time test must not share the machine with this file's other runs: tests in a file run
/// in parallel, and on a small machine their load alone would make it drop frames. It holds this
/// lock for writing, the others for reading.
static MACHINE: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Median offset (ns) of the estimates made after the first 3 s, and all progress events.
fn measured_offset(offset_ms: i64, pace: &str, duration_s: u32) -> (f64, Vec<serde_json::Value>) {
    let source = format!("test?av_offset_ms={offset_ms}&fps=30&duration_s={duration_s}");
    let output = warpflow(&["sync", "--live", &source, "--pace", pace]);
    assert!(
        output.status.success(),
        "sync failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = events(&output);
    let mut offsets: Vec<f64> = of_type(&events, "offset")
        .into_iter()
        .filter(|e| e["live_ns"].as_u64().unwrap_or(0) >= 3_000_000_000)
        .map(|e| e["av_offset_ns"].as_f64().unwrap_or(f64::NAN))
        .collect();
    assert!(offsets.len() >= 4, "too few estimates after 3 s: {offsets:?}");
    // Once locked for 3 s, every tracked estimate is within a video frame of the truth.
    let all = of_type(&events, "offset");
    let locked_ns = all
        .iter()
        .find(|e| e["locked"] == true)
        .and_then(|e| e["live_ns"].as_u64())
        .expect("the track locks");
    for event in all
        .iter()
        .filter(|e| e["live_ns"].as_u64().unwrap_or(0) >= locked_ns + 3_000_000_000)
    {
        let error = (event["av_offset_ns"].as_f64().unwrap_or(f64::NAN) - offset_ms as f64 * 1e6).abs();
        assert!(
            error <= FRAME_NS,
            "offset {offset_ms} ms: estimate {} off by {:.1} ms",
            event["live_ns"],
            error / 1e6
        );
    }
    let progress = of_type(&events, "progress").into_iter().cloned().collect();
    (median(&mut offsets), progress)
}

#[test]
fn reports_each_offset_within_one_video_frame() {
    let _shared = shared();
    for offset_ms in [-120i64, 0, 80, 200] {
        let (measured, _) = measured_offset(offset_ms, "fast", 8);
        let error = (measured - offset_ms as f64 * 1e6).abs();
        println!(
            "offset {offset_ms:+} ms: measured {:+.1} ms (error {:.1} ms)",
            measured / 1e6,
            error / 1e6
        );
        assert!(
            error <= FRAME_NS,
            "offset {offset_ms} ms measured as {:.1} ms",
            measured / 1e6
        );
    }
}

#[test]
fn runs_in_real_time_without_drops_and_reports_progress_from_the_frontier() {
    let _alone = MACHINE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (measured, progress) = measured_offset(80, "realtime", 6);
    assert!((measured - 80e6).abs() <= FRAME_NS, "measured {:.1} ms", measured / 1e6);
    let frontiers: Vec<u64> = progress
        .iter()
        .map(|p| p["frontier_ns"].as_u64().unwrap_or(0))
        .collect();
    assert!(
        frontiers.windows(2).all(|w| w[0] <= w[1]),
        "frontier went backwards: {frontiers:?}"
    );
    let last = progress.last().expect("progress events");
    assert_eq!(last["stage"], "finished");
    assert_eq!(last["frames_dropped"], 0);
    assert!(
        last["frames_in"].as_u64().unwrap_or(0) > 150 + 500,
        "records in: {}",
        last["frames_in"]
    );
}

#[test]
fn every_event_is_versioned_and_numbered_without_gaps() {
    let _shared = shared();
    let output = warpflow(&["sync", "--live", "test?duration_s=4", "--pace", "fast"]);
    assert!(output.status.success());
    let events = events(&output);
    for (expected, event) in events.iter().enumerate() {
        assert_eq!(event["v"], 1);
        assert_eq!(event["stream"], "live0");
        assert_eq!(event["seq"], expected as u64);
    }
    assert_eq!(events.last().map(|e| e["type"].clone()), Some("eos".into()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("summary:") && stderr.contains("median A/V offset"),
        "no summary line: {stderr}"
    );
}

#[test]
fn ctrl_c_ends_a_live_run_cleanly_with_the_last_events_and_the_summary() {
    let _shared = shared();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["sync", "--live", "test?duration_s=60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the warpflow binary starts");
    std::thread::sleep(std::time::Duration::from_secs(4));
    let output = interrupt_and_wait(child, std::time::Duration::from_secs(30));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = events(&output);
    assert!(!of_type(&events, "offset").is_empty(), "no offset before the stop");
    assert_eq!(events.last().map(|e| e["type"].clone()), Some("eos".into()));
    assert!(String::from_utf8_lossy(&output.stderr).contains("summary:"));
}

#[test]
fn tracks_drift_between_audio_and_video_clocks() {
    let _shared = shared();
    let output = warpflow(&[
        "sync",
        "--live",
        "test?av_offset_ms=40&drift_ppm=2000&duration_s=30",
        "--pace",
        "fast",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = events(&output);
    let offsets = of_type(&events, "offset");
    let first_ns = offsets
        .first()
        .and_then(|e| e["live_ns"].as_u64())
        .expect("offset estimates");
    let locked_ns = offsets
        .iter()
        .find(|e| e["locked"] == true)
        .and_then(|e| e["live_ns"].as_u64())
        .expect("the track locks");
    assert!(
        locked_ns - first_ns <= 3_000_000_000,
        "locked {} s after the first estimate",
        (locked_ns - first_ns) as f64 / 1e9
    );
    let last = offsets.last().expect("offset estimates");
    let drift = last["drift_ppm"].as_f64().unwrap_or(f64::NAN);
    println!("drift: measured {drift:.0} ppm for 2000 ppm");
    assert!((drift - 2000.0).abs() < 400.0, "drift {drift} ppm");
    for event in offsets
        .iter()
        .filter(|e| e["live_ns"].as_u64().unwrap_or(0) >= locked_ns + 3_000_000_000)
    {
        let live_s = event["live_ns"].as_f64().unwrap_or(0.0) / 1e9;
        let truth_ns = 40e6 + 2000e-6 * live_s * 1e9;
        let measured = event["av_offset_ns"].as_f64().unwrap_or(f64::NAN);
        assert!(
            (measured - truth_ns).abs() <= FRAME_NS,
            "at {live_s} s: {measured} ns for {truth_ns} ns"
        );
    }
}

#[test]
fn a_pipeline_file_names_the_source_and_the_stream() {
    let _shared = shared();
    let output = warpflow(&["sync", "--pipeline", "pipelines/test-pattern.toml", "--pace", "fast"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = events(&output);
    assert!(
        events.iter().all(|e| e["stream"] == "pattern"),
        "the file's stream id names the events"
    );
    let mut offsets_ms: Vec<f64> = of_type(&events, "offset")
        .iter()
        .filter_map(|e| e["av_offset_ns"].as_f64())
        .map(|ns| ns / 1e6)
        .collect();
    // The file's pattern has audio 80 ms late.
    let measured_ms = median(&mut offsets_ms);
    assert!((measured_ms - 80.0).abs() <= FRAME_NS / 1e6, "{measured_ms} ms");
}
