//! Parity: every encoder gives on the device what it gives on the CPU, within a tolerance.
//!
//! The difference is the largest over all values, relative to the largest magnitude of the
//! CPU's values (or 1, for values that are all small): in f32 within 1e-3 (the device's FFTs
//! and reductions add in another order), in half precision within 2e-2 (about three decimal
//! digits, what `--half` promises).

use std::path::Path;

use anyhow::Result;
use warpflow::encode::{
    AudioFeatureEncoder, AudioFeatureKind, AudioFrameParams, ChannelOrder, FrameSize, ModelContract, ModelSettings,
    OnsetEnvelope, PictureChange, PictureRows, PixelLayout, TorchScriptEncoder, VideoFeature, VideoFeatureEncoder,
    VideoFrameFormat,
};
use warpflow::flow::FOLLOW_FRAMES;

use super::report::{ParityRow, Report};
use super::signals::{melody, pictures, windows};
use super::Options;

const F32_TOLERANCE: f64 = 1e-3;
const HALF_TOLERANCE: f64 = 2e-2;
/// Records per encode call.
const BATCH: usize = 64;
/// The sync path's onset framing (16 ms windows every 5 ms at 16 kHz, 40 mel bands).
pub const ONSET_FRAMES: AudioFrameParams = AudioFrameParams {
    rate_hz: 16_000,
    frame_len: 256,
    hop_len: 80,
    history_len: 0,
};
pub const ONSET_MELS: usize = 40;

/// The largest difference of `device` from `cpu`, relative to the CPU's largest magnitude.
pub fn relative_difference(cpu: &[f32], device: &[f32]) -> f64 {
    if cpu.len() != device.len() {
        return f64::NAN;
    }
    let scale = cpu.iter().fold(1.0f64, |m, v| m.max(f64::from(v.abs())));
    let largest = cpu
        .iter()
        .zip(device)
        .fold(0.0f64, |m, (a, b)| m.max(f64::from((a - b).abs())));
    largest / scale
}

/// `encode` run over `input` in batches of [`BATCH`] records of `record_len`, on both sides.
fn both<T>(
    input: &[T],
    record_len: usize,
    mut on_cpu: impl FnMut(&[T], &mut Vec<f32>) -> Result<()>,
    mut on_device: impl FnMut(&[T], &mut Vec<f32>) -> Result<()>,
) -> Result<f64> {
    let (mut cpu, mut device) = (Vec::new(), Vec::new());
    for chunk in input.chunks(BATCH * record_len) {
        on_cpu(chunk, &mut cpu)?;
        on_device(chunk, &mut device)?;
    }
    Ok(relative_difference(&cpu, &device))
}

