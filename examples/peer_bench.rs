//! The Rust side of the comparison with other DTW libraries (`benches/peers.py` drives it):
//! times warpflow's full DTW and its online aligner on feature arrays written by the driver
//! (each repeated for at least half a second), and prints the results as one JSON line.
//!
//! Run with: `cargo run --release --example peer_bench -- REF.f32 LIVE.f32 DIM BAND`
//! (raw little-endian f32 arrays, row-major, `DIM` values per frame; `BAND` for the aligner).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use warpflow::align::{dtw_distance, Distance, FeatureMatrix, KernelSet, OltwConfig, OnlineTimeWarper, StepWeights};

fn read_features(path: &str, dim: usize) -> Result<FeatureMatrix> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    if bytes.len() % 4 != 0 {
        bail!("{path} is {} bytes long, not a whole number of f32 values", bytes.len());
    }
    let values = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    FeatureMatrix::new(dim, values).with_context(|| format!("{path} does not hold {dim}-value frames"))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [reference, live, dim, band] = args.as_slice() else {
        bail!("usage: peer_bench REF.f32 LIVE.f32 DIM BAND");
    };
    let dim: usize = dim.parse().with_context(|| format!("DIM '{dim}' is not a number"))?;
    let band: usize = band.parse().with_context(|| format!("BAND '{band}' is not a number"))?;
    let reference = read_features(reference, dim)?;
    let live = read_features(live, dim)?;

    // Full DTW, repeated for at least half a second.
    let cells = (reference.len() * live.len()) as f64;
    let (mut runs, started) = (0u32, Instant::now());
    while runs == 0 || started.elapsed() < Duration::from_millis(500) {
        std::hint::black_box(dtw_distance(
            &live,
            &reference,
            Distance::Euclidean,
            StepWeights::default(),
        ));
        runs += 1;
    }
    let dtw_seconds = started.elapsed().as_secs_f64() / f64::from(runs);

    // The online aligner, one live frame at a time, over the whole live sequence from a fresh
    // aligner each pass, passes repeated for at least half a second: one pass of 2000 frames
    // lasts some 20 ms, too short to be told from the machine's noise.
    let reference = std::sync::Arc::new(reference);
    let config = OltwConfig {
        band_frames: band,
        distance: Distance::Euclidean,
        ..OltwConfig::default()
    };
    let mut step_us: Vec<f64> = Vec::new();
    let started_passes = Instant::now();
    while step_us.is_empty() || started_passes.elapsed() < Duration::from_millis(500) {
        let mut warper = OnlineTimeWarper::new(reference.clone(), config.clone())?;
        for i in 0..live.len() {
            let started = Instant::now();
            std::hint::black_box(warper.push_frame(&live.frame(i))?);
            step_us.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    step_us.sort_by(|a, b| a.total_cmp(b));
    let mean_us = step_us.iter().sum::<f64>() / step_us.len().max(1) as f64;
    let p99_us = step_us.get(step_us.len() * 99 / 100).copied().unwrap_or(0.0);
    println!(
        "{{\"kernels\":\"{}\",\"dtw_seconds\":{dtw_seconds},\"dtw_cells_per_s\":{},\"oltw_mean_us\":{mean_us},\"oltw_p99_us\":{p99_us}}}",
        KernelSet::active().name(),
        cells / dtw_seconds
    );
    Ok(())
}
