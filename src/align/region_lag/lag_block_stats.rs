//! Running sums for the correlation of every block's signal with the audio at every lag, with
//! older frames weighing exponentially less.
//!
//! Each lag has its own sums because the audio a frame meets at one lag may not exist at
//! another (before the stream's first sound, after its last). The decay is carried by giving
//! each new frame a weight that grows with time, `exp(t / memory)`, rather than by scaling every
//! sum down at every frame; the correlation is a ratio of sums, so the common scale cancels,
//! and the sums are rescaled before the weights can overflow.

use super::super::peak::GrowingWeights;

/// Weighted sums over frames, per lag and per (lag, block).
#[derive(Debug, Clone)]
pub(super) struct LagBlockStats {
    lags: usize,
    blocks: usize,
    memory_ns: u64,
    weights: GrowingWeights,
    /// Per lag: Σw, Σw², Σw·x, Σw·x².
    weight: Vec<f64>,
    /// Per lag, Σw over the frames that count towards coverage (see [`Self::add`]).
    covered: Vec<f64>,
    weight_squared: Vec<f64>,
    audio: Vec<f64>,
    audio_squared: Vec<f64>,
    /// Per (lag, block), lag-major: Σw·y, Σw·y², Σw·x·y.
    video: Vec<f64>,
    video_squared: Vec<f64>,
    product: Vec<f64>,
}

/// The correlations at one moment, per (lag, block), with each lag's effective sample count.
#[derive(Debug, Clone, Default)]
pub(super) struct Correlations {
    /// Pearson correlations, lag-major; 0 where a lag has too little data.
    pub values: Vec<f32>,
    /// Per lag, the Kish effective number of frames behind it (Σw)²/Σw².
    pub effective_frames: Vec<f64>,
    /// Per lag, its share of the best-covered lag's weight, in [0, 1], over the frames that
    /// count towards coverage.
    pub coverage: Vec<f32>,
    /// Per block, the weighted standard deviation of its signal (over the frames of the
    /// best-covered lag).
    pub block_spread: Vec<f32>,
}

impl LagBlockStats {
    pub(super) fn new(lags: usize, blocks: usize, memory_ns: u64) -> Self {
        Self {
            lags,
            blocks,
            memory_ns,
            weights: GrowingWeights::new(memory_ns),
            weight: vec![0.0; lags],
            covered: vec![0.0; lags],
            weight_squared: vec![0.0; lags],
            audio: vec![0.0; lags],
            audio_squared: vec![0.0; lags],
            video: vec![0.0; lags * blocks],
            video_squared: vec![0.0; lags * blocks],
            product: vec![0.0; lags * blocks],
        }
    }

    /// Adds the frame at `time_ns` with block signals `video`, meeting audio `audio[k]` at lag
    /// `k` (`None` where the lag has no audio). Times must not decrease.
    ///
    /// A frame that does not `count_coverage` adds to the correlations but not to the lags'
    /// coverage: the frames a stream's end leaves without audio at the higher lags would
    /// otherwise make those lags look worse covered than they were before the end came.
    pub(super) fn add(&mut self, time_ns: u64, video: &[f32], audio: &[Option<f64>], count_coverage: bool) {
        let (w, rescale) = self.weights.weigh(time_ns);
        if let Some(by) = rescale {
            self.rescale(by);
        }
        for (k, x) in audio.iter().enumerate().take(self.lags) {
            let Some(x) = *x else { continue };
            self.weight[k] += w;
            if count_coverage {
                self.covered[k] += w;
            }
            self.weight_squared[k] += w * w;
            self.audio[k] += w * x;
            self.audio_squared[k] += w * x * x;
            let row = k * self.blocks..(k + 1) * self.blocks;
            let wx = w * x;
            for (((sum_y, sum_yy), sum_xy), &y) in self.video[row.clone()]
                .iter_mut()
                .zip(&mut self.video_squared[row.clone()])
                .zip(&mut self.product[row])
                .zip(video)
            {
                let y = f64::from(y);
                *sum_y += w * y;
                *sum_yy += w * y * y;
                *sum_xy += wx * y;
            }
        }
    }

    /// Divides every sum by `by` (and Σw² by its square).
    fn rescale(&mut self, by: f64) {
        for sums in [
            &mut self.weight,
            &mut self.covered,
            &mut self.audio,
            &mut self.audio_squared,
            &mut self.video,
            &mut self.video_squared,
            &mut self.product,
        ] {
            sums.iter_mut().for_each(|s| *s /= by);
        }
        // by² itself would overflow.
        self.weight_squared.iter_mut().for_each(|s| *s = *s / by / by);
    }

