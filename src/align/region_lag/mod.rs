//! The region estimator: the A/V offset of any content, measured where in the picture the
//! sound is made.
//!
//! Model-free audio-visual synchrony, after Hershey & Movellan ("Audio Vision", 1999) and
//! Kidron, Schechner & Elad ("Pixels that sound", 2005): the pixels whose brightness changes
//! with the loudness of the sound are where the sound comes from (a mouth, hands on an
//! instrument, a door), and the lag at which they follow it best is the offset.
//!
//! - The picture arrives as the mean brightness of a grid of blocks per frame
//!   ([`BlockGrid`]); each block becomes a signal that cancels light and movement shared with
//!   its neighbours (`block_signals`). The audio arrives as log power per hop, floored and
//!   high-passed alike (`level_envelope`).
//! - Each frame meets the audio averaged over the frame's span moved by every lag in
//!   `±max_lag`, and adds to running correlation sums with an exponential memory
//!   (`lag_block_stats`).
//! - An estimate takes the blocks that follow the audio best at some lag (the region), pools
//!   their correlation curves (each block with its own sign: an opening mouth darkens one block
//!   and brightens the next), and takes the pooled curve's peak, refined with a parabola.
//! - Its confidence compares the pooled correlation with the largest that unrelated sound and
//!   picture reach with as much evidence (see [`RegionLagConfig::confidence`]).
//! - Where a face model says where the face is ([`RegionLagEstimator::push_face`]), only the
//!   blocks that overlap its box may make the region, and the box is the region reported.
//!
//! Frames wait until the audio is known `max_lag` past them, so an estimate for video time `t`
//! needs audio up to `t + max_lag`. Memory is bounded: audio is kept only as far back as the
//! oldest frame still waiting needs, and the sums have a fixed size.

mod block_signals;
mod lag_block_stats;
mod level_envelope;

use std::collections::VecDeque;

pub use block_signals::BlockGrid;

use super::peak::parabolic_offset;
use super::AlignError;
use crate::features::{NormalisedBox, FACE_MIN_SCORE};
use block_signals::{BlockRow, BlockSignals};
use lag_block_stats::{Correlations, LagBlockStats};
use level_envelope::LevelEnvelope;

/// Settings of the region estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionLagConfig {
    /// Largest |offset| searched.
    pub max_lag_ns: u64,
    /// Spacing of the searched lags (the peak is refined between them with a parabola). Each
    /// frame meets the audio averaged over its own span, so the correlation changes smoothly
    /// over a third of a frame at 30 fps, and finer steps add memory and work (both grow with
    /// the lags searched) without moving a reading by more than a few milliseconds.
    pub lag_step_ns: u64,
    /// Time constant of the exponential memory: a frame this much older weighs 1/e as much.
    /// Longer gathers more evidence for quiet or still content; shorter follows a changing
    /// offset sooner.
    pub memory_ns: u64,
    /// Time constant of the high-pass applied to both sides: changes slower than this (light
    /// drifting, a speaker moving in the frame, a crescendo) do not count.
    pub high_pass_ns: u64,
    /// Blocks pooled into the region.
    pub region_blocks: usize,
    /// How far below the loudest recent sound the audio is floored, in dB.
    pub audio_range_db: f32,
    /// Evidence (frames with sound, weighted by the memory, times the frame period) needed
    /// before the first estimate.
    pub min_evidence_ns: u64,
    /// A lag whose data weighs less than this share of the best-covered lag's (at the start and
    /// end of a recording) is not a candidate.
    pub min_lag_coverage: f32,
    /// The least change (standard deviation of its signal, luma in [0, 1]) the region's
    /// strongest block must show: below it the picture is still but for coding noise, and
    /// there is nothing to measure.
    pub min_block_change: f32,
}

impl Default for RegionLagConfig {
    fn default() -> Self {
        Self {
            max_lag_ns: 1_000_000_000,
            lag_step_ns: 10_000_000,
            memory_ns: 20_000_000_000,
            high_pass_ns: 500_000_000,
            region_blocks: 4,
            audio_range_db: 40.0,
            min_evidence_ns: 2_000_000_000,
            min_lag_coverage: 0.9,
            min_block_change: 0.002,
        }
    }
}