pub fn run(options: &Options, report: &mut Report) -> Result<()> {
    let device = report.device();
    let seconds = if options.quick { 4 } else { 20 };
    let (samples, _) = melody(seconds * 3, 1.0, FOLLOW_FRAMES.rate_hz, 7);
    let audio = windows(&samples, FOLLOW_FRAMES.frame_len, FOLLOW_FRAMES.hop_len);
    for kind in [
        AudioFeatureKind::SemitoneFlux,
        AudioFeatureKind::LogMelFlux,
        AudioFeatureKind::LogMel,
        AudioFeatureKind::Chroma,
    ] {
        let mut cpu = AudioFeatureEncoder::new(kind, FOLLOW_FRAMES, tch::Device::Cpu)?;
        let mut gpu = AudioFeatureEncoder::new(kind, FOLLOW_FRAMES, device)?;
        let difference = both(
            &audio,
            FOLLOW_FRAMES.frame_len,
            |chunk, out| Ok(cpu.encode(chunk, out)?),
            |chunk, out| Ok(gpu.encode(chunk, out)?),
        )?;
        report.parity(ParityRow {
            encoder: format!("follow's {kind}"),
            precision: "f32",
            max_relative_difference: difference,
            tolerance: F32_TOLERANCE,
        });
    }

    let (speech_like, _) = melody(seconds * 3, 1.3, ONSET_FRAMES.rate_hz, 11);
    let onset_windows = windows(&speech_like, ONSET_FRAMES.frame_len, ONSET_FRAMES.hop_len);
    let mut cpu = OnsetEnvelope::new(ONSET_FRAMES, ONSET_MELS, tch::Device::Cpu)?;
    let mut gpu = OnsetEnvelope::new(ONSET_FRAMES, ONSET_MELS, device)?;
    let difference = both(
        &onset_windows,
        ONSET_FRAMES.frame_len,
        |chunk, out| Ok(cpu.encode(chunk, out)?),
        |chunk, out| Ok(gpu.encode(chunk, out)?),
    )?;
    report.parity(ParityRow {
        encoder: "sync's onset envelope".to_owned(),
        precision: "f32",
        max_relative_difference: difference,
        tolerance: F32_TOLERANCE,
    });

    let format = VideoFrameFormat {
        width: 320,
        height: 240,
        layout: PixelLayout::Rgb,
    };
    let frames = pictures(if options.quick { 16 } else { 128 }, 320, 240, 3);
    for feature in [
        VideoFeature::LumaThumbnail { side: 16 },
        VideoFeature::ColourHistogram { bins: 4 },
        VideoFeature::MotionEnergy { grid: 4 },
    ] {
        let mut cpu = VideoFeatureEncoder::new(feature, format, tch::Device::Cpu)?;
        let mut gpu = VideoFeatureEncoder::new(feature, format, device)?;
        let difference = both(
            &frames,
            format.frame_bytes(),
            |chunk, out| Ok(cpu.encode(chunk, out)?),
            |chunk, out| Ok(gpu.encode(chunk, out)?),
        )?;
        report.parity(ParityRow {
            encoder: format!("video {feature} (320×240)"),
            precision: "f32",
            max_relative_difference: difference,
            tolerance: F32_TOLERANCE,
        });
    }

    let size = FrameSize {
        width: 1280,
        height: 720,
        channels: 3,
    };
    let frames = pictures(if options.quick { 4 } else { 32 }, 1280, 720, 3);
    let mut cpu = PictureChange::new(tch::Device::Cpu, 64, 48, 16, 12)?;
    let mut gpu = PictureChange::new(device, 64, 48, 16, 12)?;
    let (mut cpu_rows, mut gpu_rows) = (PictureRows::default(), PictureRows::default());
    for chunk in frames.chunks(8 * 1280 * 720 * 3) {
        cpu.encode(chunk, size, &mut cpu_rows)?;
        gpu.encode(chunk, size, &mut gpu_rows)?;
    }
    let grey_difference = cpu_rows
        .grey
        .iter()
        .zip(&gpu_rows.grey)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap_or(0);
    let difference = relative_difference(&cpu_rows.rise, &gpu_rows.rise)
        .max(relative_difference(&cpu_rows.blocks, &gpu_rows.blocks))
        // One grey level of 255 in the thumbnail the live page shows is rounding, not a fault.
        .max(f64::from(grey_difference.saturating_sub(1)) / 255.0);
    report.parity(ParityRow {
        encoder: "sync's picture change (1280×720 to 64×48)".to_owned(),
        precision: "f32",
        max_relative_difference: difference,
        tolerance: F32_TOLERANCE,
    });

    for path in &options.models {
        model_parity(path, options, report)?;
    }
    Ok(())
}

/// A TorchScript video model in f32 on the device against the CPU, and in half precision
/// where the device is a GPU.
fn model_parity(path: &Path, options: &Options, report: &mut Report) -> Result<()> {
    let device = report.device();
    let load = |device, half| {
        TorchScriptEncoder::load(
            path,
            ModelSettings {
                device,
                max_batch: 8,
                half,
            },
        )
    };
    let mut cpu = load(tch::Device::Cpu, false)?;
    let ModelContract::Video {
        width,
        height,
        channels,
        ..
    } = cpu.contract().clone()
    else {
        anyhow::bail!(
            "{}: expected a video model (a ResNet-18 from scripts/export_model.py)",
            path.display()
        );
    };
    let channels = if channels == ChannelOrder::Gray { 1 } else { 3 };
    let frames = pictures(if options.quick { 2 } else { 8 }, width, height, channels);
    let record = width * height * channels;
    let mut reference = Vec::new();
    for chunk in frames.chunks(8 * record) {
        cpu.encode_video(chunk, &mut reference)?;
    }
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let precisions: &[(&'static str, bool, f64)] = match device {
        tch::Device::Cpu => &[("f32", false, F32_TOLERANCE)],
        _ => &[("f32", false, F32_TOLERANCE), ("half", true, HALF_TOLERANCE)],
    };
    for &(precision, half, tolerance) in precisions {
        let mut on_device = load(device, half)?;
        let mut values = Vec::new();
        for chunk in frames.chunks(8 * record) {
            on_device.encode_video(chunk, &mut values)?;
        }
        report.parity(ParityRow {
            encoder: format!("model {name} ({width}×{height})"),
            precision,
            max_relative_difference: relative_difference(&reference, &values),
            tolerance,
        });
    }
    Ok(())
}
