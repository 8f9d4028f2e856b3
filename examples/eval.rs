//! The Rust side of the accuracy harness (`benches/eval/run.py` drives it and scores the
//! results). For each case folder holding `reference.wav` and `live.wav`, it encodes both with
//! `follow`'s features, follows the live features frame by frame as `follow` does, and writes:
//! - `warpflow.csv`: the provisional position of every live frame (what `follow` emits at once),
//!   with its confidence, tempo and the confidence's evidence (for `benches/eval/calibrate.py`);
//! - `warpflow_final.csv`: the final positions (what `follow` emits a band later);
//! - `offline_dtw.csv`: full DTW of the whole live recording against the whole reference, the
//!   offline yardstick an online tracker is measured against;
//! - `reference.f32`, `live.f32`: the feature arrays (little-endian, row-major), so that other
//!   aligners run on the very same arrays;
//! - `run.json`: step times (with the relocation search, and of the tracker alone), real-time
//!   factor, frame timing, the lag of final positions and the relocations made.
//!
//! Tracks are CSV lines `live_s,ref_s` (`warpflow.csv` adds `confidence,tempo,margin,
//! distance_ratio`), one per live frame, times in each recording's own clock.
//!
//! Run with: `cargo run --release --example eval -- CASES_DIR [FEATURES] [--lookahead-frames N]
//! [--band-frames N] [--no-relocation] [--join-at-s S] [--transposition | --no-transposition]` (FEATURES as
//! `follow --audio-features`, with the same default; the other options as `follow`'s). For comparing aligner settings `follow`
//! does not offer: `--step-weights L,R,D`, `--normalisation path-weight|manhattan` and
//! `--prediction-margin M`, `--prediction-margin-behind M` and `--precision f32|int8` (see
//! `OltwConfig`); offline DTW takes the tracker's step weights.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use warpflow::align::{
    full_dtw, FeatureMatrix, FollowStep, Follower, FollowerConfig, Normalisation, StepWeights,
    TRANSPOSITION_SETTLE_FRAMES,
};
use warpflow::encode::{AudioEncoder, AudioFeatureEncoder, AudioFeatureKind};
use warpflow::flow::operators::ReferenceTiming;
use warpflow::flow::{encode_reference_file, fit_follower_to_features, follow_frames_in, Transposition, FOLLOW_FRAMES};

fn write_track(path: &Path, track: impl Iterator<Item = (f64, f64)>) -> Result<()> {
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
    writeln!(out, "live_s,ref_s")?;
    for (live_s, ref_s) in track {
        writeln!(out, "{live_s:.4},{ref_s:.4}")?;
    }
    Ok(())
}

/// The provisional track, one line per live frame: times, confidence, tempo, and what the
/// confidence was made of (NaN before the path starts).
fn write_steps(path: &Path, steps: &[(f64, f64, FollowStep)]) -> Result<()> {
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
    writeln!(out, "live_s,ref_s,confidence,tempo,margin,distance_ratio")?;
    for (live_s, ref_s, step) in steps {
        let (margin, ratio) = step
            .evidence
            .map_or((f64::NAN, f64::NAN), |e| (e.margin, e.distance_ratio));
        writeln!(
            out,
            "{live_s:.4},{ref_s:.4},{:.3},{:.4},{margin:.4},{ratio:.4}",
            step.confidence, step.tempo
        )?;
    }
    Ok(())
}

