//! Whole runs on the CPU and on the device, their answers compared: `follow` (a melody against
//! the same melody played 15% faster, encoded and followed through the library as `follow` does
//! after decoding) and `sync` (flashes and beeps 80 ms apart through the sync encoders and the
//! A/V estimator). GStreamer is not needed: the media are made here.

use std::sync::Arc;

use anyhow::{Context, Result};
use warpflow::align::{
    AvSyncEstimator, BlockGrid, FeatureMatrix, Follower, FollowerConfig, LagConfig, RegionLagConfig,
    TRANSPOSITION_SETTLE_FRAMES,
};
use warpflow::encode::{
    AudioEncoder, AudioFeatureEncoder, AudioFeatureKind, AudioFrameParams, FrameSize, OnsetEnvelope, PictureChange,
    PictureRows,
};
use warpflow::flow::{fit_follower_to_features, FOLLOW_FRAMES};

use super::parity::{ONSET_FRAMES, ONSET_MELS};
use super::report::{Report, WholeRunRow};
use super::signals::{melody, windows};
use super::Options;

/// The tempo the live melody is played at.
const LIVE_TEMPO: f64 = 1.15;
/// How much later the beeps come than the flashes.
const AUDIO_LATE_MS: i64 = 80;

/// Time of the centre of window `index` under `params`, in seconds.
fn window_centre_s(params: AudioFrameParams, index: usize) -> f64 {
    (index * params.hop_len + params.frame_len / 2) as f64 / f64::from(params.rate_hz)
}

pub fn run(options: &Options, report: &mut Report) -> Result<()> {
    let notes = if options.quick { 30 } else { 120 };
    let cpu = follow(tch::Device::Cpu, notes)?;
    let device = follow(report.device(), notes)?;
    let within_a_frame = cpu
        .0
        .iter()
        .zip(&device.0)
        .filter(|(a, b)| a.abs_diff(**b) <= 1)
        .count() as f64
        / cpu.0.len().max(1) as f64;
    report.whole_run(WholeRunRow {
        run: "follow (semitone-flux, key estimated)",
        detail: format!(
            "median error at note starts {:.1} ms on the CPU, {:.1} ms on the device; {:.1}% of positions within a frame of the CPU's",
            1e3 * cpu.1,
            1e3 * device.1,
            100.0 * within_a_frame
        ),
        passed: within_a_frame >= 0.95 && (device.1 - cpu.1).abs() <= 0.005 && device.1 <= 0.05,
    });

    let seconds = if options.quick { 8 } else { 20 };
    let cpu = sync(tch::Device::Cpu, seconds)?;
    let device = sync(report.device(), seconds)?;
    report.whole_run(WholeRunRow {
        run: "sync (flashes and beeps, audio 80 ms late)",
        detail: format!("{:+.1} ms on the CPU, {:+.1} ms on the device", cpu / 1e6, device / 1e6),
        passed: (device - cpu).abs() <= 1e6 && (device / 1e6 - AUDIO_LATE_MS as f64).abs() <= 5.0,
    });
    Ok(())
}

/// Follows the melody played faster against itself on `device`: every live frame's reference
/// frame, and the median error at the note starts in seconds.
fn follow(device: tch::Device, notes: usize) -> Result<(Vec<usize>, f64)> {
    let kind = AudioFeatureKind::SemitoneFlux;
    let mut encoder = AudioFeatureEncoder::new(kind, FOLLOW_FRAMES, device)?;
    let mut encode = |samples: &[f32]| -> Result<FeatureMatrix> {
        let mut values = Vec::new();
        let framed = windows(samples, FOLLOW_FRAMES.frame_len, FOLLOW_FRAMES.hop_len);
        for chunk in framed.chunks(64 * FOLLOW_FRAMES.frame_len) {
            encoder.encode(chunk, &mut values)?;
        }
        Ok(FeatureMatrix::new(encoder.dim(), values)?)
    };
    let (reference_samples, _) = melody(notes, 1.0, FOLLOW_FRAMES.rate_hz, 21);
    let (live_samples, starts) = melody(notes, LIVE_TEMPO, FOLLOW_FRAMES.rate_hz, 21);
    let reference = Arc::new(encode(&reference_samples)?);
    let live = encode(&live_samples)?;
    let mut config = FollowerConfig {
        silence: Some(encoder.silence()?),
        pitch_layout: encoder.pitch_layout(),
        transposition_settle_frames: Some(TRANSPOSITION_SETTLE_FRAMES),
        ..FollowerConfig::default()
    };
    fit_follower_to_features(&mut config, kind);
    let mut follower = Follower::new(reference, config)?;
    let positions = (0..live.len())
        .map(|k| Ok(follower.push_frame(&live.frame(k))?.ref_index))
        .collect::<Result<Vec<usize>>>()?;
    let mut errors: Vec<f64> = starts
        .iter()
        .filter_map(|&(reference_s, live_s)| {
            let frame = ((live_s * f64::from(FOLLOW_FRAMES.rate_hz) - (FOLLOW_FRAMES.frame_len / 2) as f64)
                / FOLLOW_FRAMES.hop_len as f64)
                .round();
            let &placed = positions.get(frame.max(0.0) as usize)?;
            Some((window_centre_s(FOLLOW_FRAMES, placed) - reference_s).abs())
        })
        .collect();
    errors.sort_by(f64::total_cmp);
    let median = *errors.get(errors.len() / 2).context("no note start was followed")?;
    Ok((positions, median))
}

