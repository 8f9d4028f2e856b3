//! Throughput: records per second and the p99 time per batch of each encoder, on the CPU (one
//! thread) and on the device, at batches of 1, 8, 64 and 256 records (a batch of 256 is what
//! the shared audio encoder of 256 live streams gets).
//!
//! Each measurement runs batches for at least half a second after one to warm up; a batch that
//! takes longer than [`SLOWEST_BATCH_S`] ends the encoder's larger batches on that side (a
//! ResNet-18 at 720p on one CPU thread), which the table then leaves empty.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use warpflow::encode::{
    AudioFeatureEncoder, AudioFeatureKind, ChannelOrder, FrameSize, ModelContract, ModelSettings, PictureChange,
    PictureRows, PixelLayout, TorchScriptEncoder, VideoFeature, VideoFeatureEncoder, VideoFrameFormat,
};
use warpflow::flow::FOLLOW_FRAMES;

use super::report::{Report, ThroughputRow};
use super::signals::{melody, pictures, windows};
use super::Options;

const BATCHES: [usize; 4] = [1, 8, 64, 256];
const SLOWEST_BATCH_S: f64 = 3.0;

/// Times `encode` on a batch of `batch` records made from `input` (records of `record_len`,
/// taken in turn and again from the first when they run out); `None` when one batch took
/// longer than [`SLOWEST_BATCH_S`].
fn measure<T: Clone>(
    input: &[T],
    record_len: usize,
    batch: usize,
    min_s: f64,
    mut encode: impl FnMut(&[T]) -> Result<()>,
) -> Result<Option<(f64, f64)>> {
    let chunk: Vec<T> = input
        .chunks_exact(record_len)
        .cycle()
        .take(batch)
        .flatten()
        .cloned()
        .collect();
    let take = || chunk.as_slice();
    let warm = Instant::now();
    encode(take())?;
    if warm.elapsed().as_secs_f64() > SLOWEST_BATCH_S {
        return Ok(None);
    }
    let mut times_s = Vec::new();
    let started = Instant::now();
    while times_s.len() < 3 || started.elapsed().as_secs_f64() < min_s {
        let one = Instant::now();
        encode(take())?;
        let took = one.elapsed().as_secs_f64();
        times_s.push(took);
        if took > SLOWEST_BATCH_S {
            break;
        }
    }
    let total: f64 = times_s.iter().sum();
    times_s.sort_by(f64::total_cmp);
    let p99 = times_s[(times_s.len() * 99 / 100).min(times_s.len() - 1)];
    Ok(Some(((times_s.len() * batch) as f64 / total, 1e3 * p99)))
}

/// Measures one encoder at every batch size on the CPU and on the device; `make(device,
/// batch)` gives a closure that encodes one batch.
fn both_sides<T: Clone, E>(
    report: &mut Report,
    name: &str,
    input: &[T],
    record_len: usize,
    min_s: f64,
    mut make: impl FnMut(tch::Device) -> Result<E>,
    mut encode: impl FnMut(&mut E, &[T]) -> Result<()>,
) -> Result<()> {
    let sides: Vec<(&str, tch::Device)> = match report.device() {
        tch::Device::Cpu => vec![("cpu", tch::Device::Cpu)],
        device => vec![("cpu", tch::Device::Cpu), ("device", device)],
    };
    for (label, device) in sides {
        let mut encoder = make(device)?;
        for batch in BATCHES {
            let Some((records_per_s, p99_batch_ms)) =
                measure(input, record_len, batch, min_s, |chunk| encode(&mut encoder, chunk))?
            else {
                break;
            };
            report.throughput(ThroughputRow {
                encoder: name.to_owned(),
                device: label.to_owned(),
                batch,
                records_per_s,
                p99_batch_ms,
            });
        }
    }
    Ok(())
}

pub fn run(options: &Options, report: &mut Report) -> Result<()> {
    let min_s = if options.quick { 0.05 } else { 0.5 };
    let (samples, _) = melody(40, 1.0, FOLLOW_FRAMES.rate_hz, 3);
    let audio = windows(&samples, FOLLOW_FRAMES.frame_len, FOLLOW_FRAMES.hop_len);
    for kind in [
        AudioFeatureKind::SemitoneFlux,
        AudioFeatureKind::LogMel,
        AudioFeatureKind::Chroma,
    ] {
        let mut out = Vec::new();
        both_sides(
            report,
            &format!("follow's {kind}"),
            &audio,
            FOLLOW_FRAMES.frame_len,
            min_s,
            |device| Ok(AudioFeatureEncoder::new(kind, FOLLOW_FRAMES, device)?),
            |encoder, chunk| {
                out.clear();
                Ok(encoder.encode(chunk, &mut out)?)
            },
        )?;
    }

    let format = VideoFrameFormat {
        width: 320,
        height: 240,
        layout: PixelLayout::Rgb,
    };
    let frames = pictures(if options.quick { 16 } else { 256 }, 320, 240, 3);
    for feature in [
        VideoFeature::LumaThumbnail { side: 16 },
        VideoFeature::MotionEnergy { grid: 4 },
    ] {
        let mut out = Vec::new();
        both_sides(
            report,
            &format!("video {feature} (320×240)"),
            &frames,
            format.frame_bytes(),
            min_s,
            |device| Ok(VideoFeatureEncoder::new(feature, format, device)?),
            |encoder, chunk| {
                out.clear();
                Ok(encoder.encode(chunk, &mut out)?)
            },
        )?;
    }

    let size = FrameSize {
        width: 1280,
        height: 720,
        channels: 3,
    };
    let frames = pictures(if options.quick { 8 } else { 64 }, 1280, 720, 3);
    let mut rows = PictureRows::default();
    both_sides(
        report,
        "sync's picture change (1280×720)",
        &frames,
        1280 * 720 * 3,
        min_s,
        |device| Ok(PictureChange::new(device, 64, 48, 16, 12)?),
        |encoder, chunk| {
            rows.clear();
            Ok(encoder.encode(chunk, size, &mut rows)?)
        },
    )?;

    for path in &options.models {
        model_throughput(path, options, min_s, report)?;
    }
    Ok(())
}

/// A TorchScript video model, in half precision on a GPU (as `--half` runs it there).
fn model_throughput(path: &Path, options: &Options, min_s: f64, report: &mut Report) -> Result<()> {
    let probe = TorchScriptEncoder::load(
        path,
        ModelSettings {
            device: tch::Device::Cpu,
            max_batch: 1,
            half: false,
        },
    )?;
    let ModelContract::Video {
        width,
        height,
        channels,
        ..
    } = probe.contract().clone()
    else {
        anyhow::bail!("{}: expected a video model", path.display());
    };
    let channels = if channels == ChannelOrder::Gray { 1 } else { 3 };
    let record = width * height * channels;
    let frames = pictures(if options.quick { 2 } else { 8 }, width, height, channels);
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut out = Vec::new();
    both_sides(
        report,
        &format!("model {name} ({width}×{height}; half on a GPU)"),
        &frames,
        record,
        min_s,
        |device| {
            Ok(TorchScriptEncoder::load(
                path,
                ModelSettings {
                    device,
                    max_batch: 256,
                    half: device != tch::Device::Cpu,
                },
            )?)
        },
        |encoder, chunk| {
            out.clear();
            Ok(encoder.encode_video(chunk, &mut out)?)
        },
    )
}