    /// The weighted Pearson correlation of every block with the audio at every lag, into
    /// `out`. A lag with fewer than `min_frames` effective frames, or a constant signal, reads 0.
    pub(super) fn correlations(&self, min_frames: f64, out: &mut Correlations) {
        out.values.clear();
        out.effective_frames.clear();
        out.coverage.clear();
        out.block_spread.clear();
        let best = self.weight.iter().copied().fold(0.0, f64::max);
        let best_covered = self.covered.iter().copied().fold(0.0, f64::max);
        if let Some(k) = self.weight.iter().position(|&w| w == best).filter(|_| best > 0.0) {
            let row = k * self.blocks..(k + 1) * self.blocks;
            out.block_spread
                .extend(
                    self.video[row.clone()]
                        .iter()
                        .zip(&self.video_squared[row])
                        .map(|(&sum_y, &sum_yy)| {
                            let mean = sum_y / best;
                            (sum_yy / best - mean * mean).max(0.0).sqrt() as f32
                        }),
                );
        }
        for k in 0..self.lags {
            let w = self.weight[k];
            let effective = if self.weight_squared[k] > 0.0 {
                w * w / self.weight_squared[k]
            } else {
                0.0
            };
            out.effective_frames.push(effective);
            out.coverage.push(if best_covered > 0.0 {
                (self.covered[k] / best_covered) as f32
            } else {
                0.0
            });
            let row = k * self.blocks..(k + 1) * self.blocks;
            if effective < min_frames {
                out.values.extend(std::iter::repeat_n(0.0, self.blocks));
                continue;
            }
            let mean_x = self.audio[k] / w;
            let var_x = (self.audio_squared[k] / w - mean_x * mean_x).max(0.0);
            for ((&sum_y, &sum_yy), &sum_xy) in self.video[row.clone()]
                .iter()
                .zip(&self.video_squared[row.clone()])
                .zip(&self.product[row])
            {
                let mean_y = sum_y / w;
                let var_y = (sum_yy / w - mean_y * mean_y).max(0.0);
                let cov = sum_xy / w - mean_x * mean_y;
                let denominator = (var_x * var_y).sqrt();
                let r = if denominator > 1e-18 {
                    (cov / denominator).clamp(-1.0, 1.0)
                } else {
                    0.0
                };
                out.values.push(r as f32);
            }
        }
    }

    /// Forgets every frame.
    pub(super) fn clear(&mut self) {
        *self = Self::new(self.lags, self.blocks, self.memory_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Weighted Pearson correlation computed directly.
    fn reference(weights: &[f64], x: &[f64], y: &[f64]) -> f64 {
        let w: f64 = weights.iter().sum();
        let mx = weights.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() / w;
        let my = weights.iter().zip(y).map(|(w, y)| w * y).sum::<f64>() / w;
        let cov = weights
            .iter()
            .zip(x)
            .zip(y)
            .map(|((w, x), y)| w * (x - mx) * (y - my))
            .sum::<f64>()
            / w;
        let vx = weights.iter().zip(x).map(|(w, x)| w * (x - mx).powi(2)).sum::<f64>() / w;
        let vy = weights.iter().zip(y).map(|(w, y)| w * (y - my).powi(2)).sum::<f64>() / w;
        cov / (vx * vy).sqrt()
    }

    #[test]
    fn sums_give_the_weighted_correlation_with_gaps_per_lag() {
        let memory_ns = 2_000_000_000u64;
        let mut stats = LagBlockStats::new(2, 2, memory_ns);
        let (mut times, mut xs0, mut xs1, mut ys) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..300u64 {
            let t = i * 33_000_000;
            let y = [((i * 7919) % 101) as f32 / 50.0, ((i * 104_729) % 37) as f32];
            let x0 = f64::from(y[0]) * 0.5 + ((i * 31) % 17) as f64 / 17.0;
            // Lag 1 has no audio for the first 50 frames.
            let x1 = (i >= 50).then_some(((i * 13) % 23) as f64);
            stats.add(t, &y, &[Some(x0), x1], true);
            times.push(t);
            xs0.push(x0);
            xs1.push(x1);
            ys.push(y);
        }
        let mut out = Correlations::default();
        stats.correlations(3.0, &mut out);
        let last = *times.last().unwrap();
        let weight = |t: u64| (-((last - t) as f64) / memory_ns as f64).exp();
        let all: Vec<f64> = times.iter().map(|&t| weight(t)).collect();
        let y0: Vec<f64> = ys.iter().map(|y| f64::from(y[0])).collect();
        let expected = reference(&all, &xs0, &y0);
        assert!(
            (f64::from(out.values[0]) - expected).abs() < 1e-5,
            "{} {expected}",
            out.values[0]
        );
        let kept: Vec<usize> = (50..300).collect();
        let w1: Vec<f64> = kept.iter().map(|&i| all[i]).collect();
        let x1: Vec<f64> = kept.iter().map(|&i| xs1[i].unwrap()).collect();
        let y1: Vec<f64> = kept.iter().map(|&i| f64::from(ys[i][1])).collect();
        let expected = reference(&w1, &x1, &y1);
        assert!(
            (f64::from(out.values[3]) - expected).abs() < 1e-5,
            "{} {expected}",
            out.values[3]
        );
        assert!(out.coverage[1] < out.coverage[0]);
        let kish = all.iter().sum::<f64>().powi(2) / all.iter().map(|w| w * w).sum::<f64>();
        assert!((out.effective_frames[0] - kish).abs() < 1e-6 * kish);
    }

    #[test]
    fn rescaling_keeps_the_correlation() {
        // A short memory makes the weights overflow within the run.
        let mut stats = LagBlockStats::new(1, 1, 1_000_000);
        let mut out = Correlations::default();
        for i in 0..20_000u64 {
            let y = (i % 7) as f32;
            stats.add(i * 1_000_000, &[y], &[Some(f64::from(y) * 2.0 + 1.0)], true);
        }
        stats.correlations(1.0, &mut out);
        assert!((out.values[0] - 1.0).abs() < 1e-5, "{}", out.values[0]);
    }
}
