//! A real RTSP server for tests and benchmarks: gst-rtsp-server on 127.0.0.1 serving a
//! flash-and-beep file with a known A/V offset as H.264 video and Opus audio.

use std::path::{Path, PathBuf};

use gst::glib;
use gst_rtsp_server::prelude::*;

use super::{gst_launch, write_wav};

/// Frame rate of the served video.
pub const FPS: u64 = 30;
const RATE_HZ: u32 = 48_000;
const WIDTH: usize = 160;
const HEIGHT: usize = 120;
/// The beep follows each flash by this much.
pub const OFFSET_MS: f64 = 80.0;
/// One video frame, the tolerance `sync` promises.
pub const FRAME_MS: f64 = 1_000.0 / FPS as f64;

/// A file of `length_s` seconds: a white frame at every whole second (black otherwise), and a
/// beep `OFFSET_MS` after each in quiet noise.
pub fn flash_and_beep_file(dir: &Path, length_s: u64) -> PathBuf {
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

/// Runs GLib's default main context, which the servers attach to, on a thread of its own
/// (once per process, however many servers and tests use it).
pub fn run_main_context() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let main_loop = glib::MainLoop::new(None, false);
        std::thread::spawn(move || main_loop.run());
    });
}

/// A gst-rtsp-server serving `file` at `/x`, encoded live to H.264 and Opus.
pub struct RtspServer {
    server: gst_rtsp_server::RTSPServer,
    source: Option<glib::SourceId>,
    /// The port it listens on.
    pub port: u16,
}

impl RtspServer {
    /// Serves on `port` (0: any free port) of 127.0.0.1.
    pub fn start(file: &Path, port: u16) -> Self {
        Self::serve(
            &format!(
                "( filesrc location={} ! matroskademux name=d \
                   d.video_0 ! queue ! videoconvert ! video/x-raw,format=I420 ! openh264enc ! h264parse ! \
                   rtph264pay name=pay0 pt=96 config-interval=1 \
                   d.audio_0 ! queue ! audioconvert ! audioresample ! opusenc ! rtpopuspay name=pay1 pt=97 )",
                file.display()
            ),
            port,
        )
    }

    /// Serves the media of `launch` (gst-rtsp-server's form: payloaders named `pay0`, `pay1`…)
    /// on `port` (0: any free port) of 127.0.0.1.
    pub fn serve(launch: &str, port: u16) -> Self {
        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let factory = gst_rtsp_server::RTSPMediaFactory::new();
        factory.set_launch(launch);
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

    /// Stops listening and cuts every client and session, as a server going down does. It
    /// happens on the main context the server runs on, as gst-rtsp-server expects of calls
    /// that close its clients and sessions; a server that has not stopped within 30 s fails
    /// the test.
    pub fn stop(mut self) {
        let source = self.source.take();
        let server = self.server.clone();
        let (stopped, done) = std::sync::mpsc::channel();
        glib::MainContext::default().invoke(move || {
            if let Some(source) = source {
                source.remove();
            }
            server.client_filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
            if let Some(pool) = server.session_pool() {
                pool.filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
            }
            let _ = stopped.send(());
        });
        if done.recv_timeout(std::time::Duration::from_secs(30)).is_err() {
            panic!(
                "the RTSP server did not stop within 30 s; this process's threads:\n{}",
                super::hang::thread_stacks(std::process::id())
            );
        }
    }
}

/// A server on 127.0.0.1 that takes every connection and keeps it open without a word (an RTSP
/// camera that hangs); its port.
pub fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}
