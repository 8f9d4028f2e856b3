//! The A/V offset from a learned pair of embedders (SyncNet-style, `sync --sync-model`): an
//! audio embedding for each window of sound, a video embedding for each few pictures, trained
//! so that the two agree (cosine) where sound and picture belong together.
//!
//! Each video embedding meets the audio embeddings at every lag within `±max_lag`, on the grid
//! of the audio embeddings (their hop), the cosine between them read between two neighbouring
//! audio embeddings by linear interpolation. The agreements add up per lag with an exponential
//! memory, as the region estimator's correlations do; the offset is the lag of the highest mean
//! agreement, refined with a parabola. The confidence is SyncNet's: how far that agreement
//! stands above the median agreement over all lags, against the model's `sure_margin`.
//!
//! Video embeddings wait until the audio is known `max_lag` past them. Memory is bounded: audio
//! embeddings are kept only as far back as the oldest waiting video embedding needs.

use std::collections::VecDeque;

use super::peak::{parabolic_offset, GrowingWeights};
use super::AlignError;

/// Settings of the embedding estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingLagConfig {
    /// Largest |offset| searched.
    pub max_lag_ns: u64,
    /// Time constant of the exponential memory.
    pub memory_ns: u64,
    /// Evidence (video embeddings, weighted by the memory, times their spacing) needed before
    /// the first estimate.
    pub min_evidence_ns: u64,
    /// How far above the median agreement the best lag must stand for confidence 1: the
    /// model's own measure of a sure match (its contract's `sure_margin`).
    pub sure_margin: f64,
}

impl Default for EmbeddingLagConfig {
    fn default() -> Self {
        Self {
            max_lag_ns: 1_000_000_000,
            memory_ns: 20_000_000_000,
            min_evidence_ns: 2_000_000_000,
            sure_margin: 0.3,
        }
    }
}

impl EmbeddingLagConfig {
    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), AlignError> {
        if self.max_lag_ns == 0 || self.max_lag_ns > 10_000_000_000 || self.memory_ns == 0 {
            return Err(AlignError::BadParameter {
                name: "max_lag_ns and memory_ns",
                expected: "max_lag_ns from 1 ns to 10 s, and memory_ns above 0",
                actual: format!("{} and {}", self.max_lag_ns, self.memory_ns),
            });
        }
        if !(self.sure_margin.is_finite() && self.sure_margin > 0.0) {
            return Err(AlignError::BadParameter {
                name: "sure_margin",
                expected: "finite and above 0",
                actual: self.sure_margin.to_string(),
            });
        }
        Ok(())
    }
}

/// One estimate of the embedding estimator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmbeddingEstimate {
    /// Positive when audio comes later than the video it belongs to.
    pub offset_ns: i64,
    /// The mean agreement (cosine) at the offset.
    pub agreement: f64,
    /// How sure the estimate is, in [0, 1].
    pub confidence: f64,
    /// Oldest video the estimate still leans on.
    pub window_start_ns: u64,
    /// Newest video in the estimate.
    pub window_end_ns: u64,
}

/// Online estimator of the A/V offset from the agreement of two embedders.
#[derive(Debug)]
pub struct EmbeddingLagEstimator {
    config: EmbeddingLagConfig,
    dim: usize,
    /// Audio embeddings (unit length) and their times.
    audio: VecDeque<(u64, Vec<f32>)>,
    /// Video embeddings (unit length) waiting for the audio past them.
    waiting: VecDeque<(u64, Vec<f32>)>,
    /// Per lag: Σw·agreement and Σw, with weights growing as exp(t / memory).
    agreement: Vec<f64>,
    weight: Vec<f64>,
    weight_squared: f64,
    weight_sum: f64,
    weights: GrowingWeights,
    /// The audio embeddings' spacing, once two have come: the lags' grid.
    hop_ns: Option<u64>,
    /// The smallest spacing of the video embeddings: the time each stands for.
    video_period_ns: Option<u64>,
    first_ns: Option<u64>,
    newest_ns: Option<u64>,
}

impl EmbeddingLagEstimator {
    /// A new estimator for embeddings of `dim` values.
    pub fn new(config: EmbeddingLagConfig, dim: usize) -> Result<Self, AlignError> {
        config.validate()?;
        if dim == 0 {
            return Err(AlignError::BadParameter {
                name: "dim",
                expected: "at least 1",
                actual: "0".into(),
            });
        }
        Ok(Self::empty(config, dim))
    }

    fn empty(config: EmbeddingLagConfig, dim: usize) -> Self {
        Self {
            weights: GrowingWeights::new(config.memory_ns),
            config,
            dim,
            audio: VecDeque::new(),
            waiting: VecDeque::new(),
            agreement: Vec::new(),
            weight: Vec::new(),
            weight_squared: 0.0,
            weight_sum: 0.0,
            hop_ns: None,
            video_period_ns: None,
            first_ns: None,
            newest_ns: None,
        }
    }

