//! Helpers shared by the integration tests: running the binary, reading its events, and
//! making media files with known ground truth.

#![allow(dead_code)]

pub mod feed_load;
pub mod hang;
pub mod real_media;
pub mod rtsp;
pub mod served;
pub mod streams_client;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The events a running `warpflow` prints on its standard output (piped), one JSON object per
/// line, as they come; a line that is not one fails the reading thread, which ends the stream.
pub fn event_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<Value> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let event = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON event: {line}: {e}"));
            if sender.send(event).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The venv's Python, where scripts/setup.sh installs torch and librosa.
pub fn python() -> std::path::PathBuf {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/warpflow/venv")
        });
    venv.join("bin/python")
}

/// Builds the small TorchScript test models (tests/python/make_models.py) into a new folder.
pub fn test_models() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary folder");
    let output = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/make_models.py"))
        .arg(dir.path())
        .output()
        .expect("running the venv's python (./scripts/setup.sh installs torch there)");
    assert!(
        output.status.success(),
        "make_models.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

/// Runs the `warpflow` binary with `args`.
pub fn warpflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(args)
        .output()
        .expect("the warpflow binary runs")
}

/// The JSON events on a run's standard output.
pub fn events(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON event: {line}: {e}")))
        .collect()
}

/// Events of one type.
pub fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// The `position` events that are final (`true`) or provisional (`false`).
pub fn positions(events: &[Value], settled: bool) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "position" && e["final"] == settled)
        .collect()
}

