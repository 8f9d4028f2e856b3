//! Encoder throughput: every built-in audio and video encoder over batches of several sizes,
//! printed as a markdown table (frames per second, and time per batch), and librosa's mel
//! spectrogram on the same audio for comparison.
//!
//! Audio: 60 s of a synthetic signal at 22.05 kHz, 2048-sample windows every 512 samples
//! (librosa's defaults). Video: 240 frames of 320×240 RGB. libtorch runs on the threads it is
//! given (`--threads`, default 1, for a like-for-like comparison with librosa's single thread).
//!
//! With `--model FILE.pt` (and its contract beside it, see `scripts/export_model.py`) it also
//! times that TorchScript model on batches of 1, 8 and 32 inputs of its declared shape, e.g. a
//! ResNet-18 exported by `python scripts/export_model.py resnet18 resnet18.pt`.
//!
//! Run with: `cargo run --release --example encoder_bench -- [--device cpu|cuda|auto]
//! [--threads N] [--model FILE.pt [--half]]`; librosa must be in the venv (scripts/setup.sh
//! puts it there).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use warpflow::encode::{
    AudioFeatureEncoder, AudioFeatureKind, AudioFrameParams, AudioFramer, ChannelOrder, DeviceChoice, ModelContract,
    ModelSettings, PixelLayout, SpectralEncoder, SpectralFeature, TorchScriptEncoder, VideoFeature,
    VideoFeatureEncoder, VideoFrameFormat,
};

const PARAMS: AudioFrameParams = AudioFrameParams {
    rate_hz: 22_050,
    frame_len: 2048,
    hop_len: 512,
    history_len: 0,
};
const AUDIO_S: usize = 60;
const VIDEO: VideoFrameFormat = VideoFrameFormat {
    width: 320,
    height: 240,
    layout: PixelLayout::Rgb,
};
const VIDEO_FRAMES: usize = 240;

/// A pseudo-random signal: noise plus a few tones, so that no encoder meets only zeros.
fn signal() -> Vec<f32> {
    let mut state = 0x2545_f491u32;
    (0..AUDIO_S * PARAMS.rate_hz as usize)
        .map(|n| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let t = n as f32 / PARAMS.rate_hz as f32;
            0.1 * ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
                + 0.3 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                + 0.2 * (2.0 * std::f32::consts::PI * (300.0 + 50.0 * t) * t).sin()
        })
        .collect()
}

fn video_frames() -> Vec<u8> {
    (0..VIDEO_FRAMES * VIDEO.frame_bytes())
        .map(|k| ((k * 2_654_435_761usize) >> 13) as u8)
        .collect()
}

