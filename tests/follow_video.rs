//! `follow --video-features`: audio and video compared together, where the audio alone cannot
//! tell places apart. The recording's sound is the same tick every second; its picture changes
//! every frame. The live stream is the recording from 6.4 s on: audio alone can place it only
//! up to whole seconds, audio and video together at the right place.

mod common;

use std::path::Path;

use common::{follow_events, gst_launch, positions};

const RATE_HZ: usize = 22_050;
const FPS: usize = 25;
const WIDTH: usize = 64;
const HEIGHT: usize = 48;

/// Frame `n` of the picture: an 8×6 grid of grey levels drawn from `n`, so every frame differs.
fn picture(n: usize) -> Vec<u8> {
    let mut state = (n as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let cells: Vec<u8> = (0..48)
        .map(|_| {
            state ^= state >> 29;
            state = state.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            (state >> 56) as u8
        })
        .collect();
    (0..WIDTH * HEIGHT)
        .map(|k| cells[(k / WIDTH) / 8 * 8 + (k % WIDTH) / 8])
        .collect()
}

/// Sample `n` of the sound: a 60 ms 1 kHz tick at the start of every second over faint hiss,
/// the same samples every second (an exact search tells apart even rounding differences).
fn sound(n: usize) -> f32 {
    let n = n % RATE_HZ;
    let t = n as f32 / RATE_HZ as f32;
    let hiss = ((n.wrapping_mul(2_654_435_761) >> 7) % 1000) as f32 / 1000.0 - 0.5;
    let tick = if t < 0.06 {
        0.5 * (2.0 * std::f32::consts::PI * 1000.0 * t).sin()
    } else {
        0.0
    };
    tick + 0.002 * hiss
}

/// Writes the recording from `start_s` for `length_s` as a Matroska file with raw streams.
fn write_recording(dir: &Path, name: &str, start_s: f64, length_s: f64) -> std::path::PathBuf {
    let first_frame = (start_s * FPS as f64).round() as usize;
    let frames = (length_s * FPS as f64).round() as usize;
    let video: Vec<u8> = (first_frame..first_frame + frames).flat_map(picture).collect();
    let first_sample = (start_s * RATE_HZ as f64).round() as usize;
    let samples = (length_s * RATE_HZ as f64).round() as usize;
    let audio: Vec<u8> = (first_sample..first_sample + samples)
        .flat_map(|n| sound(n).to_le_bytes())
        .collect();
    let (video_path, audio_path) = (dir.join(format!("{name}.gray")), dir.join(format!("{name}.f32")));
    std::fs::write(&video_path, video).expect("writing raw video");
    std::fs::write(&audio_path, audio).expect("writing raw audio");
    let output = dir.join(format!("{name}.mkv"));
    gst_launch(&format!(
        "filesrc location={} ! rawvideoparse width={WIDTH} height={HEIGHT} format=gray8 framerate={FPS}/1 ! queue ! mux. \
         filesrc location={} ! rawaudioparse use-sink-caps=false format=pcm pcm-format=f32le sample-rate={RATE_HZ} num-channels=1 ! queue ! mux. \
         matroskamux name=mux ! filesink location={}",
        video_path.display(),
        audio_path.display(),
        output.display()
    ));
    output
}

/// Share of provisional positions from 4 s of live time on within 100 ms of `offset_s` ahead.
fn share_right(events: &[serde_json::Value], offset_s: f64) -> f64 {
    let late: Vec<f64> = positions(events, false)
        .iter()
        .filter_map(|p| Some((p["live_ns"].as_f64()? / 1e9, p["ref_ns"].as_f64()? / 1e9)))
        .filter(|(live_s, _)| *live_s >= 4.0)
        .map(|(live_s, ref_s)| (ref_s - live_s - offset_s).abs())
        .collect();
    assert!(late.len() > 300, "{} positions after 4 s", late.len());
    late.iter().filter(|&&error| error <= 0.1).count() as f64 / late.len() as f64
}

#[test]
fn video_places_what_audio_alone_cannot() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let reference = write_recording(dir.path(), "reference", 0.0, 20.0);
    let live = write_recording(dir.path(), "live", 6.4, 12.0);
    let with_video = follow_events(&reference, &live, &["--video-features", "thumbnail:8"]);
    let audio_only = follow_events(&reference, &live, &[]);
    let (right_with_video, right_audio_only) = (share_right(&with_video, 6.4), share_right(&audio_only, 6.4));
    println!(
        "positions from 4 s on within 100 ms: {:.1}% with video, {:.1}% with audio alone",
        100.0 * right_with_video,
        100.0 * right_audio_only
    );
    assert!(right_with_video >= 0.95, "with video: {right_with_video}");
    // The premise: the sound alone does not tell the seconds apart.
    assert!(right_audio_only < 0.5, "audio alone: {right_audio_only}");

    // A TorchScript video model in place of the built-in features: grid means of a 32×24 copy.
    let models = common::test_models();
    let cells = models.path().join("cells.pt");
    let with_model = follow_events(
        &reference,
        &live,
        &["--video-model", cells.to_str().unwrap_or_default()],
    );
    let right_with_model = share_right(&with_model, 6.4);
    println!("with the cells.pt video model: {:.1}%", 100.0 * right_with_model);
    assert!(right_with_model >= 0.95, "with a video model: {right_with_model}");

    // A reference file made with the same video settings gives the same positions; one made
    // without video is refused, naming both settings.
    let wfr = dir.path().join("reference.wfr");
    let output = common::warpflow(&[
        "encode-ref",
        reference.to_str().unwrap_or_default(),
        "-o",
        wfr.to_str().unwrap_or_default(),
        "--video-features",
        "thumbnail:8",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let from_file = follow_events(&wfr, &live, &["--video-features", "thumbnail:8"]);
    assert_eq!(share_right(&from_file, 6.4), right_with_video);
    let refused = common::warpflow(&[
        "follow",
        "--reference",
        wfr.to_str().unwrap_or_default(),
        "--live",
        live.to_str().unwrap_or_default(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("semitone-flux-lows+thumbnail:8*1") && message.contains("'semitone-flux-lows'"),
        "{message}"
    );
}
