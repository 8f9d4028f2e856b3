//! What the benchmarks of many follow streams share: synthetic followers at d = 128, band 500,
//! tracking alone or with the default relocation search, fed a frame every 20 ms tick, their
//! streams started over a settling period.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use warpflow::align::{FeatureMatrix, Follower, FollowerConfig, OltwConfig, RelocatorConfig};
use warpflow::flow::operators::{FollowEvents, ReferenceTiming};
use warpflow::flow::FeatureFrame;

pub const HOP: Duration = Duration::from_millis(20);
pub const DIM: usize = 128;
pub const REFERENCE_FRAMES: usize = 30_000;
pub const BAND_FRAMES: usize = 500;
/// Ticks left out at the start: the aligners' start-up frames are not what a long run sees.
pub const WARM_UP_TICKS: usize = 50;

/// Ticks left out at the start of a run of followers with the relocation search on where
/// `relocation` says: its scans start once a stream has a whole window of live frames, the last
/// stream a settling period after the first, and the ticks before are not what a long run sees.
pub fn warm_up_ticks(relocation: bool) -> usize {
    let search_starts = match relocation {
        true => RelocatorConfig::default().query_frames + OltwConfig::default().settle_every_frames,
        false => 0,
    };
    WARM_UP_TICKS + search_starts
}

/// A follower of `reference`, with the default relocation search where `relocation` says.
pub fn follower(reference: &Arc<FeatureMatrix>, relocation: bool) -> Follower {
    let defaults = FollowerConfig::default();
    let config = FollowerConfig {
        oltw: OltwConfig {
            band_frames: BAND_FRAMES,
            ..OltwConfig::default()
        },
        relocation: defaults.relocation.filter(|_| relocation),
        ..defaults
    };
    Follower::new(reference.clone(), config).expect("valid settings")
}

pub const TIMING: ReferenceTiming = ReferenceTiming {
    hop_ns: 20e6,
    first_frame_ns: 0.0,
};

pub fn events(stream: usize) -> FollowEvents {
    FollowEvents {
        emit_every_frames: 1,
        stream: format!("s{stream}"),
        reference: "reference".into(),
        cues: Vec::new(),
    }
}

/// The tick at which stream `stream` gets its first frame.
pub fn first_tick(stream: usize) -> usize {
    stream % OltwConfig::default().settle_every_frames.max(1)
}

/// Stream `stream`'s frame at `tick`: a stretch of the live frames, each stream its own.
pub fn live_frame(live: &[f32], stream: usize, tick: usize) -> &[f32] {
    let offset = (tick + stream * 37) % (live.len() / DIM);
    &live[offset * DIM..(offset + 1) * DIM]
}

pub fn frame(values: Vec<f32>, tick: usize) -> FeatureFrame {
    FeatureFrame {
        time_ns: tick as u64 * HOP.as_nanos() as u64,
        values,
        captured_at: Instant::now(),
    }
}

pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// Sleeps until tick `tick` of a run that started at `start` is due (at once if it is late).
pub fn wait_for_tick(start: Instant, tick: usize) {
    if let Some(wait) = (start + HOP * tick as u32).checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}