impl RegionLagConfig {
    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), AlignError> {
        let bad = |name, expected, actual: String| AlignError::BadParameter { name, expected, actual };
        if self.lag_step_ns == 0 {
            return Err(bad("lag_step_ns", "above 0", "0".into()));
        }
        if self.max_lag_ns < self.lag_step_ns || self.max_lag_ns > 10_000_000_000 {
            return Err(bad(
                "max_lag_ns",
                "between one lag step and 10 s",
                self.max_lag_ns.to_string(),
            ));
        }
        if self.memory_ns == 0 || self.high_pass_ns == 0 {
            return Err(bad(
                "memory_ns and high_pass_ns",
                "above 0",
                format!("{} and {}", self.memory_ns, self.high_pass_ns),
            ));
        }
        if self.region_blocks == 0 {
            return Err(bad("region_blocks", "at least 1", "0".into()));
        }
        if !(self.audio_range_db.is_finite() && self.audio_range_db > 0.0) {
            return Err(bad("audio_range_db", "above 0", self.audio_range_db.to_string()));
        }
        if !(0.0..=1.0).contains(&self.min_lag_coverage) {
            return Err(bad(
                "min_lag_coverage",
                "between 0 and 1",
                self.min_lag_coverage.to_string(),
            ));
        }
        Ok(())
    }

    fn lag_count(&self) -> usize {
        (2 * self.max_lag_ns / self.lag_step_ns + 1) as usize
    }

    /// How sure an estimate is, in [0, 1], from its pooled correlation and the evidence behind
    /// it.
    ///
    /// The largest pooled correlation that unrelated sound and picture reach falls as evidence
    /// grows (a short stretch of any two signals can look alike): `0.4 + 1.5 s / evidence`, the
    /// bound measured on mismatched recordings (another person's speech over a face, music over
    /// a picture with no visible source). The confidence is 0 at that bound and 1 at 0.85, so a
    /// correlation that chance alone could give never reads as sure.
    pub fn confidence(correlation: f64, evidence_ns: u64) -> f64 {
        let evidence_s = (evidence_ns as f64 / 1e9).max(1e-3);
        let chance = NULL_FLOOR + NULL_SECONDS / evidence_s;
        if chance >= SURE {
            return 0.0;
        }
        ((correlation - chance) / (SURE - chance)).clamp(0.0, 1.0)
    }
}

/// What unrelated sound and picture reach with unlimited evidence.
const NULL_FLOOR: f64 = 0.4;
/// How much further they reach with little: `NULL_SECONDS / evidence` on top.
const NULL_SECONDS: f64 = 1.5;
/// A pooled correlation this high, beyond chance, is sure.
const SURE: f64 = 0.85;

/// One estimate of the region estimator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionEstimate {
    /// Positive when audio comes later than the video it belongs to.
    pub offset_ns: i64,
    /// The region's pooled correlation at the offset, in [-1, 1].
    pub correlation: f64,
    /// How sure the estimate is, in [0, 1] ([`RegionLagConfig::confidence`]).
    pub confidence: f64,
    /// The evidence behind it: effective frames times the frame period.
    pub evidence_ns: u64,
    /// Where in the picture the sound is made: the blocks of the region, boxed.
    pub region: NormalisedBox,
    /// Oldest video the estimate still leans on (one memory back, or the first frame).
    pub window_start_ns: u64,
    /// Newest video in the estimate.
    pub window_end_ns: u64,
}

/// Online estimator of the A/V offset from where the picture follows the sound.
#[derive(Debug)]
pub struct RegionLagEstimator {
    config: RegionLagConfig,
    grid: BlockGrid,
    signals: BlockSignals,
    audio: LevelEnvelope,
    /// Frames waiting for the audio `max_lag` past them.
    waiting: VecDeque<BlockRow>,
    stats: LagBlockStats,
    first_frame_ns: Option<u64>,
    newest_added_ns: Option<u64>,
    /// The newest face box a face model was sure of.
    face: Option<NormalisedBox>,
    /// Scratch: the audio each lag meets, and the correlations.
    lag_audio: Vec<Option<f64>>,
    correlations: Correlations,
}

