//! `warpflow sync` against a real RTSP server on 127.0.0.1 (gst-rtsp-server, H.264 video and
//! Opus audio made from a flash-and-beep file with a known offset): the offset is right; the
//! server goes down mid-stream — shut down in order, or its process killed outright — and
//! comes back, and the run reports `lost`, then `recovered`, then the right offset again —
//! without ending.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::hang::{interrupt_and_wait, Watchdog};
use common::rtsp::{flash_and_beep_file, run_main_context, RtspServer, FRAME_MS, OFFSET_MS};
use common::{event_lines, median};
use serde_json::Value;

/// How long a run may take to end after Ctrl-C (it ends in about 2 s; a stuck source's
/// pipeline is left after 5 s).
const ENDS_WITHIN: Duration = Duration::from_secs(30);
/// Bounds each test whatever it waits on: the longest, twenty outages, takes under 3 minutes.
const TEST_LIMIT: Duration = Duration::from_secs(420);

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
    survives_the_server_going_down_and_coming_back("rtspt", Shutdown::Orderly);
}

#[test]
fn sync_over_rtsp_udp_survives_the_server_going_down_and_coming_back() {
    survives_the_server_going_down_and_coming_back("rtspu", Shutdown::Orderly);
}

#[test]
fn sync_over_rtsp_udp_survives_the_server_process_being_killed() {
    survives_the_server_going_down_and_coming_back("rtspu", Shutdown::Killed);
}

/// How the server goes down.
#[derive(Debug, Clone, Copy)]
enum Shutdown {
    /// In this process: it stops listening and closes its clients' sessions.
    Orderly,
    /// In a process of its own, killed with SIGKILL: no goodbye of any kind.
    Killed,
}

/// A server of either kind, serving the same media.
enum Server {
    InProcess(RtspServer),
    Process(ServerProcess),
}

/// The server's process, killed if the test fails while it runs.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    fn start(shutdown: Shutdown, file: &Path, port: u16) -> (Self, u16) {
        match shutdown {
            Shutdown::Orderly => {
                let server = RtspServer::start(file, port);
                let port = server.port;
                (Server::InProcess(server), port)
            }
            Shutdown::Killed => {
                let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/rtsp_server.py");
                // Debian's Python, which has the RTSP server's bindings (the venv has not).
                let mut child = Command::new("/usr/bin/python3")
                    .arg(&script)
                    .arg(file)
                    .arg(port.to_string())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("python3 starts the RTSP server");
                let mut line = String::new();
                let stdout = child.stdout.take().expect("piped stdout");
                BufReader::new(stdout)
                    .read_line(&mut line)
                    .expect("the server says where it listens");
                let port = line
                    .trim()
                    .strip_prefix("listening ")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("the server did not start: '{line}'"));
                (Server::Process(ServerProcess(child)), port)
            }
        }
    }

    fn go_down(self) {
        match self {
            Server::InProcess(server) => server.stop(),
            Server::Process(mut process) => {
                process.0.kill().expect("SIGKILL reaches the server");
                process.0.wait().expect("the server is reaped");
            }
        }
    }
}

