//! `warpflow sync --speech-model` with the real Silero VAD. A talking stream: the picture
//! brightens as loud as each word is, 120 ms before the word is heard, while a louder knock
//! that the picture does not show sounds before each word. On the onsets alone the knocks pull
//! the offset 500 ms away from where the same stream without knocks puts it; weighted by the
//! speech the model hears, the knocks hardly count and the offset stays where it was.
//!
//! (The stream without knocks comes out near +210 ms rather than +120 ms: the onset envelope
//! of speech rises through a word, while the picture's change follows the loudness both ways;
//! the test is about what the knocks do, not about that bias.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{events, median, of_type, warpflow};
use warpflow::flow::FlowError;
use warpflow::media::decode_audio_file;

const RATE_HZ: usize = 16_000;
const FPS: usize = 30;
const WIDTH: usize = 64;
const HEIGHT: usize = 48;
/// The picture changes every 1.5 s, from 1 s on.
const FIRST_CHANGE_S: f64 = 1.0;
const PERIOD_S: f64 = 1.5;
const CHANGES: usize = 10;
/// The words are heard this long after the picture shows them.
const WORD_AFTER_CHANGE_S: f64 = 0.120;
const KNOCK_BEFORE_CHANGE_S: f64 = 0.400;

fn silero_vad() -> PathBuf {
    let cache = std::env::var_os("WARPFLOW_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/warpflow"));
    cache.join("models/silero_vad.jit")
}

/// A word spoken by espeak-ng, at 16 kHz, its loudest sample at 0.5.
fn spoken_word(dir: &Path, word: &str) -> Vec<f32> {
    let path = dir.join(format!("{word}.wav"));
    let status = Command::new("espeak-ng")
        .args(["-w", path.to_str().unwrap_or_default(), "-s", "160", word])
        .status()
        .expect("espeak-ng runs (./scripts/setup.sh installs it)");
    assert!(status.success());
    let mut samples = Vec::new();
    decode_audio_file::<FlowError, _>(&path, RATE_HZ as u32, |chunk, _| {
        samples.extend_from_slice(chunk);
        Ok(())
    })
    .expect("decoding the word");
    // espeak-ng leaves silence around the word; the word's time is its first sound.
    let start = samples.iter().position(|s| s.abs() > 0.01).unwrap_or(0);
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs())).max(1e-6);
    samples[start..].iter().map(|s| s * 0.5 / peak).collect()
}