/// A flash each second and a beep [`AUDIO_LATE_MS`] after it, through the sync encoders on
/// `device` and the A/V estimator: the offset it settles on, in nanoseconds.
fn sync(device: tch::Device, seconds: usize) -> Result<f64> {
    const FPS: usize = 30;
    const SIDE: (usize, usize) = (320, 240);
    let grid = BlockGrid { columns: 16, rows: 12 };
    let mut estimator = AvSyncEstimator::new(LagConfig::default(), RegionLagConfig::default(), grid)?;

    let rate = ONSET_FRAMES.rate_hz as usize;
    let mut samples = vec![0.0f32; seconds * rate];
    for second in 0..seconds {
        let first = second * rate + (AUDIO_LATE_MS as usize) * rate / 1000;
        for (n, sample) in samples.iter_mut().skip(first).take(rate / 50).enumerate() {
            *sample = 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / rate as f32).sin();
        }
    }
    let mut envelope = OnsetEnvelope::new(ONSET_FRAMES, ONSET_MELS, device)?;
    let mut flux = Vec::new();
    let framed = windows(&samples, ONSET_FRAMES.frame_len, ONSET_FRAMES.hop_len);
    for chunk in framed.chunks(256 * ONSET_FRAMES.frame_len) {
        envelope.encode(chunk, &mut flux)?;
    }
    for (k, (&onset, window)) in flux.iter().zip(framed.chunks(ONSET_FRAMES.frame_len)).enumerate() {
        let time_ns = (window_centre_s(ONSET_FRAMES, k) * 1e9) as u64;
        estimator.push_onset(time_ns, onset);
        let power = window.iter().map(|v| v * v).sum::<f32>() / window.len() as f32;
        estimator.push_level(time_ns, power.max(1e-10).ln());
    }

    let mut pictures = PictureChange::new(device, 64, 48, grid.columns, grid.rows)?;
    let size = FrameSize {
        width: SIDE.0,
        height: SIDE.1,
        channels: 3,
    };
    let mut rows = PictureRows::default();
    let mut latest = None;
    for first in (0..seconds * FPS).step_by(FPS) {
        let frames: Vec<u8> = (first..first + FPS)
            .flat_map(|k| {
                let level = if k % FPS == 0 { 230 } else { 20 + (k % 7) as u8 };
                std::iter::repeat_n(level, SIDE.0 * SIDE.1 * 3)
            })
            .collect();
        rows.clear();
        pictures.encode(&frames, size, &mut rows)?;
        let blocks = grid.blocks();
        for (offset, rise) in rows.rise.iter().enumerate() {
            let k = first + offset;
            let time_ns = (k as f64 / FPS as f64 * 1e9) as u64;
            estimator.push_video(time_ns, *rise, &rows.blocks[offset * blocks..(offset + 1) * blocks])?;
            if let Some(estimate) = estimator.estimate(time_ns.saturating_sub(1_000_000_000)) {
                latest = Some(estimate);
            }
        }
    }
    let estimate = estimator
        .estimate(u64::MAX)
        .or(latest)
        .context("sync: no estimate from the flashes and beeps")?;
    Ok(estimate.offset_ns as f64)
}