    /// Sets the lag grid to the audio embeddings' spacing `hop_ns`.
    fn set_grid(&mut self, hop_ns: u64) {
        self.hop_ns = Some(hop_ns);
        let lags = (2 * self.config.max_lag_ns / hop_ns) as usize + 1;
        self.agreement = vec![0.0; lags];
        self.weight = vec![0.0; lags];
    }

    /// Adds the audio embedding of the window centred at `time_ns`; times must rise.
    pub fn push_audio(&mut self, time_ns: u64, embedding: &[f32]) -> Result<(), AlignError> {
        let unit = self.unit(embedding)?;
        if let Some(&(previous, _)) = self.audio.back() {
            if time_ns <= previous {
                return Ok(());
            }
            if self.hop_ns.is_none() {
                self.set_grid(time_ns - previous);
            }
        }
        self.audio.push_back((time_ns, unit));
        Ok(())
    }

    /// Adds the video embedding of the pictures centred at `time_ns`; times must rise.
    pub fn push_video(&mut self, time_ns: u64, embedding: &[f32]) -> Result<(), AlignError> {
        let unit = self.unit(embedding)?;
        let previous = self.waiting.back().map(|e| e.0).or(self.newest_ns);
        if let Some(previous) = previous {
            if time_ns <= previous {
                return Ok(());
            }
            let period = time_ns - previous;
            self.video_period_ns = Some(self.video_period_ns.map_or(period, |p| p.min(period)));
        }
        self.first_ns.get_or_insert(time_ns);
        self.waiting.push_back((time_ns, unit));
        Ok(())
    }

    fn unit(&self, embedding: &[f32]) -> Result<Vec<f32>, AlignError> {
        if embedding.len() != self.dim {
            return Err(AlignError::DimensionMismatch {
                expected: self.dim,
                actual: embedding.len(),
            });
        }
        let norm = embedding.iter().map(|v| v * v).sum::<f32>().sqrt();
        Ok(if norm > 0.0 && norm.is_finite() {
            embedding.iter().map(|v| v / norm).collect()
        } else {
            vec![0.0; self.dim]
        })
    }

