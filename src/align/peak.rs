//! What the lag estimators share about a curve over lags: where its peak lies between two lags,
//! and weights that forget old samples exponentially.

/// Sub-step position of the peak at index `peak` of a curve, from the parabola through it and
/// its neighbours, in [-0.5, 0.5]; 0 where a neighbour is missing (`value` gives `None`, as past
/// either end) or the curve is not peaked there.
pub(super) fn parabolic_offset(value: impl Fn(usize) -> Option<f64>, peak: usize) -> f64 {
    let (Some(left), Some(centre), Some(right)) = (peak.checked_sub(1).and_then(&value), value(peak), value(peak + 1))
    else {
        return 0.0;
    };
    let curvature = left - 2.0 * centre + right;
    if curvature >= 0.0 {
        0.0
    } else {
        (0.5 * (left - right) / curvature).clamp(-0.5, 0.5)
    }
}

/// Weights for running sums that forget with a time constant `memory`: rather than scale
/// every sum down at every sample, each new sample weighs `exp(t / memory)` more; ratios of the
/// sums are the same. Before the weights could overflow (or their squares), the sums are
/// brought back down.
#[derive(Debug, Clone)]
pub(super) struct GrowingWeights {
    memory_ns: f64,
    /// Time of the weight 1.
    origin_ns: Option<u64>,
}

/// Weights beyond this are brought back down, well before their squares could overflow.
const RESCALE_ABOVE: f64 = 1e100;

impl GrowingWeights {
    pub(super) fn new(memory_ns: u64) -> Self {
        Self {
            memory_ns: memory_ns as f64,
            origin_ns: None,
        }
    }

    /// The weight of a sample at `time_ns` (times must not decrease), and the factor every sum
    /// must first be divided by (and every sum of squared weights by twice) when the weights
    /// start again from 1.
    pub(super) fn weigh(&mut self, time_ns: u64) -> (f64, Option<f64>) {
        let origin = *self.origin_ns.get_or_insert(time_ns);
        let w = (time_ns.saturating_sub(origin) as f64 / self.memory_ns).exp();
        if w > RESCALE_ABOVE {
            self.origin_ns = Some(time_ns);
            (1.0, Some(w))
        } else {
            (w, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parabola_s_vertex_is_found_between_lags() {
        // y = -(x - 2.3)²: the peak lies 0.3 past index 2.
        let curve: Vec<f64> = (0..5).map(|x| -((x as f64 - 2.3).powi(2))).collect();
        let offset = parabolic_offset(|k| curve.get(k).copied(), 2);
        assert!((offset - 0.3).abs() < 1e-12, "{offset}");
        assert_eq!(parabolic_offset(|k| curve.get(k).copied(), 4), 0.0);
        assert_eq!(parabolic_offset(|k| (k != 1).then_some(1.0), 2), 0.0);
    }

    #[test]
    fn weights_grow_with_time_and_start_again_before_overflowing() {
        let mut weights = GrowingWeights::new(1_000);
        assert_eq!(weights.weigh(5), (1.0, None));
        let (w, rescale) = weights.weigh(1_005);
        assert!((w - std::f64::consts::E).abs() < 1e-12 && rescale.is_none());
        let (w, rescale) = weights.weigh(300_005);
        assert_eq!(w, 1.0);
        assert!(rescale.is_some_and(|r| r > RESCALE_ABOVE));
        assert_eq!(weights.weigh(300_005), (1.0, None));
    }
}
