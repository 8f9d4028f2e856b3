//! `warpflow sync` against a real RTSP server on 127.0.0.1 (gst-rtsp-server, H.264 video and
//! Opus audio made from a flash-and-beep file with a known offset): the offset is right; the
//! server is stopped mid-stream and started again, and the run reports `lost`, then
//! `recovered`, then the right offset again — without ending.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{gst_launch, median, write_wav};
use gst::glib;
use gst_rtsp_server::prelude::*;
use serde_json::Value;

const FPS: u64 = 30;
const RATE_HZ: u32 = 48_000;
const WIDTH: usize = 160;
const HEIGHT: usize = 120;
/// The beep follows each flash by this much.
const OFFSET_MS: f64 = 80.0;
/// One video frame, the tolerance `sync` promises.
const FRAME_MS: f64 = 1_000.0 / FPS as f64;

/// A file of `length_s` seconds: a white frame at every whole second (black otherwise), and a
/// beep `OFFSET_MS` after each in quiet noise.
fn flash_and_beep_file(dir: &Path, length_s: u64) -> std::path::PathBuf {
    let frame = |index: u64| {
        let level = if index.is_multiple_of(FPS) { 235u8 } else { 16 };
        vec![level; WIDTH * HEIGHT]
    };
    let video: Vec<u8> = (0..length_s * FPS).flat_map(frame).collect();
    let video_path = dir.join("flashes.gray");
    std::fs::write(&video_path, video).expect("writing raw video");

    let mut noise_state = 0x2545_f491_u32;
    let samples: Vec<f32> = (0..length_s * u64::from(RATE_HZ))
        .map(|n| {
            noise_state ^= noise_state << 13;
            noise_state ^= noise_state >> 17;
            noise_state ^= noise_state << 5;
            let noise = (noise_state as f32 / u32::MAX as f32 - 0.5) * 0.01;
            let in_second_s = (n % u64::from(RATE_HZ)) as f64 / f64::from(RATE_HZ);
            let since_beep_s = in_second_s - OFFSET_MS / 1e3;
            let beep = if (0.0..0.1).contains(&since_beep_s) {
                0.5 * (2.0 * std::f64::consts::PI * 1_000.0 * since_beep_s).sin() as f32
            } else {
                0.0
            };
            noise + beep
        })
        .collect();
    let audio_path = dir.join("beeps.wav");
    write_wav(&audio_path, RATE_HZ, &samples);

    let output = dir.join("flash_and_beep.mkv");
    gst_launch(&format!(
        "filesrc location={} ! rawvideoparse width={WIDTH} height={HEIGHT} format=gray8 framerate={FPS}/1 ! queue ! mux. \
         filesrc location={} ! wavparse ! queue ! mux. \
         matroskamux name=mux ! filesink location={}",
        video_path.display(),
        audio_path.display(),
        output.display()
    ));
    output
}

/// A gst-rtsp-server serving `file` at `/x`, encoded live to H.264 and Opus.
struct RtspServer {
    server: gst_rtsp_server::RTSPServer,
    source: Option<glib::SourceId>,
    port: u16,
}

impl RtspServer {
    /// Serves on `port` (0: any free port) of 127.0.0.1.
    fn start(file: &Path, port: u16) -> Self {
        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let factory = gst_rtsp_server::RTSPMediaFactory::new();
        factory.set_launch(&format!(
            "( filesrc location={} ! matroskademux name=d \
               d.video_0 ! queue ! videoconvert ! video/x-raw,format=I420 ! openh264enc ! h264parse ! \
               rtph264pay name=pay0 pt=96 config-interval=1 \
               d.audio_0 ! queue ! audioconvert ! audioresample ! opusenc ! rtpopuspay name=pay1 pt=97 )",
            file.display()
        ));
        server
            .mount_points()
            .expect("the server has mount points")
            .add_factory("/x", factory);
        let source = server.attach(None).expect("the RTSP server listens");
        let port = u16::try_from(server.bound_port()).expect("a bound port");
        Self {
            server,
            source: Some(source),
            port,
        }
    }

    /// Stops listening and cuts every client and session, as a server going down does.
    fn stop(mut self) {
        if let Some(source) = self.source.take() {
            source.remove();
        }
        self.server
            .client_filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
        if let Some(pool) = self.server.session_pool() {
            pool.filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
        }
    }
}

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
fn sync_over_rtsp_survives_the_server_going_down_and_coming_back() {
    gst::init().expect("GStreamer initialises");
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = flash_and_beep_file(dir.path(), 60);
    let main_loop = glib::MainLoop::new(None, false);
    let looping = main_loop.clone();
    std::thread::spawn(move || looping.run());

    let server = RtspServer::start(&file, 0);
    let port = server.port;
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
    main_loop.quit();
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
        "RTSP: offset {before_ms:.1} ms before the outage ({} estimates), lost at {:.1} s ({}), \
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