    /// Whether video embeddings are waiting for audio past them.
    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Adds the waiting video embeddings whose lags the audio covers by `complete_until_ns`
    /// (`u64::MAX` at the end of the stream), then estimates; `None` until there is enough
    /// evidence.
    pub fn estimate(&mut self, complete_until_ns: u64) -> Option<EmbeddingEstimate> {
        let hop = self.hop_ns?;
        let max_lag = self.config.max_lag_ns;
        while let Some((time_ns, _)) = self.waiting.front() {
            if time_ns.saturating_add(max_lag) > complete_until_ns {
                break;
            }
            let Some((time_ns, video)) = self.waiting.pop_front() else {
                break;
            };
            self.add(time_ns, &video, hop);
        }
        let oldest = self.waiting.front().map_or(self.newest_ns.unwrap_or(0), |e| e.0);
        let keep_from = oldest.saturating_sub(max_lag + hop);
        while self.audio.front().is_some_and(|a| a.0 < keep_from) && self.audio.len() > 1 {
            self.audio.pop_front();
        }
        let period = self.video_period_ns?;
        let newest = self.newest_ns?;
        let effective = if self.weight_squared > 0.0 {
            self.weight_sum * self.weight_sum / self.weight_squared
        } else {
            0.0
        };
        let evidence_ns = (effective * period as f64) as u64;
        if evidence_ns < self.config.min_evidence_ns {
            return None;
        }
        let best = self.weight.iter().copied().fold(0.0, f64::max);
        let scores: Vec<Option<f64>> = self
            .agreement
            .iter()
            .zip(&self.weight)
            .map(|(&a, &w)| (w >= 0.9 * best && w > 0.0).then(|| a / w))
            .collect();
        let (peak, agreement) = scores
            .iter()
            .enumerate()
            .filter_map(|(k, s)| s.map(|s| (k, s)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        let mut sorted: Vec<f64> = scores.iter().flatten().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let refined = peak as f64 + parabolic_offset(|k| scores.get(k).copied().flatten(), peak);
        let first_lag = -(((self.agreement.len() - 1) / 2) as f64) * hop as f64;
        Some(EmbeddingEstimate {
            offset_ns: (first_lag + refined * hop as f64).round() as i64,
            agreement,
            confidence: ((agreement - median) / self.config.sure_margin).clamp(0.0, 1.0),
            window_start_ns: self
                .first_ns
                .unwrap_or(newest)
                .max(newest.saturating_sub(self.config.memory_ns)),
            window_end_ns: newest + period / 2,
        })
    }

    /// Adds one video embedding's agreement with the audio at every lag.
    fn add(&mut self, time_ns: u64, video: &[f32], hop: u64) {
        let (w, rescale) = self.weights.weigh(time_ns);
        if let Some(by) = rescale {
            self.agreement.iter_mut().chain(&mut self.weight).for_each(|s| *s /= by);
            self.weight_sum /= by;
            self.weight_squared = self.weight_squared / by / by;
        }
        let half = ((self.agreement.len() - 1) / 2) as i64;
        let mut added = false;
        for k in 0..self.agreement.len() {
            let at = time_ns as i64 + (k as i64 - half) * hop as i64;
            if let Some(cosine) = self.agreement_at(video, at) {
                self.agreement[k] += w * cosine;
                self.weight[k] += w;
                added = true;
            }
        }
        if added {
            self.weight_sum += w;
            self.weight_squared += w * w;
            self.newest_ns = Some(time_ns);
        }
    }

    /// The cosine of `video` with the audio at `at_ns`, read between the two audio embeddings
    /// around it; `None` outside the audio kept.
    fn agreement_at(&self, video: &[f32], at_ns: i64) -> Option<f64> {
        let next = self.audio.partition_point(|a| (a.0 as i64) < at_ns);
        let (t1, a1) = self.audio.get(next)?;
        let cosine = |a: &[f32]| video.iter().zip(a).map(|(x, y)| f64::from(x * y)).sum::<f64>();
        if *t1 as i64 == at_ns {
            return Some(cosine(a1));
        }
        let (t0, a0) = self.audio.get(next.checked_sub(1)?)?;
        let fraction = (at_ns - *t0 as i64) as f64 / (*t1 - *t0) as f64;
        Some(cosine(a0) * (1.0 - fraction) + cosine(a1) * fraction)
    }

    /// Starts afresh from `time_ns` (after an outage): the sums and the embeddings before it
    /// are forgotten.
    pub fn forget_before(&mut self, time_ns: u64) {
        let mut fresh = Self::empty(self.config.clone(), self.dim);
        fresh.waiting = self.waiting.drain(..).filter(|e| e.0 >= time_ns).collect();
        fresh.audio = self.audio.drain(..).filter(|e| e.0 >= time_ns).collect();
        fresh.first_ns = fresh.waiting.front().map(|e| e.0);
        if let (Some(a), Some(b)) = (fresh.audio.front().map(|e| e.0), fresh.audio.get(1).map(|e| e.0)) {
            fresh.set_grid(b - a);
        }
        *self = fresh;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A loudness-like signal in [0, 1] at `t_ns`, bursts of various lengths.
    fn level(t_ns: i64) -> f32 {
        if t_ns < 0 {
            return 0.0;
        }
        let t = t_ns as f64 / 1e9;
        ((t * 3.1).sin() * (t * 1.7).cos() * 0.5 + 0.5 + 0.3 * (t * 7.3).sin()).clamp(0.0, 1.0) as f32
    }

    /// The embedding both sides make of a level: an angle on the quarter circle.
    fn embed(level: f32) -> [f32; 2] {
        let angle = level * std::f32::consts::FRAC_PI_2;
        [angle.cos(), angle.sin()]
    }

    fn fed(offset_ms: i64, seconds: u64) -> EmbeddingLagEstimator {
        let mut estimator = EmbeddingLagEstimator::new(EmbeddingLagConfig::default(), 2).unwrap();
        let offset_ns = offset_ms * MS as i64;
        for k in 0..seconds * 100 {
            let t = k * 10 * MS;
            // The audio at t carries what the picture showed at t - offset.
            estimator.push_audio(t, &embed(level(t as i64 - offset_ns))).unwrap();
        }
        for f in 0..seconds * 30 {
            let t = f * 1_000 * MS / 30;
            estimator.push_video(t, &embed(level(t as i64))).unwrap();
        }
        estimator
    }

    #[test]
    fn the_agreement_peaks_at_the_offset() {
        for offset_ms in [-700i64, -120, 0, 40, 333, 900] {
            let mut estimator = fed(offset_ms, 20);
            let estimate = estimator.estimate(u64::MAX).expect("an estimate");
            assert!(
                (estimate.offset_ns - offset_ms * MS as i64).abs() <= 5 * MS as i64,
                "{offset_ms} ms read as {} ns",
                estimate.offset_ns
            );
            assert!(estimate.agreement > 0.99, "{estimate:?}");
        }
    }

    #[test]
    fn embeddings_of_the_wrong_size_are_refused_and_memory_stays_bounded() {
        let mut estimator = fed(100, 10);
        assert!(estimator.push_audio(20_000 * MS, &[1.0]).is_err());
        assert!(estimator.push_video(20_000 * MS, &[1.0, 0.0, 0.0]).is_err());
        for second in 10..300u64 {
            for k in 0..100 {
                let t = second * 1_000 * MS + k * 10 * MS;
                estimator.push_audio(t, &embed(level(t as i64))).unwrap();
            }
            estimator.push_video(second * 1_000 * MS, &embed(0.5)).unwrap();
            estimator.estimate(second * 1_000 * MS);
        }
        assert!(estimator.audio.len() < 400, "audio kept: {}", estimator.audio.len());
        estimator.forget_before(400_000 * MS);
        assert_eq!(estimator.estimate(u64::MAX), None);
    }
}