impl RegionLagEstimator {
    /// A new estimator for pictures cut into `grid`.
    pub fn new(config: RegionLagConfig, grid: BlockGrid) -> Result<Self, AlignError> {
        config.validate()?;
        if grid.blocks() < config.region_blocks || grid.columns == 0 || grid.rows == 0 {
            return Err(AlignError::BadParameter {
                name: "grid",
                expected: "at least region_blocks blocks",
                actual: format!("{}×{}", grid.columns, grid.rows),
            });
        }
        let lags = config.lag_count();
        Ok(Self {
            signals: BlockSignals::new(grid, config.high_pass_ns),
            audio: LevelEnvelope::new(config.audio_range_db, config.high_pass_ns),
            waiting: VecDeque::new(),
            stats: LagBlockStats::new(lags, grid.blocks(), config.memory_ns),
            first_frame_ns: None,
            newest_added_ns: None,
            face: None,
            lag_audio: Vec::with_capacity(lags),
            correlations: Correlations::default(),
            config,
            grid,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &RegionLagConfig {
        &self.config
    }

    /// Adds the audio level of the hop centred at `time_ns`: log power (natural log) of the
    /// samples, e.g. `ln(mean(x²))`. Times must rise.
    pub fn push_audio_level(&mut self, time_ns: u64, log_power: f32) {
        self.audio.push(time_ns, log_power);
    }

    /// Adds a frame at `time_ns` as the mean brightness (luma in [0, 1]) of each block of the
    /// grid, row by row. A repeated frame is left out.
    pub fn push_video_blocks(&mut self, time_ns: u64, blocks: &[f32]) -> Result<(), AlignError> {
        if let Some(row) = self.signals.push(time_ns, blocks)? {
            self.first_frame_ns.get_or_insert(row.time_ns);
            self.waiting.push_back(row);
        }
        Ok(())
    }

    /// Says where a face model finds the face (or mouth) in the newest frame, with its score in
    /// [0, 1]; from a score of [`FACE_MIN_SCORE`] up, the region is sought in that box.
    pub fn push_face(&mut self, face: NormalisedBox, score: f32) {
        if score >= FACE_MIN_SCORE && face.width > 0.0 && face.height > 0.0 {
            self.face = Some(face);
        }
    }

    /// The newest face box a face model was sure of.
    pub fn face(&self) -> Option<NormalisedBox> {
        self.face
    }

    /// Adds the waiting frames whose audio is known (up to `complete_until_ns`, which must
    /// include `max_lag` past them; past the end of the stream, `u64::MAX` adds them all, and
    /// those within `max_lag` of the end meet the audio there is), then estimates from
    /// everything added. `None` until there is enough evidence, or while the
    /// picture or the sound does not change.
    pub fn estimate(&mut self, complete_until_ns: u64) -> Option<RegionEstimate> {
        self.add_complete_frames(complete_until_ns);
        let period_ns = self.signals.frame_period_ns()?;
        let newest_ns = self.newest_added_ns?;
        let min_frames = (self.config.min_evidence_ns as f64 / period_ns as f64).max(3.0);
        self.stats.correlations(min_frames, &mut self.correlations);
        let blocks = self.grid.blocks();
        let lags = self.config.lag_count();
        let candidate = |k: usize| {
            self.correlations.coverage[k] >= self.config.min_lag_coverage
                && self.correlations.effective_frames[k] >= min_frames
        };
        // Each block's strongest correlation (either sign) over the candidate lags.
        let mut strongest = vec![(0.0f32, 0.0f32); blocks];
        for k in (0..lags).filter(|&k| candidate(k)) {
            let row = &self.correlations.values[k * blocks..(k + 1) * blocks];
            for (best, &r) in strongest.iter_mut().zip(row) {
                if r.abs() > best.0 {
                    *best = (r.abs(), r.signum());
                }
            }
        }
        let mut order: Vec<usize> = match self.face {
            Some(face) => (0..blocks).filter(|&b| self.block_overlaps(b, face)).collect(),
            None => (0..blocks).collect(),
        };
        order.sort_by(|&a, &b| strongest[b].0.total_cmp(&strongest[a].0));
        let region = &order[..self.config.region_blocks.min(order.len())];
        if region.is_empty() {
            return None;
        }
        let change = self.correlations.block_spread.get(region[0]).copied().unwrap_or(0.0);
        if strongest[region[0]].0 <= 0.0 || change < self.config.min_block_change {
            return None;
        }
        let pooled: Vec<Option<f64>> = (0..lags)
            .map(|k| {
                candidate(k).then(|| {
                    let row = &self.correlations.values[k * blocks..(k + 1) * blocks];
                    region.iter().map(|&b| f64::from(row[b] * strongest[b].1)).sum::<f64>() / region.len() as f64
                })
            })
            .collect();
        let (peak, correlation) = pooled
            .iter()
            .enumerate()
            .filter_map(|(k, r)| r.map(|r| (k, r)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        if correlation <= 0.0 {
            return None;
        }
        let refined = peak as f64 + parabolic_offset(|k| pooled.get(k).copied().flatten(), peak);
        let step = self.config.lag_step_ns as f64;
        let offset_ns = (refined * step).round() as i64 - self.config.max_lag_ns as i64;
        let evidence_ns = (self.correlations.effective_frames[peak] * period_ns as f64) as u64;
        let window_end_ns = newest_ns + period_ns / 2;
        let first_ns = self.first_frame_ns.unwrap_or(newest_ns);
        Some(RegionEstimate {
            offset_ns,
            correlation,
            confidence: RegionLagConfig::confidence(correlation, evidence_ns),
            evidence_ns,
            region: self.face.unwrap_or_else(|| self.region_box(region)),
            window_start_ns: first_ns.max(window_end_ns.saturating_sub(self.config.memory_ns)),
            window_end_ns,
        })
    }

    /// Adds every waiting frame whose lag range the audio covers by `complete_until_ns` to the
    /// sums ([`Self::estimate`] does so first; a caller may do it between estimates to spread
    /// the work). Returns how many frames were added.
    pub fn add_complete_frames(&mut self, complete_until_ns: u64) -> usize {
        let Some(period_ns) = self.signals.frame_period_ns() else {
            return 0;
        };
        let mut added = 0;
        let max_lag = self.config.max_lag_ns;
        let step = self.config.lag_step_ns as i64;
        while let Some(row) = self.waiting.front() {
            let needs_ns = row.time_ns.saturating_add(max_lag + period_ns / 2);
            if needs_ns > complete_until_ns {
                break;
            }
            let Some(row) = self.waiting.pop_front() else { break };
            let half = (period_ns / 2) as i64;
            let first_start = row.time_ns as i64 - half - max_lag as i64;
            self.lag_audio.clear();
            let mut cursor = 0;
            for k in 0..self.config.lag_count() as i64 {
                let start = first_start + k * step;
                self.lag_audio
                    .push(self.audio.average_over(start, start + 2 * half, &mut cursor));
            }
            if self.lag_audio.iter().any(Option::is_some) {
                // A frame the audio does not reach `max_lag` past (at the end of a stream)
                // still tells the lower lags something, but must not make the higher ones
                // fall under `min_lag_coverage`.
                let reaches_every_lag = self.lag_audio.last().is_some_and(Option::is_some);
                self.stats
                    .add(row.time_ns, &row.values, &self.lag_audio, reaches_every_lag);
                self.newest_added_ns = Some(row.time_ns);
                added += 1;
            }
        }
        // Audio older than the oldest waiting frame's lag range is no longer needed.
        let oldest_needed = self
            .waiting
            .front()
            .map_or(self.newest_added_ns.unwrap_or(0), |row| row.time_ns)
            .saturating_sub(max_lag + period_ns);
        self.audio.forget_before(oldest_needed);
        added
    }

    /// Whether block `b` of the grid overlaps `face`.
    fn block_overlaps(&self, b: usize, face: NormalisedBox) -> bool {
        let (w, h) = (1.0 / self.grid.columns as f64, 1.0 / self.grid.rows as f64);
        let (x, y) = ((b % self.grid.columns) as f64 * w, (b / self.grid.columns) as f64 * h);
        x < face.x + face.width && face.x < x + w && y < face.y + face.height && face.y < y + h
    }

    /// The box around the region's blocks, in fractions of the picture.
    fn region_box(&self, region: &[usize]) -> NormalisedBox {
        let columns = self.grid.columns;
        let (mut left, mut top, mut right, mut bottom) = (usize::MAX, usize::MAX, 0, 0);
        for &b in region {
            let (row, column) = (b / columns, b % columns);
            left = left.min(column);
            right = right.max(column + 1);
            top = top.min(row);
            bottom = bottom.max(row + 1);
        }
        let (w, h) = (self.grid.columns as f64, self.grid.rows as f64);
        NormalisedBox {
            x: left as f64 / w,
            y: top as f64 / h,
            width: (right - left) as f64 / w,
            height: (bottom - top) as f64 / h,
        }
    }

    /// Starts afresh from `time_ns`: the frames, audio and sums before it are forgotten (after
    /// an outage, when the offset may have changed).
    pub fn forget_before(&mut self, time_ns: u64) {
        self.waiting.retain(|row| row.time_ns >= time_ns);
        self.audio.clear();
        self.signals.clear();
        self.stats.clear();
        self.first_frame_ns = self.waiting.front().map(|row| row.time_ns);
        self.newest_added_ns = None;
    }

    /// Frames waiting and audio hops kept (for memory checks).
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        (self.waiting.len(), self.audio.len())
    }
}

#[cfg(test)]
mod tests;
