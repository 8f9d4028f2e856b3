//! Peak memory of following an hour-long reference: builds the features of a synthetic
//! reference of the given length and dimension, follows 60 s of live frames through it with
//! relocation on, and prints the process's peak resident set (VmHWM) as one line per setting.
//!
//! Run with: `cargo run --release --example memory_bench -- 3600 12` (seconds, dimension; one
//! setting per process, so each peak is its own).

use std::sync::Arc;

use anyhow::{bail, Context, Result};

use warpflow::align::{FeatureMatrix, Follower, FollowerConfig};

/// Frames per second of the follow features (20 ms hop).
const FRAMES_PER_S: usize = 50;

fn peak_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM line in /proc/self/status")
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [seconds, dim] = args.as_slice() else {
        bail!("usage: memory_bench SECONDS DIM")
    };
    let seconds: usize = seconds
        .parse()
        .with_context(|| format!("SECONDS '{seconds}' is not a number"))?;
    let dim: usize = dim.parse().with_context(|| format!("DIM '{dim}' is not a number"))?;
    let before_kib = peak_rss_kib()?;
    let frames = seconds * FRAMES_PER_S;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let values: Vec<f32> = (0..frames * dim)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    let reference = Arc::new(FeatureMatrix::new(dim, values)?);
    let mut follower = Follower::new(reference.clone(), FollowerConfig::default())?;
    for i in 0..60 * FRAMES_PER_S {
        follower.push_frame(reference.frame(i % frames))?;
    }
    let peak_kib = peak_rss_kib()?;
    println!(
        "{{\"reference_s\":{seconds},\"dim\":{dim},\"frames\":{frames},\"peak_rss_mib\":{:.1},\"start_rss_mib\":{:.1}}}",
        peak_kib as f64 / 1024.0,
        before_kib as f64 / 1024.0
    );
    Ok(())
}
