//! `sync` live at 720p30: what one stream costs, as the share of one core it takes in real
//! time, and its memory.
//!
//! - a camera delivering raw 1280×720 pictures at 30 fps (the built-in test source, flashes and
//!   beeps);
//! - a stream of H.264 and AAC as RTSP delivers it: a real talking head (psychopy's clip, from
//!   scripts/real_media.sh) scaled to 720p30 and played four times over, read in real time;
//!   beside it the same file only decoded (gst-launch-1.0 with fake sinks), which is what any
//!   player of the stream pays, so that warpflow's own share shows;
//! - the `avalign` element in a gst-launch-1.0 line on the same file.
//!
//! CPU is user + system time over wall time (/usr/bin/time), so 100% is one core; memory is
//! the largest resident set.
//!
//! `cargo bench --bench sync_live` (SYNC_LIVE_SECONDS sets the test source's length, default
//! 30 s).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one row's process reported.
struct Row {
    wall_s: f64,
    cpu_s: f64,
    max_rss_kb: u64,
    summary: String,
}

/// Runs `program args…` under /usr/bin/time with `env`, standard output discarded.
fn timed(program: &str, args: &[&str], env: &[(&str, &Path)]) -> Row {
    let mut command = Command::new("/usr/bin/time");
    command
        .args(["-f", "TIME %e %U %S %M", program])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("/usr/bin/time runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{program} {args:?} failed: {stderr}");
    let numbers: Vec<f64> = stderr
        .lines()
        .rfind(|l| l.starts_with("TIME "))
        .map(|l| l.split_whitespace().skip(1).filter_map(|w| w.parse().ok()).collect())
        .unwrap_or_default();
    let summary = stderr
        .lines()
        .rfind(|l| l.starts_with("summary:"))
        .map(|l| l.rsplit(" · ").next().unwrap_or_default().to_owned())
        .unwrap_or_default();
    Row {
        wall_s: numbers.first().copied().unwrap_or(f64::NAN),
        cpu_s: numbers.get(1).copied().unwrap_or(f64::NAN) + numbers.get(2).copied().unwrap_or(f64::NAN),
        max_rss_kb: numbers.get(3).copied().unwrap_or(0.0) as u64,
        summary,
    }
}

fn media(name: &str) -> PathBuf {
    let cache = std::env::var_os("WARPFLOW_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/warpflow"));
    let path = cache.join("media").join(name);
    assert!(path.is_file(), "{} is missing: run ./scripts/setup.sh", path.display());
    path
}

/// The talking head scaled to 1280×720 at 30 fps, four times over, as H.264 and AAC.
fn talking_head_720p(dir: &Path) -> PathBuf {
    let out = dir.join("talking_720p30.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-stream_loop", "3", "-i"])
        .arg(media("testMovie.mp4"))
        .args([
            "-vf",
            "scale=1280:720",
            "-r",
            "30",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-c:a",
            "aac",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg could not make the 720p clip");
    out
}

fn main() {
    let seconds: u64 = std::env::var("SYNC_LIVE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let binary = env!("CARGO_BIN_EXE_warpflow");
    let plugin_dir = Path::new(binary).parent().expect("the binary's folder").to_path_buf();
    let dir = tempfile::tempdir().expect("temporary folder");
    let clip = talking_head_720p(dir.path());
    let clip_str = clip.to_string_lossy().into_owned();
    let test_source = format!("test?width=1280&height=720&fps=30&duration_s={seconds}");
    let decode_only = format!(
        "filesrc location={clip_str} ! decodebin name=d d. ! queue ! videoconvert ! fakesink sync=true \
         d. ! queue ! audioconvert ! fakesink sync=true"
    );
    let element = format!(
        "filesrc location={clip_str} ! decodebin name=d d. ! queue ! videoconvert ! avalign name=a mode=sync \
         ! fakesink sync=true d. ! queue ! audioconvert ! audioresample ! a.audio_sink a.audio_src ! fakesink sync=true"
    );
    let rows: Vec<(&str, Row)> = vec![
        (
            "warpflow sync, raw 1280×720 at 30 fps (test source)",
            timed(binary, &["sync", "--live", &test_source], &[]),
        ),
        (
            "warpflow sync, 720p30 H.264 + AAC talking head",
            timed(binary, &["sync", "--live", &clip_str], &[]),
        ),
        (
            "the same file only decoded (gst-launch-1.0, fake sinks)",
            timed(
                "gst-launch-1.0",
                &decode_only.split_whitespace().collect::<Vec<_>>(),
                &[],
            ),
        ),
        (
            "avalign mode=sync in gst-launch-1.0, the same file",
            timed(
                "gst-launch-1.0",
                &element.split_whitespace().collect::<Vec<_>>(),
                &[("GST_PLUGIN_PATH", plugin_dir.as_path())],
            ),
        ),
    ];
    println!("| run | wall | CPU (100% = one core) | largest resident set | records |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, row) in rows {
        println!(
            "| {name} | {:.1} s | {:.1}% | {:.0} MB | {} |",
            row.wall_s,
            100.0 * row.cpu_s / row.wall_s,
            row.max_rss_kb as f64 / 1024.0,
            if row.summary.is_empty() { "–" } else { &row.summary }
        );
    }
}