/// Encodes `frames` (each `frame_size` values) in batches of `batch` with `encode`; returns
/// frames per second and mean milliseconds per batch, best of three passes.
fn measure<T>(
    frames: &[T],
    frame_size: usize,
    batch: usize,
    mut encode: impl FnMut(&[T], &mut Vec<f32>) -> Result<()>,
) -> Result<(f64, f64)> {
    let count = frames.len() / frame_size;
    let mut best = f64::INFINITY;
    let mut out = Vec::new();
    for _ in 0..3 {
        out.clear();
        let started = Instant::now();
        for chunk in frames.chunks(batch * frame_size) {
            encode(chunk, &mut out)?;
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    let batches = count.div_ceil(batch);
    Ok((count as f64 / best, 1e3 * best / batches as f64))
}

fn librosa_mel_frames_per_s(samples: &[f32]) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("signal.f32");
    let bytes: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&path, bytes)?;
    let python = std::env::var_os("VIRTUAL_ENV")
        .map(|venv| Path::new(&venv).join("bin/python"))
        .context("VIRTUAL_ENV is not set: source scripts/env.sh first")?;
    let output = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/librosa_speed.py"))
        .arg(&path)
        .args([PARAMS.rate_hz as usize, PARAMS.frame_len, PARAMS.hop_len, 128].map(|v| v.to_string()))
        .output()
        .context("running benches/librosa_speed.py")?;
    if !output.status.success() {
        bail!("librosa_speed.py failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let line: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    line["frames_per_s"]
        .as_f64()
        .context("no frames_per_s in librosa_speed.py's output")
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut device, mut threads, mut model, mut half) = (DeviceChoice::Cpu, 1i32, None, false);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--device" => device = rest.next().context("--device needs a value")?.parse()?,
            "--threads" => threads = rest.next().context("--threads needs a number")?.parse()?,
            "--model" => model = Some(std::path::PathBuf::from(rest.next().context("--model needs a file")?)),
            "--half" => half = true,
            other => bail!("unknown option '{other}'; expected --device, --threads, --model or --half"),
        }
    }
    let device = device.resolve()?;
    tch::set_num_threads(threads);
    let samples = signal();
    let count = (samples.len() - PARAMS.frame_len) / PARAMS.hop_len + 1;
    let frames: Vec<f32> = (0..count)
        .flat_map(|k| {
            samples[k * PARAMS.hop_len..k * PARAMS.hop_len + PARAMS.frame_len]
                .iter()
                .copied()
        })
        .collect();
    println!("device {device:?}, {threads} libtorch thread(s); audio {count} windows of 2048 samples, video {VIDEO_FRAMES} frames of 320x240 RGB");
    println!();
    println!("| encoder | dim | batch | frames/s | ms per batch |");
    println!("| --- | --- | --- | --- | --- |");
    let spectral = [
        ("mel (128 bands)", SpectralFeature::Mel { n_mels: 128 }),
        (
            "MFCC (20 of 128 bands)",
            SpectralFeature::Mfcc {
                n_mels: 128,
                n_mfcc: 20,
            },
        ),
        ("chroma (12)", SpectralFeature::Chroma { n_chroma: 12 }),
        (
            "onset strength (128 bands)",
            SpectralFeature::OnsetStrength { n_mels: 128 },
        ),
    ];
    let mut mel_batched = 0.0;
    for (name, feature) in spectral {
        for batch in [1, 16, 256] {
            let mut encoder = SpectralEncoder::new(feature, PARAMS, Some(80.0), device)?;
            let (rate, ms) = measure(&frames, PARAMS.frame_len, batch, |chunk, out| {
                Ok(encoder.encode(chunk, out)?)
            })?;
            if batch == 256 && matches!(feature, SpectralFeature::Mel { .. }) {
                mel_batched = rate;
            }
            println!("| {name} | {} | {batch} | {rate:.0} | {ms:.3} |", feature.dim());
        }
    }
    for kind in [
        AudioFeatureKind::LogMel,
        AudioFeatureKind::LogMelFlux,
        AudioFeatureKind::SemitoneFlux,
        AudioFeatureKind::SemitoneFluxLows,
        AudioFeatureKind::Chroma,
    ] {
        for batch in [1, 16, 256] {
            let mut encoder = AudioFeatureEncoder::new(kind, PARAMS, device)?;
            // Framed as a run frames them: with the history the features take, if any.
            let params = encoder.params();
            let (mut spans, mut times) = (Vec::new(), Vec::new());
            AudioFramer::new(params)?.push(0, &samples, &mut spans, &mut times);
            let (rate, ms) = measure(&spans, params.span_len(), batch, |chunk, out| {
                Ok(encoder.encode(chunk, out)?)
            })?;
            println!(
                "| follow's {kind} (unit rows) | {} | {batch} | {rate:.0} | {ms:.3} |",
                encoder.dim()
            );
        }
    }
    let pixels = video_frames();
    for feature in [
        VideoFeature::LumaThumbnail { side: 16 },
        VideoFeature::ColourHistogram { bins: 4 },
        VideoFeature::MotionEnergy { grid: 4 },
    ] {
        for batch in [1, 8, 64] {
            let mut encoder = VideoFeatureEncoder::new(feature, VIDEO, device)?;
            let (rate, ms) = measure(&pixels, VIDEO.frame_bytes(), batch, |chunk, out| {
                Ok(encoder.encode(chunk, out)?)
            })?;
            println!(
                "| video {feature} | {} | {batch} | {rate:.0} | {ms:.3} |",
                feature.dim()
            );
        }
    }
    if let Some(path) = model {
        let settings = ModelSettings {
            device,
            max_batch: 32,
            half,
        };
        let mut encoder = TorchScriptEncoder::load(&path, settings)?;
        let input_len = match encoder.contract() {
            ModelContract::Audio { window_samples, .. } => *window_samples,
            ModelContract::Video {
                width,
                height,
                channels,
                ..
            } => width * height * if *channels == ChannelOrder::Gray { 1 } else { 3 },
        };
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        for batch in [1, 8, 32] {
            let (rate, ms) = match encoder.contract() {
                ModelContract::Audio { .. } => {
                    let windows = vec![0.1f32; 64 * input_len];
                    measure(&windows, input_len, batch, |chunk, out| {
                        Ok(encoder.encode_audio(chunk, out)?)
                    })?
                }
                ModelContract::Video { .. } => {
                    let frames: Vec<u8> = (0..64 * input_len).map(|k| (k * 7 % 251) as u8).collect();
                    measure(&frames, input_len, batch, |chunk, out| {
                        Ok(encoder.encode_video(chunk, out)?)
                    })?
                }
            };
            println!("| model {name} | {} | {batch} | {rate:.1} | {ms:.3} |", encoder.dim());
        }
    }
    let librosa = librosa_mel_frames_per_s(&samples)?;
    println!();
    println!(
        "librosa.feature.melspectrogram, whole signal at once: {librosa:.0} frames/s; warpflow's mel at batch 256: {mel_batched:.0} frames/s ({:.2}x)",
        mel_batched / librosa
    );
    Ok(())
}
