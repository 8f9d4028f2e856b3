//! `warpflow sync` against a real RTSP server on 127.0.0.1 (gst-rtsp-server, H.264 video and
//! Opus audio made from a flash-and-beep file with a known offset): the offset is right; the
//! server is stopped mid-stream and started again, and the run reports `lost`, then
//! `recovered`, then the right offset again — without ending.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::median;
use common::rtsp::{flash_and_beep_file, run_main_context, RtspServer, FRAME_MS, OFFSET_MS};
use serde_json::Value;

/// A running `warpflow`, killed if the test fails before it ends.
struct Run(Option<Child>);

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The run's events, line by line, as they come.
fn event_lines(child: &mut Child) -> Receiver<Value> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let event = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON event: {line}: {e}"));
            if sender.send(event).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Collects events until one satisfies `until` or `timeout` passes; returns whether one did.
fn collect_until(
    events: &Receiver<Value>,
    seen: &mut Vec<Value>,
    timeout: Duration,
    until: impl Fn(&Value) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match events.recv_timeout(left) {
            Ok(event) => {
                let done = until(&event);
                seen.push(event);
                if done {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

fn offsets_ms(events: &[Value], from_ns: u64, to_ns: u64) -> Vec<f64> {
    events
        .iter()
        .filter(|e| e["type"] == "offset")
        .filter(|e| e["live_ns"].as_u64().is_some_and(|t| (from_ns..to_ns).contains(&t)))
        .filter_map(|e| e["av_offset_ns"].as_f64())
        .map(|ns| ns / 1e6)
        .collect()
}

#[test]
fn sync_over_rtsp_tcp_survives_the_server_going_down_and_coming_back() {
    survives_the_server_going_down_and_coming_back("rtspt");
}

#[test]
fn sync_over_rtsp_udp_survives_the_server_going_down_and_coming_back() {
    survives_the_server_going_down_and_coming_back("rtspu");
}

/// Runs `sync` on the server over `scheme` (rtspt: TCP, rtspu: UDP), stops the server once
/// locked, starts it again, and checks the events and the offsets on both sides of the outage.
fn survives_the_server_going_down_and_coming_back(scheme: &str) {
    gst::init().expect("GStreamer initialises");
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = flash_and_beep_file(dir.path(), 60);
    run_main_context();

    let server = RtspServer::start(&file, 0);
    let port = server.port;
    let child = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args([
            "sync",
            "--live",
            &format!("{scheme}://127.0.0.1:{port}/x"),
            "--stall-timeout-s",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the warpflow binary starts");
    let mut run = Run(Some(child));
    let events = event_lines(run.0.as_mut().expect("the run"));
    let mut seen = Vec::new();

    // Locked on the first connection.
    let locked = collect_until(&events, &mut seen, Duration::from_secs(40), |e| {
        e["type"] == "offset" && e["locked"] == true && e["live_ns"].as_u64().is_some_and(|t| t > 8_000_000_000)
    });
    assert!(locked, "no locked offset within 40 s: {seen:?}");

    server.stop();
    let lost = collect_until(&events, &mut seen, Duration::from_secs(20), |e| e["type"] == "lost");
    assert!(lost, "no lost event after the server stopped: {seen:?}");
    std::thread::sleep(Duration::from_secs(3));

    let server = RtspServer::start(&file, port);
    let recovered = collect_until(&events, &mut seen, Duration::from_secs(30), |e| {
        e["type"] == "recovered"
    });
    assert!(recovered, "no recovered event after the server came back: {seen:?}");
    let recovered_ns = seen
        .last()
        .and_then(|e| e["live_ns"].as_u64())
        .expect("recovered.live_ns");
    let settled = collect_until(&events, &mut seen, Duration::from_secs(40), |e| {
        e["type"] == "offset" && e["live_ns"].as_u64().is_some_and(|t| t > recovered_ns + 10_000_000_000)
    });
    assert!(settled, "no offsets 10 s after recovering: {seen:?}");

    let child = run.0.take().expect("the run");
    let signal = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    assert!(signal.is_ok_and(|s| s.success()), "could not send SIGINT");
    let output = child.wait_with_output().expect("warpflow ends");
    server.stop();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let lost_event = seen.iter().find(|e| e["type"] == "lost").expect("lost");
    let lost_ns = lost_event["live_ns"].as_u64().expect("lost.live_ns");
    let mut before = offsets_ms(&seen, 4_000_000_000, lost_ns);
    let mut after = offsets_ms(&seen, recovered_ns + 4_000_000_000, u64::MAX);
    let (before_ms, after_ms) = (median(&mut before), median(&mut after));
    println!(
        "RTSP over {scheme}: offset {before_ms:.1} ms before the outage ({} estimates), lost at {:.1} s ({}), \
         recovered at {:.1} s, {after_ms:.1} ms after ({} estimates)",
        before.len(),
        lost_ns as f64 / 1e9,
        lost_event["reason"],
        recovered_ns as f64 / 1e9,
        after.len()
    );
    assert!(recovered_ns > lost_ns, "running time goes on across the outage");
    for (when, measured) in [("before the outage", before_ms), ("after recovering", after_ms)] {
        assert!(
            (measured - OFFSET_MS).abs() <= FRAME_MS,
            "{when}: {measured:.1} ms, made with {OFFSET_MS} ms"
        );
    }
}
