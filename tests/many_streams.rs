//! Several streams in one run (`--live` given more than once, `--workers`): each stream's
//! events are whole and numbered on their own, each measures its own offset, a stream that
//! fails ends alone while the others finish, and a camera that stalls on the same worker does
//! not stop the others' events.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::rtsp::{flash_and_beep_file, run_main_context, RtspServer};
use common::{events, warpflow};

/// The stream's events, checked to be numbered 0, 1, 2… and to end with `eos`.
fn whole_stream<'a>(events: &'a [Value], stream: &str) -> Vec<&'a Value> {
    let own: Vec<&Value> = events.iter().filter(|e| e["stream"] == stream).collect();
    let seqs: Vec<u64> = own.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(
        seqs,
        (0..own.len() as u64).collect::<Vec<_>>(),
        "stream {stream}: every seq once, in order"
    );
    assert_eq!(
        own.last().map(|e| e["type"].clone()),
        Some("eos".into()),
        "stream {stream} ends"
    );
    own
}

fn last_offset_ms(events: &[&Value]) -> f64 {
    events
        .iter()
        .rev()
        .find_map(|e| e["av_offset_ns"].as_i64())
        .map_or(f64::NAN, |ns| ns as f64 / 1e6)
}

#[test]
fn streams_of_one_run_are_measured_each_on_their_own() {
    let made_ms = [("left", 40.0), ("right", -120.0), ("centre", 200.0)];
    let mut args = vec![
        "sync".to_owned(),
        "--pace".into(),
        "fast".into(),
        "--workers".into(),
        "2".into(),
    ];
    for (name, offset_ms) in made_ms {
        args.extend([
            "--live".into(),
            format!("test?duration_s=8&av_offset_ms={offset_ms}"),
            "--stream".into(),
            name.into(),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = warpflow(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let events = events(&output);
    for (name, offset_ms) in made_ms {
        let own = whole_stream(&events, name);
        let measured = last_offset_ms(&own);
        println!("{name}: made with {offset_ms} ms, measured {measured:.1} ms");
        assert!(
            (measured - offset_ms).abs() < 1_000.0 / 30.0,
            "{name}: {measured} ms, made with {offset_ms}"
        );
        assert!(
            stderr.contains(&format!("s of {name}")),
            "a summary per stream: {stderr}"
        );
    }
}

#[test]
fn a_failing_stream_ends_alone() {
    // Nothing listens on port 1: the camera stream fails before any data.
    let output = warpflow(&[
        "sync",
        "--pace",
        "fast",
        "--live",
        "rtspt://127.0.0.1:1/nothing",
        "--stream",
        "camera",
        "--live",
        "test?duration_s=6&av_offset_ms=80",
        "--stream",
        "pattern",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the run reports the failed stream: {stderr}");
    assert!(
        stderr.contains("stream 'camera'"),
        "the message names the stream: {stderr}"
    );
    let events = events(&output);
    let pattern = whole_stream(&events, "pattern");
    let measured = last_offset_ms(&pattern);
    assert!(
        (measured - 80.0).abs() < 1_000.0 / 30.0,
        "the other stream went on: {measured} ms"
    );
}

#[test]
fn a_stalled_camera_does_not_hold_back_a_stream_on_the_same_worker() {
    gst::init().expect("GStreamer initialises");
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = flash_and_beep_file(dir.path(), 60);
    run_main_context();
    let server = RtspServer::start(&file, 0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["sync", "--pace", "realtime", "--stall-timeout-s", "2"])
        .args([
            "--live",
            &format!("rtspt://127.0.0.1:{}/x", server.port),
            "--stream",
            "camera",
        ])
        .args(["--live", "test?duration_s=25&av_offset_ms=-40", "--stream", "pattern"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the warpflow binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str(&line) {
                if sender.send(event).is_err() {
                    break;
                }
            }
        }
    });
    let mut seen: Vec<Value> = Vec::new();
    let mut stopped_server = Some(server);
    let deadline = Instant::now() + Duration::from_secs(90);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(event) = receiver.recv_timeout(left) else { break };
        // The camera stalls once it has given an offset: its server goes away.
        if event["stream"] == "camera" && event["type"] == "offset" {
            if let Some(server) = stopped_server.take() {
                server.stop();
            }
        }
        let pattern_ended = event["stream"] == "pattern" && event["type"] == "eos";
        seen.push(event);
        if pattern_ended {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    let lost_at = seen
        .iter()
        .position(|e| e["stream"] == "camera" && e["type"] == "lost")
        .unwrap_or_else(|| panic!("the camera was reported lost: {seen:?}"));
    let pattern_after: Vec<&Value> = seen[lost_at..]
        .iter()
        .filter(|e| e["stream"] == "pattern" && e["type"] == "offset")
        .collect();
    let measured = pattern_after
        .last()
        .and_then(|e| e["av_offset_ns"].as_i64())
        .map_or(f64::NAN, |ns| ns as f64 / 1e6);
    println!(
        "after the camera was lost: {} pattern offsets, the last {measured:.1} ms",
        pattern_after.len()
    );
    assert!(
        pattern_after.len() >= 10,
        "the pattern went on while the camera stalled: {pattern_after:?}"
    );
    assert!(
        (measured + 40.0).abs() < 1_000.0 / 30.0,
        "pattern: {measured} ms, made with -40"
    );
    assert_eq!(
        seen.last().map(|e| e["type"].clone()),
        Some("eos".into()),
        "the pattern ended"
    );
}