/// Median of a non-empty list.
pub fn median(values: &mut [f64]) -> f64 {
    assert!(!values.is_empty(), "median of nothing");
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Writes mono 16-bit PCM WAV.
pub fn write_wav(path: &Path, rate_hz: u32, samples: &[f32]) {
    let data_len = (samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + data_len as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&rate_hz.to_le_bytes());
    bytes.extend_from_slice(&(rate_hz * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for &s in samples {
        bytes.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    std::fs::write(path, bytes).expect("WAV written");
}

/// Waits on `pipeline`'s bus for `until` (end-of-stream, or async-done after a state change);
/// an error message fails the test, naming `line`.
fn wait_for(pipeline: &gst::Element, line: &str, until: gst::MessageType) {
    use gst::prelude::*;
    let bus = pipeline.bus().expect("pipeline has a bus");
    for message in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
        match message.view() {
            gst::MessageView::Error(e) => panic!("{line}: {}", e.error()),
            _ if message.type_() == until => return,
            _ => {}
        }
    }
    panic!("{line}: no {until:?} within 120 s");
}

/// Runs a GStreamer launch line to end-of-stream (to transcode test files).
pub fn gst_launch(line: &str) {
    use gst::prelude::*;
    gst::init().expect("GStreamer initialises");
    let pipeline = gst::parse::launch(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    pipeline.set_state(gst::State::Playing).expect("pipeline plays");
    wait_for(&pipeline, line, gst::MessageType::Eos);
    pipeline.set_state(gst::State::Null).expect("pipeline stops");
}

/// A note of the test melody.
#[derive(Debug, Clone, Copy)]
pub struct Note {
    /// Start in reference seconds.
    pub start_s: f64,
    /// Length in reference seconds.
    pub length_s: f64,
    /// MIDI pitch.
    pub midi: u8,
}

/// A melody of distinct notes (deterministic), `total_s` seconds long.
pub fn melody(total_s: f64) -> Vec<Note> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut notes = Vec::new();
    let mut t = 0.3;
    while t < total_s - 0.6 {
        let length_s = 0.18 + 0.4 * next();
        let midi = 52 + (next() * 28.0) as u8;
        notes.push(Note {
            start_s: t,
            length_s,
            midi,
        });
        t += length_s;
    }
    notes
}

/// A monotone piecewise-linear map from reference time to live time.
#[derive(Debug, Clone)]
pub struct TimeMap {
    /// (reference s, live s) breakpoints, increasing in both.
    pub points: Vec<(f64, f64)>,
}

impl TimeMap {
    /// Linear interpolation through the breakpoints (extrapolating the end segments).
    fn interpolate(points: &[(f64, f64)], x: f64, swap: bool) -> f64 {
        let points: Vec<(f64, f64)> = points
            .iter()
            .map(|&(a, b)| if swap { (b, a) } else { (a, b) })
            .collect();
        let segment = points.windows(2).position(|w| x <= w[1].0).unwrap_or(points.len() - 2);
        let ((x0, y0), (x1, y1)) = (points[segment], points[segment + 1]);
        y0 + (x - x0) * (y1 - y0) / (x1 - x0)
    }

    /// Live time of reference time `ref_s`.
    pub fn live_of(&self, ref_s: f64) -> f64 {
        Self::interpolate(&self.points, ref_s, false)
    }

    /// Reference time of live time `live_s`.
    pub fn ref_of(&self, live_s: f64) -> f64 {
        Self::interpolate(&self.points, live_s, true)
    }
}

/// Renders `notes` (harmonic tones with a decaying envelope), placed in time by `map`.
pub fn render(notes: &[Note], map: &TimeMap, rate_hz: u32, total_live_s: f64, noise: f32) -> Vec<f32> {
    let rate = f64::from(rate_hz);
    let mut out = vec![0.0f32; (total_live_s * rate) as usize];
    for note in notes {
        let start = map.live_of(note.start_s);
        let end = map.live_of(note.start_s + note.length_s);
        let hz = 440.0 * 2f64.powf((f64::from(note.midi) - 69.0) / 12.0);
        let (first, last) = ((start * rate) as usize, ((end * rate) as usize).min(out.len()));
        for (n, sample) in out.iter_mut().enumerate().take(last).skip(first) {
            let t = (n - first) as f64 / rate;
            let envelope = (t / 0.005).min(1.0) * (-3.0 * t).exp();
            let tone: f64 = [1.0, 0.5, 0.25]
                .iter()
                .enumerate()
                .map(|(h, a)| a * (2.0 * std::f64::consts::PI * hz * (h + 1) as f64 * t).sin())
                .sum();
            *sample += (0.25 * envelope * tone) as f32;
        }
    }
    let mut state = 0x1234_5678u64;
    for sample in &mut out {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        *sample += noise * (((state >> 33) as f32 / (1u64 << 31) as f32) - 1.0);
    }
    out
}

/// Writes a copy of `input` (WAV) played `rate` times faster with its pitch kept, by GStreamer's
/// `scaletempo` under a rate seek: a time-stretched copy of the same recording.
pub fn gst_time_stretch(input: &Path, output: &Path, rate: f64) {
    use gst::prelude::*;
    gst::init().expect("GStreamer initialises");
    let line = format!(
        "filesrc location={} ! wavparse ! audioconvert ! scaletempo ! audioconvert ! audioresample ! wavenc ! filesink location={}",
        input.display(),
        output.display()
    );
    let pipeline = gst::parse::launch(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    pipeline.set_state(gst::State::Paused).expect("pipeline pauses");
    wait_for(&pipeline, &line, gst::MessageType::AsyncDone);
    pipeline
        .seek(
            rate,
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::SeekType::Set,
            gst::ClockTime::ZERO,
            gst::SeekType::None,
            gst::ClockTime::NONE,
        )
        .expect("the pipeline takes a rate seek");
    pipeline.set_state(gst::State::Playing).expect("pipeline plays");
    wait_for(&pipeline, &line, gst::MessageType::Eos);
    pipeline.set_state(gst::State::Null).expect("pipeline stops");
}

/// Runs `warpflow follow` on two files (fast pace) with `extra` options; returns its events.
pub fn follow_events(reference: &Path, live: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "follow",
        "--reference",
        reference.to_str().unwrap_or_default(),
        "--live",
        live.to_str().unwrap_or_default(),
        "--pace",
        "fast",
    ];
    args.extend_from_slice(extra);
    let output = warpflow(&args);
    assert!(
        output.status.success(),
        "follow failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    events(&output)
}

/// A `.wfr` reference in `dir`: `seconds` of the tests' synthetic melody, written as
/// `reference.wav` there and encoded by `warpflow encode-ref`.
pub fn melody_reference(dir: &Path, seconds: f64) -> std::path::PathBuf {
    const RATE_HZ: u32 = 22_050;
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (seconds, seconds)],
    };
    let wav = dir.join("reference.wav");
    write_wav(
        &wav,
        RATE_HZ,
        &render(&melody(seconds), &identity, RATE_HZ, seconds, 0.0),
    );
    let wfr = dir.join("reference.wfr");
    let encoded = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["encode-ref"])
        .arg(&wav)
        .arg("-o")
        .arg(&wfr)
        .output()
        .expect("the warpflow binary runs");
    assert!(encoded.status.success(), "{}", String::from_utf8_lossy(&encoded.stderr));
    wfr
}

/// The files of the shared libraries this process has mapped (from `/proc/self/maps`).
pub fn mapped_libraries() -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps is readable on Linux");
    let mut paths: Vec<String> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| path.contains(".so"))
        .map(str::to_owned)
        .collect();
    paths.dedup();
    paths
}

/// The folder of the `libtorch_cpu.so` this process has loaded (libtorch touched first, so
/// that it is mapped).
pub fn libtorch_lib_folder() -> Option<std::path::PathBuf> {
    let _ = tch::Tensor::zeros([1], (tch::Kind::Float, tch::Device::Cpu));
    mapped_libraries()
        .into_iter()
        .find(|path| path.ends_with("/libtorch_cpu.so"))
        .and_then(|path| Path::new(&path).parent().map(Path::to_path_buf))
}

/// A plain HTTP/1.1 GET of `path`, with a bearer `token` if given; the whole reply (a binary
/// body, such as a picture's, read lossily).
pub fn http_get(addr: SocketAddr, path: &str, token: Option<&str>) -> String {
    let mut http = TcpStream::connect(addr).expect("connects");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        http,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("request sent");
    let mut bytes = Vec::new();
    http.read_to_end(&mut bytes).expect("reply read");
    String::from_utf8_lossy(&bytes).into_owned()
}
