//! Real recordings fetched by scripts/real_media.sh, and copies of them made with ffmpeg with
//! known changes: the audio moved against the picture, another sound under the picture.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A real recording in the media cache; the test fails with the set-up command if it is missing.
pub fn recording(name: &str) -> PathBuf {
    let cache = std::env::var_os("WARPFLOW_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/warpflow"));
    let path = cache.join("media").join(name);
    assert!(
        path.is_file(),
        "{} is missing: ./scripts/setup.sh fetches it (scripts/real_media.sh)",
        path.display()
    );
    path
}

/// Runs ffmpeg with `args`, failing the test with its messages.
fn ffmpeg(args: &[&str]) {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs (./scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A copy of `clip` in `dir` whose audio is `shift_ms` later than its picture (earlier when
/// negative), the picture untouched and the audio re-encoded. A shift of 0 goes through the
/// same chain, as the control the others are read against.
pub fn shifted(clip: &Path, dir: &Path, shift_ms: i64) -> PathBuf {
    let filter = if shift_ms >= 0 {
        format!("adelay={shift_ms}:all=1")
    } else {
        format!("atrim=start={},asetpts=PTS-STARTPTS", -shift_ms as f64 / 1000.0)
    };
    let stem = clip.file_stem().and_then(|s| s.to_str()).unwrap_or("clip");
    let out = dir.join(format!("{stem}_{shift_ms}.mp4"));
    let (input, out_str) = (clip.to_string_lossy(), out.to_string_lossy());
    ffmpeg(&["-i", &input, "-af", &filter, "-c:v", "copy", "-c:a", "aac", &out_str]);
    out
}

/// `picture`'s video with `sound`'s audio (from `sound_from_s` in), cut to the shorter.
pub fn dubbed(picture: &Path, sound: &Path, sound_from_s: f64, out: &Path) -> PathBuf {
    let (picture, sound, out_str) = (
        picture.to_string_lossy(),
        sound.to_string_lossy(),
        out.to_string_lossy(),
    );
    let from = sound_from_s.to_string();
    ffmpeg(&[
        "-i",
        &picture,
        "-ss",
        &from,
        "-i",
        &sound,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-shortest",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        &out_str,
    ]);
    out.to_path_buf()
}

/// `clip` played `times` times in a row (picture and sound), into `dir`.
pub fn looped(clip: &Path, times: u32, dir: &Path) -> PathBuf {
    let list = dir.join("loop.txt");
    let line = format!("file '{}'\n", clip.display());
    std::fs::write(&list, line.repeat(times as usize)).expect("writing the concat list");
    let out = dir.join("looped.mp4");
    let (list_str, out_str) = (list.to_string_lossy(), out.to_string_lossy());
    ffmpeg(&["-f", "concat", "-safe", "0", "-i", &list_str, "-c", "copy", &out_str]);
    out
}

/// `clip` with its audio replaced by silence.
pub fn silenced(clip: &Path, out: &Path) -> PathBuf {
    let (clip, out_str) = (clip.to_string_lossy(), out.to_string_lossy());
    ffmpeg(&["-i", &clip, "-af", "volume=0", "-c:v", "copy", "-c:a", "aac", &out_str]);
    out.to_path_buf()
}

/// One frame of `clip` (at `at_s`) held for the clip's length, with the clip's own audio.
pub fn frozen(clip: &Path, at_s: f64, out: &Path) -> PathBuf {
    let (clip, out_str) = (clip.to_string_lossy(), out.to_string_lossy());
    let hold = format!("trim=start={at_s}:duration=0.05,loop=loop=-1:size=1,setpts=N/30/TB");
    ffmpeg(&[
        "-i",
        &clip,
        "-filter_complex",
        &format!("[0:v]{hold}[v]"),
        "-map",
        "[v]",
        "-map",
        "0:a",
        "-r",
        "30",
        "-shortest",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        &out_str,
    ]);
    out.to_path_buf()
}

/// The time (s) of the first 20 ms of `clip`'s audio at a tenth of its loudest or more: where
/// the speech starts.
pub fn sound_starts_s(clip: &Path) -> f64 {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(clip)
        .args(["-ac", "1", "-ar", "16000", "-f", "f32le", "-"])
        .output()
        .expect("ffmpeg runs");
    let samples: Vec<f32> = output
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let rms: Vec<f32> = samples
        .chunks(320)
        .map(|w| (w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32).sqrt())
        .collect();
    let loudest = rms.iter().copied().fold(0.0, f32::max);
    rms.iter().position(|&r| r >= 0.1 * loudest).unwrap_or(0) as f64 * 0.02
}

/// One field of `clip`'s picture stream, from ffprobe.
fn probe(clip: &Path, field: &str) -> String {
    let entries = format!("stream={field}");
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            &entries,
            "-of",
            "csv=p=0",
        ])
        .arg(clip)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The picture's length (s).
pub fn duration_s(clip: &Path) -> f64 {
    probe(clip, "duration").parse().unwrap_or(0.0)
}

/// The picture's frame period (s).
pub fn frame_period_s(clip: &Path) -> f64 {
    let rate = probe(clip, "r_frame_rate");
    let (num, den) = rate.trim().split_once('/').unwrap_or((rate.trim(), "1"));
    let fps = num.parse::<f64>().unwrap_or(30.0) / den.parse::<f64>().unwrap_or(1.0);
    1.0 / fps
}