/// Runs `sync` on a server over `scheme` (rtspt: TCP, rtspu: UDP), takes the server down once
/// locked, starts it again, and checks the events and the offsets on both sides of the outage.
fn survives_the_server_going_down_and_coming_back(scheme: &str, shutdown: Shutdown) {
    let _watchdog = Watchdog::arm("survives_the_server_going_down_and_coming_back", TEST_LIMIT);
    gst::init().expect("GStreamer initialises");
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = flash_and_beep_file(dir.path(), 60);
    run_main_context();

    let (server, port) = Server::start(shutdown, &file, 0);
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

    server.go_down();
    let lost = collect_until(&events, &mut seen, Duration::from_secs(20), |e| e["type"] == "lost");
    assert!(lost, "no lost event after the server stopped: {seen:?}");
    std::thread::sleep(Duration::from_secs(3));

    let (server, _) = Server::start(shutdown, &file, port);
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

    let ended = interrupt_and_wait(run.0.take().expect("the run"), ENDS_WITHIN);
    server.go_down();
    assert_eq!(
        ended.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ended.stderr)
    );

    let lost_event = seen.iter().find(|e| e["type"] == "lost").expect("lost");
    let lost_ns = lost_event["live_ns"].as_u64().expect("lost.live_ns");
    let mut before = offsets_ms(&seen, 4_000_000_000, lost_ns);
    let mut after = offsets_ms(&seen, recovered_ns + 4_000_000_000, u64::MAX);
    let (before_ms, after_ms) = (median(&mut before), median(&mut after));
    println!(
        "RTSP over {scheme}, server {shutdown:?}: offset {before_ms:.1} ms before the outage ({} estimates), lost at {:.1} s ({}), \
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

/// Live time the source did not deliver: from each `lost` to the `recovered` after it.
fn outages_ns(events: &[Value]) -> Vec<(u64, u64)> {
    let mut outages = Vec::new();
    let mut lost_at = None;
    for event in events {
        match event["type"].as_str() {
            Some("lost") => lost_at = lost_at.or(event["live_ns"].as_u64()),
            Some("recovered") => {
                if let (Some(from), Some(to)) = (lost_at.take(), event["live_ns"].as_u64()) {
                    outages.push((from, to));
                }
            }
            _ => {}
        }
    }
    outages
}

#[test]
fn sync_over_rtsp_gives_no_stale_or_wrong_locked_offset_across_20_outages_at_random_moments() {
    let _watchdog = Watchdog::arm("the test of 20 outages", TEST_LIMIT);
    gst::init().expect("GStreamer initialises");
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = flash_and_beep_file(dir.path(), 60);
    let (mut server, port) = Server::start(Shutdown::Killed, &file, 0);
    let child = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args([
            "sync",
            "--live",
            &format!("rtspt://127.0.0.1:{port}/x"),
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
    collect_until(&events, &mut seen, Duration::from_secs(40), |e| e["type"] == "offset");

    // Up 2–10 s, down 0.5–4 s, twenty times: the moments from a fixed seed, so that a failure
    // can be run again.
    let mut state = 0x5eed_2026_u64;
    let mut uniform = |low: f64, high: f64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        low + (high - low) * ((state >> 11) as f64 / (1u64 << 53) as f64)
    };
    const OUTAGES: usize = 20;
    for _ in 0..OUTAGES {
        let up = Duration::from_secs_f64(uniform(2.0, 10.0));
        let down = Duration::from_secs_f64(uniform(0.5, 4.0));
        collect_until(&events, &mut seen, up, |_| false);
        server.go_down();
        collect_until(&events, &mut seen, down, |_| false);
        server = Server::start(Shutdown::Killed, &file, port).0;
    }
    // After the last outage: recovered, and locked on the right offset again.
    let relocked = collect_until(&events, &mut seen, Duration::from_secs(60), |e| {
        e["type"] == "offset" && e["locked"] == true
    });
    let ended = interrupt_and_wait(run.0.take().expect("the run"), ENDS_WITHIN);
    server.go_down();
    seen.extend(events.try_iter());
    assert_eq!(
        ended.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ended.stderr)
    );

    let outages = outages_ns(&seen);
    let results: Vec<&Value> = seen
        .iter()
        .filter(|e| e["type"] == "offset" || e["type"] == "position")
        .collect();
    let stale: Vec<&&Value> = results
        .iter()
        .filter(|e| {
            let live_ns = e["live_ns"].as_u64().unwrap_or_default();
            outages.iter().any(|&(from, to)| from < live_ns && live_ns < to)
        })
        .collect();
    let locked: Vec<f64> = results
        .iter()
        .filter(|e| e["locked"] == true)
        .filter_map(|e| e["av_offset_ns"].as_f64())
        .map(|ns| ns / 1e6)
        .collect();
    let wrong: Vec<f64> = locked
        .iter()
        .copied()
        .filter(|ms| (ms - OFFSET_MS).abs() > FRAME_MS)
        .collect();
    println!(
        "{OUTAGES} outages of the server: {} lost/recovered pairs seen, {} offsets, {} locked \
         ({} more than a frame off {OFFSET_MS} ms), {} inside an outage",
        outages.len(),
        results.len(),
        locked.len(),
        wrong.len(),
        stale.len()
    );
    assert!(
        stale.is_empty(),
        "offsets for live time the source did not deliver: {stale:?}"
    );
    assert!(
        wrong.is_empty(),
        "locked offsets more than a frame off {OFFSET_MS} ms: {wrong:?}"
    );
    assert!(
        outages.len() >= OUTAGES / 2,
        "the outages were seen ({} of {OUTAGES})",
        outages.len()
    );
    assert!(relocked, "locked again after the last outage");
}
