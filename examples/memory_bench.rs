//! Peak memory of following an hour-long reference: builds the features of a synthetic
//! reference of the given length and dimension, follows 60 s of live frames through it with
//! relocation on, and prints the process's peak resident set (VmHWM) and, at the end, its
//! private (anonymous) and file-backed resident memory, as one line per setting.
//!
//! `owned` keeps the features in the process, as when `follow` encodes a media file; `mapped`
//! writes them to an f32 `.wfr` file first and follows the memory-mapped file, as `follow` does
//! with a reference file (the peak is reset after writing, so it counts the run only);
//! `mapped-f16` and `mapped-int8` do the same with an f16 or int8 file, read in place too.
//!
//! Run with: `cargo run --release --example memory_bench -- 3600 12 [owned|mapped|mapped-f16|mapped-int8]`
//! (seconds, dimension, storage; one setting per process, so each peak is its own).

use std::sync::Arc;

use std::path::Path;

use anyhow::{bail, Context, Result};

use warpflow::align::{FeatureMatrix, Follower, FollowerConfig};
use warpflow::encode::{MappedFile, ReferenceFile, SampleFormat};
use warpflow::flow::FOLLOW_FRAMES;

/// Frames per second of the follow features (20 ms hop).
const FRAMES_PER_S: usize = 50;

/// A memory figure of this process, in MiB, from its `/proc/self/status` line `field`.
fn status_mib(field: &str) -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_start_matches(':')
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib as f64 / 1024.0)
        .with_context(|| format!("no {field} line in /proc/self/status"))
}

/// Writes `features` to a `.wfr` file of `format` in `folder` and maps it back.
fn through_reference_file(features: FeatureMatrix, format: SampleFormat, folder: &Path) -> Result<FeatureMatrix> {
    let path = folder.join("reference.wfr");
    let file = ReferenceFile {
        encoder: "logmel".to_owned(),
        params: FOLLOW_FRAMES,
        duration_ns: 0,
        format,
        features: features.into_values(),
    };
    std::fs::write(&path, file.to_bytes()?).with_context(|| format!("writing {}", path.display()))?;
    drop(file);
    // Resets the peak resident set, so that it counts following the mapped file only.
    std::fs::write("/proc/self/clear_refs", "5").context("resetting the peak resident set")?;
    let mapped = MappedFile::open(&path).with_context(|| format!("mapping {}", path.display()))?;
    Ok(FeatureMatrix::from_values(
        ReferenceFile::from_mapped(Arc::new(mapped))?.features,
    ))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (seconds, dim, storage) = match args.as_slice() {
        [seconds, dim] => (seconds, dim, "owned"),
        [seconds, dim, storage] => (seconds, dim, storage.as_str()),
        _ => bail!("usage: memory_bench SECONDS DIM [owned|mapped|mapped-f16|mapped-int8]"),
    };
    let mapped_format = match storage {
        "owned" => None,
        "mapped" => Some(SampleFormat::F32),
        "mapped-f16" => Some(SampleFormat::F16),
        "mapped-int8" => Some(SampleFormat::Int8),
        _ => bail!("storage '{storage}' is not one of owned, mapped, mapped-f16, mapped-int8"),
    };
    let seconds: usize = seconds
        .parse()
        .with_context(|| format!("SECONDS '{seconds}' is not a number"))?;
    let dim: usize = dim.parse().with_context(|| format!("DIM '{dim}' is not a number"))?;
    let before_mib = status_mib("VmHWM")?;
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
    let features = FeatureMatrix::new(dim, values)?;
    let folder = tempfile::tempdir().context("making a folder for the reference file")?;
    let reference = Arc::new(match mapped_format {
        Some(format) => through_reference_file(features, format, folder.path())?,
        None => features,
    });
    let mut follower = Follower::new(reference.clone(), FollowerConfig::default())?;
    for i in 0..60 * FRAMES_PER_S {
        follower.push_frame(&reference.frame(i % frames))?;
    }
    println!(
        "{{\"reference_s\":{seconds},\"dim\":{dim},\"frames\":{frames},\"storage\":\"{storage}\",\"peak_rss_mib\":{:.1},\"anon_rss_mib\":{:.1},\"file_rss_mib\":{:.1},\"start_rss_mib\":{before_mib:.1}}}",
        status_mib("VmHWM")?,
        status_mib("RssAnon")?,
        status_mib("RssFile")?,
    );
    Ok(())
}