fn write_features(path: &Path, features: &FeatureMatrix) -> Result<()> {
    let bytes: Vec<u8> = (0..features.len())
        .flat_map(|k| {
            features
                .frame(k)
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<_>>()
        })
        .collect();
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn seconds(timing: &ReferenceTiming, position: f64) -> f64 {
    timing.time_at_ns(position) as f64 / 1e9
}

fn run_case(folder: &Path, encoder: &mut AudioFeatureEncoder, options: &Options) -> Result<()> {
    let reference = encode_reference_file(&folder.join("reference.wav"), encoder)?;
    let live = encode_reference_file(&folder.join("live.wav"), encoder)?;
    write_features(&folder.join("reference.f32"), &reference.features)?;
    write_features(&folder.join("live.f32"), &live.features)?;
    let (ref_timing, live_timing) = (reference.timing, live.timing);
    let config = FollowerConfig {
        silence: Some(encoder.silence()?),
        pitch_layout: encoder.pitch_layout(),
        transposition_settle_frames: options
            .transposition
            .layout_for(encoder.pitch_layout(), &options.features.to_string())?
            .map(|_| TRANSPOSITION_SETTLE_FRAMES),
        ..options.follower.clone()
    };
    let distance = config.oltw.distance;
    let reference_features = Arc::new(reference.features);
    let mut follower = Follower::new(reference_features.clone(), config.clone())?;

    let mut provisional = Vec::with_capacity(live.features.len());
    let mut finals = Vec::new();
    let mut final_lags = Vec::new();
    let mut step_us = Vec::with_capacity(live.features.len());
    let mut relocations = Vec::new();
    let started = Instant::now();
    for i in 0..live.features.len() {
        let step_started = Instant::now();
        let step = follower.push_frame(&live.features.frame(i))?;
        if let Some(found) = step.relocation {
            relocations.push((
                seconds(&live_timing, i as f64),
                seconds(&ref_timing, found.ref_index as f64),
            ));
        }
        step_us.push(step_started.elapsed().as_secs_f64() * 1e6);
        provisional.push((
            seconds(&live_timing, i as f64),
            seconds(&ref_timing, step.ref_index as f64),
            step,
        ));
        for settled in follower.drain_final_positions() {
            final_lags.push((i - settled.live_index) as f64 * ref_timing.hop_ns / 1e9);
            finals.push(settled);
        }
    }
    let follow_s = started.elapsed().as_secs_f64();
    follower.finish();
    finals.extend(follower.drain_final_positions());
    write_steps(&folder.join("warpflow.csv"), &provisional)?;
    write_track(
        &folder.join("warpflow_final.csv"),
        finals.iter().map(|f| {
            (
                seconds(&live_timing, f.live_index as f64),
                seconds(&ref_timing, f.ref_middle()),
            )
        }),
    )?;

    // Offline DTW on the features the tracker compared: moved back by the transposition it
    // settled on, when it estimates one.
    let dim = live.features.dim();
    let mut moved = Vec::with_capacity(live.features.len() * dim);
    let mut frame_moved = Vec::with_capacity(dim);
    for i in 0..live.features.len() {
        let frame = live.features.frame(i);
        match (follower.transposition_semitones(), encoder.pitch_layout()) {
            (Some(semitones), Some(layout)) => layout.shift_down(&frame, semitones, &mut frame_moved),
            _ => {
                frame_moved.clear();
                frame_moved.extend_from_slice(&frame);
            }
        }
        moved.extend_from_slice(&frame_moved);
    }
    let live_compared = FeatureMatrix::new(dim, moved)?;
    let offline = full_dtw(
        &live_compared,
        &reference_features,
        distance,
        options.follower.oltw.step_weights,
    )
    .context("full DTW of empty features")?;
    let mut spans: Vec<(usize, usize)> = vec![(usize::MAX, 0); live.features.len()];
    for &(i, j) in &offline.path {
        spans[i] = (spans[i].0.min(j), spans[i].1.max(j));
    }
    write_track(
        &folder.join("offline_dtw.csv"),
        spans.iter().enumerate().map(|(i, &(first, last))| {
            (
                seconds(&live_timing, i as f64),
                seconds(&ref_timing, (first + last) as f64 / 2.0),
            )
        }),
    )?;

    // The tracker alone (no relocation search), for comparison with other online trackers.
    let mut tracker_only = Follower::new(
        reference_features.clone(),
        FollowerConfig {
            relocation: None,
            ..config
        },
    )?;
    let mut tracker_us = Vec::with_capacity(live.features.len());
    for i in 0..live.features.len() {
        let step_started = Instant::now();
        tracker_only.push_frame(&live.features.frame(i))?;
        tracker_us.push(step_started.elapsed().as_secs_f64() * 1e6);
    }
    tracker_us.sort_by(|a, b| a.total_cmp(b));
    step_us.sort_by(|a, b| a.total_cmp(b));
    final_lags.sort_by(|a, b| a.total_cmp(b));
    let live_s = live.duration_ns as f64 / 1e9;
    let run = serde_json::json!({
        "frames": live.features.len(),
        "dim": live.features.dim(),
        "hop_s": ref_timing.hop_ns / 1e9,
        "window_s": FOLLOW_FRAMES.frame_len as f64 / f64::from(FOLLOW_FRAMES.rate_hz),
        "step_mean_us": step_us.iter().sum::<f64>() / step_us.len().max(1) as f64,
        "step_p99_us": step_us.get(step_us.len() * 99 / 100).copied().unwrap_or(0.0),
        "real_time_factor": follow_s / live_s.max(1e-9),
        "tracker_step_mean_us": tracker_us.iter().sum::<f64>() / tracker_us.len().max(1) as f64,
        "tracker_step_p99_us": tracker_us.get(tracker_us.len() * 99 / 100).copied().unwrap_or(0.0),
        "final_lag_median_s": final_lags.get(final_lags.len() / 2).copied().unwrap_or(0.0),
        "relocations": relocations,
        "relocation_search": options.follower.relocation.as_ref().map(|r| serde_json::json!({
            "query_frames": r.query_frames,
            "pooled_frames": r.pooled_frames,
            "cells_per_frame": r.cells_per_frame,
        })),
        "transposition_semitones": follower.transposition_semitones(),
    });
    std::fs::write(folder.join("run.json"), run.to_string())?;
    Ok(())
}

/// What to run: the features and the follower's settings.
struct Options {
    features: AudioFeatureKind,
    follower: FollowerConfig,
    transposition: Transposition,
}

impl Options {
    /// `[FEATURES] [--lookahead-frames N] [--band-frames N] [--no-relocation] [--[no-]transposition]
    /// [--step-weights L,R,D] [--normalisation path-weight|manhattan] [--prediction-margin M]
    /// [--prediction-margin-behind M] [--precision f32|int8]`.
    fn parse(args: &[String]) -> Result<Self> {
        let mut options = Options {
            features: AudioFeatureKind::default(),
            follower: FollowerConfig::default(),
            transposition: Transposition::Auto,
        };
        let (mut prediction_margin, mut prediction_margin_behind) = (None, None);
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--lookahead-frames" => {
                    let value = args.next().context("--lookahead-frames needs a number")?;
                    options.follower.oltw.lookahead_frames =
                        value.parse().with_context(|| format!("--lookahead-frames '{value}'"))?;
                }
                "--band-frames" => {
                    let value = args.next().context("--band-frames needs a number")?;
                    options.follower.oltw.band_frames =
                        value.parse().with_context(|| format!("--band-frames '{value}'"))?;
                }
                "--step-weights" => {
                    let value = args.next().context("--step-weights needs LIVE,REFERENCE,DIAGONAL")?;
                    let weights: Vec<f32> = value
                        .split(',')
                        .map(str::parse)
                        .collect::<Result<_, _>>()
                        .with_context(|| format!("--step-weights '{value}'"))?;
                    let [live, reference, diagonal] = weights[..] else {
                        bail!("--step-weights '{value}': expected three numbers, LIVE,REFERENCE,DIAGONAL");
                    };
                    options.follower.oltw.step_weights = StepWeights {
                        live,
                        reference,
                        diagonal,
                    };
                }
                "--normalisation" => {
                    let value = args.next().context("--normalisation needs path-weight or manhattan")?;
                    options.follower.oltw.normalisation = match value.as_str() {
                        "path-weight" => Normalisation::PathWeight,
                        "manhattan" => Normalisation::Manhattan,
                        other => bail!("--normalisation '{other}': expected path-weight or manhattan"),
                    };
                }
                flag @ ("--prediction-margin" | "--prediction-margin-behind") => {
                    let value = args.next().with_context(|| format!("{flag} needs a number"))?;
                    let margin = Some(value.parse().with_context(|| format!("{flag} '{value}'"))?);
                    if flag == "--prediction-margin" {
                        prediction_margin = margin;
                    } else {
                        prediction_margin_behind = margin;
                    }
                }
                "--precision" => {
                    let value = args.next().context("--precision needs f32 or int8")?;
                    options.follower.oltw.precision = value.parse().map_err(anyhow::Error::msg)?;
                }
                "--no-relocation" => options.follower.relocation = None,
                "--join-at-s" => {
                    let value = args.next().context("--join-at-s needs a number of seconds")?;
                    let seconds: f64 = value.parse().with_context(|| format!("--join-at-s '{value}'"))?;
                    options.follower.join_at_ref_frame = Some(follow_frames_in(seconds));
                }
                "--transposition" => options.transposition = Transposition::Required,
                "--no-transposition" => options.transposition = Transposition::Off,
                features => options.features = features.parse()?,
            }
        }
        // As `follow` fits the tracker to its features, unless told otherwise here.
        fit_follower_to_features(&mut options.follower, options.features);
        if let Some(margin) = prediction_margin {
            options.follower.oltw.prediction_margin = margin;
        }
        if let Some(margin) = prediction_margin_behind {
            options.follower.oltw.prediction_margin_behind = margin;
        }
        Ok(options)
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cases, rest) = args.split_first().context(
        "usage: eval CASES_DIR [FEATURES] [--lookahead-frames N] [--band-frames N] [--no-relocation] [--[no-]transposition] \
         [--step-weights L,R,D] [--normalisation path-weight|manhattan] [--prediction-margin M] \
         [--prediction-margin-behind M] [--precision f32|int8]",
    )?;
    let options = Options::parse(rest)?;
    let mut encoder = AudioFeatureEncoder::new(options.features, FOLLOW_FRAMES, tch::Device::Cpu)?;
    let mut folders: Vec<_> = std::fs::read_dir(cases)
        .with_context(|| format!("reading {cases}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("case.json").exists())
        .collect();
    folders.sort();
    for folder in folders {
        let started = Instant::now();
        run_case(&folder, &mut encoder, &options).with_context(|| format!("case {}", folder.display()))?;
        eprintln!("{}: {:.1} s", folder.display(), started.elapsed().as_secs_f64());
    }
    Ok(())
}