/// Writes the stream's audio (s16le) and picture (gray8), with knocks of `knock_amplitude`
/// (0: none), and returns the launch line that plays them.
fn talking_stream(dir: &Path, knock_amplitude: f32) -> String {
    let words = ["bob", "pat", "tom", "kate", "dad"];
    let spoken: Vec<Vec<f32>> = words.iter().map(|w| spoken_word(dir, w)).collect();
    let duration_s = FIRST_CHANGE_S + PERIOD_S * CHANGES as f64 + 1.0;
    let mut audio = vec![0.0f32; (duration_s * RATE_HZ as f64) as usize];
    // The words alone, as the face says them.
    let mut speech = audio.clone();
    let mut noise = 12_345u32;
    for change in 0..CHANGES {
        let change_s = FIRST_CHANGE_S + PERIOD_S * change as f64;
        let word = &spoken[change % spoken.len()];
        let start = ((change_s + WORD_AFTER_CHANGE_S) * RATE_HZ as f64) as usize;
        for (k, s) in word.iter().enumerate() {
            if let Some(slot) = speech.get_mut(start + k) {
                *slot += s;
            }
        }
        // A knock: 20 ms of decaying noise at full scale.
        let knock = ((change_s - KNOCK_BEFORE_CHANGE_S) * RATE_HZ as f64) as usize;
        for k in 0..RATE_HZ / 50 {
            noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let white = (noise >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0;
            audio[knock + k] += knock_amplitude * white * (-(k as f32) / 60.0).exp();
        }
    }
    // Faint hiss throughout, as any room has.
    for (n, (sample, spoken)) in audio.iter_mut().zip(&speech).enumerate() {
        *sample += spoken + 0.002 * ((((n * 2_654_435_761) >> 9) % 1000) as f32 / 500.0 - 1.0);
    }
    let pcm: Vec<u8> = audio
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32_767.0) as i16).to_le_bytes())
        .collect();
    let audio_path = dir.join(format!("audio-{knock_amplitude}.raw"));
    std::fs::write(&audio_path, pcm).expect("writing the audio");

    // The picture of a face: it opens as loud as the word is, 120 ms before the word is heard.
    let frames = (duration_s * FPS as f64) as usize;
    let mut video = Vec::with_capacity(frames * WIDTH * HEIGHT);
    let samples_per_frame = RATE_HZ / FPS;
    for frame in 0..frames {
        let heard_from = ((frame as f64 / FPS as f64 + WORD_AFTER_CHANGE_S) * RATE_HZ as f64) as usize;
        let loudness = speech
            .get(heard_from..(heard_from + samples_per_frame).min(speech.len()))
            .map_or(0.0, |span| span.iter().fold(0.0f32, |m, s| m.max(s.abs())));
        let level = (20.0 + 400.0 * loudness).min(250.0) as u8;
        video.extend(std::iter::repeat_n(level, WIDTH * HEIGHT));
    }
    let video_path = dir.join(format!("video-{knock_amplitude}.raw"));
    std::fs::write(&video_path, video).expect("writing the picture");

    format!(
        "filesrc location={} ! rawaudioparse format=pcm pcm-format=s16le sample-rate={RATE_HZ} num-channels=1 \
         ! audioconvert ! audioresample ! appsink name=audio \
         filesrc location={} ! rawvideoparse width={WIDTH} height={HEIGHT} format=gray8 framerate={FPS}/1 \
         ! videoconvert ! videoscale ! appsink name=video",
        audio_path.display(),
        video_path.display()
    )
}

/// The median offset (ms) `sync` reports on `line` with `extra` options.
fn median_offset_ms(line: &str, extra: &[&str]) -> f64 {
    let mut args = vec!["sync", "--live", line, "--pace", "fast"];
    args.extend_from_slice(extra);
    let output = warpflow(&args);
    assert!(
        output.status.success(),
        "sync failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = events(&output);
    let mut offsets: Vec<f64> = of_type(&events, "offset")
        .into_iter()
        .filter_map(|e| e["av_offset_ns"].as_f64())
        .map(|ns| ns / 1e6)
        .collect();
    assert!(offsets.len() >= 4, "too few estimates: {offsets:?}");
    median(&mut offsets)
}

#[test]
fn speech_weighting_keeps_off_screen_knocks_from_pulling_the_offset() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let quiet = talking_stream(dir.path(), 0.0);
    let knocking = talking_stream(dir.path(), 0.95);
    let model = silero_vad();
    let model = model.to_str().unwrap_or_default();
    let without_knocks = median_offset_ms(&quiet, &[]);
    let plain = median_offset_ms(&knocking, &[]);
    let weighted = median_offset_ms(&knocking, &["--speech-model", model]);
    println!(
        "median offset: no knocks {without_knocks:+.1} ms; with knocks, onsets alone {plain:+.1} ms, \
         weighted by speech {weighted:+.1} ms"
    );
    assert!(
        (plain + KNOCK_BEFORE_CHANGE_S * 1e3).abs() < 34.0,
        "the knocks were meant to mislead the onsets alone: {plain:+.1} ms"
    );
    assert!(
        (weighted - without_knocks).abs() < 34.0,
        "weighted by speech {weighted:+.1} ms, without knocks {without_knocks:+.1} ms"
    );
}

#[test]
fn a_speech_model_with_more_than_one_output_is_refused() {
    let models = common::test_models();
    let model = models.path().join("log_spectrum.pt");
    let output = warpflow(&[
        "sync",
        "--live",
        "test?duration_s=2",
        "--pace",
        "fast",
        "--speech-model",
        model.to_str().unwrap_or_default(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("log_spectrum.pt") && stderr.contains("one value per window"),
        "{stderr}"
    );
}
