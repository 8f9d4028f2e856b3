//! The confidence of a position: the probability that it lies within 50 ms of where the live
//! stream really is, from the evidence the tracker has, calibrated on the accuracy harness.
//!
//! Two kinds of evidence, each averaged over about a second of live frames:
//! - how far the tracker's best path stands out from its rivals in the band (its margin,
//!   [`super::TrackedPosition::confidence`]): low where the reference offers several places
//!   alike (a held chord, a repeated figure);
//! - how near the live frames are to the reference frames they are placed at, as a fraction of
//!   how far the reference's own frames half a second apart are from each other (its spread):
//!   near 0.5 on a performance of the reference, 1 or more on something else (another piece,
//!   talk, applause), where the tracker still finds a best path.
//!
//! A logistic function of the two gives a score, and a table fitted on the same cases turns the
//! score into the probability (a logistic has one slope; the harness's outcomes rise steeply at
//! low scores and hardly at all through the middle). Both are fitted by
//! `benches/eval/calibrate.py` on the harness's cases (the held-out song's left out), and the
//! reliability diagram is in `benches/RESULTS.md`.
//!
//! This module owns the averages and the calibration; it does not move the tracker.

use super::{inverse_norm, Distance, FeatureMatrix};

/// The calibration: probability = 1 / (1 + e^−(INTERCEPT + MARGIN_WEIGHT × margin +
/// DISTANCE_WEIGHT × ln(distance ratio))), fitted by `benches/eval/calibrate.py`.
const INTERCEPT: f64 = -0.802;
const MARGIN_WEIGHT: f64 = 2.765;
const DISTANCE_WEIGHT: f64 = -2.903;
/// The probability at logistic scores 0, 0.05, …, 1 (linear between), fitted by
/// `benches/eval/calibrate.py` (isotonic regression of the outcome on the score). Below a score of
/// 0.5 it stays below 0.5 and from 0.5 on at 0.5 or more, so that what reads 0.5 or more (the
/// negative controls' share, the follower's confirmation of its place) is the logistic's.
const CALIBRATION_TABLE: [f64; 21] = [
    0.000, 0.000, 0.047, 0.128, 0.316, 0.316, 0.490, 0.490, 0.490, 0.490, 0.500, 0.555, 0.594, 0.594, 0.594, 0.594,
    0.685, 0.896, 0.896, 0.917, 0.996,
];

/// What a confidence was made of, for calibrating it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfidenceEvidence {
    /// The tracker's margin confidence, averaged.
    pub margin: f64,
    /// The distance of the live frames to the reference frames they are placed at, averaged,
    /// over the reference's spread.
    pub distance_ratio: f64,
}

impl ConfidenceEvidence {
    /// The calibrated probability that the position is within 50 ms.
    pub fn probability(self) -> f64 {
        let logit = INTERCEPT + MARGIN_WEIGHT * self.margin + DISTANCE_WEIGHT * self.distance_ratio.max(1e-3).ln();
        through_table(1.0 / (1.0 + (-logit).exp()))
    }
}

/// `score` (0 to 1) read through [`CALIBRATION_TABLE`].
fn through_table(score: f64) -> f64 {
    let steps = (CALIBRATION_TABLE.len() - 1) as f64;
    let at = score.clamp(0.0, 1.0) * steps;
    let below = (at.floor() as usize).min(CALIBRATION_TABLE.len() - 2);
    let fraction = at - below as f64;
    CALIBRATION_TABLE[below] + fraction * (CALIBRATION_TABLE[below + 1] - CALIBRATION_TABLE[below])
}

/// The running evidence of one follower.
#[derive(Debug, Clone)]
pub struct PositionConfidence {
    distance: Distance,
    /// The median distance of the reference's frames half a second apart.
    spread: f64,
    /// The averages' rate: one over the live frames they are taken over (exponentially).
    rate: f64,
    margin: f64,
    distance_ratio: f64,
    /// How much of the averages is filled (1 − (1 − rate)^frames): they start at
    /// 0 and are divided by it, so the first frames count fully.
    filled: f64,
    frame_scratch: Vec<f32>,
}

impl PositionConfidence {
    /// No evidence yet; `spread` is the reference's (see `oltw::reference_spread`), and the
    /// evidence is averaged over about `average_frames` live frames (at least 1).
    pub fn new(distance: Distance, spread: f32, average_frames: usize) -> Self {
        Self {
            distance,
            spread: f64::from(spread).max(1e-6),
            rate: 1.0 / average_frames.max(1) as f64,
            margin: 0.0,
            distance_ratio: 0.0,
            filled: 0.0,
            frame_scratch: Vec::new(),
        }
    }

    /// Forgets the evidence (the tracker moved elsewhere).
    pub fn reset(&mut self) {
        self.margin = 0.0;
        self.distance_ratio = 0.0;
        self.filled = 0.0;
    }

    /// Adds a live frame placed at `ref_index` of `reference` with the tracker's `margin`
    /// confidence, and returns the evidence so far.
    pub fn push(
        &mut self,
        frame: &[f32],
        reference: &FeatureMatrix,
        ref_index: usize,
        margin: f64,
    ) -> ConfidenceEvidence {
        let index = ref_index.min(reference.len().saturating_sub(1));
        let placed = reference.frame_in(index, &mut self.frame_scratch);
        let distance = self.distance.between_with_inverse_norms(
            frame,
            inverse_norm(frame),
            placed,
            reference.frame_inverse_norm(index),
        );
        let rate = self.rate;
        self.margin += rate * (margin - self.margin);
        self.distance_ratio += rate * (f64::from(distance) / self.spread - self.distance_ratio);
        self.filled += rate * (1.0 - self.filled);
        ConfidenceEvidence {
            margin: self.margin / self.filled,
            distance_ratio: self.distance_ratio / self.filled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_match_is_surer_than_a_far_one_and_a_clear_margin_surer_than_none() {
        let near = ConfidenceEvidence {
            margin: 0.5,
            distance_ratio: 0.4,
        };
        let far = ConfidenceEvidence {
            distance_ratio: 1.2,
            ..near
        };
        let unclear = ConfidenceEvidence { margin: 0.0, ..near };
        assert!(near.probability() > far.probability());
        assert!(near.probability() > unclear.probability());
        for evidence in [near, far, unclear] {
            assert!((0.0..=1.0).contains(&evidence.probability()));
        }
    }

    #[test]
    fn the_table_rises_and_keeps_each_score_on_its_side_of_one_half() {
        assert!(CALIBRATION_TABLE.windows(2).all(|pair| pair[0] <= pair[1]));
        for k in 0..=1000 {
            let score = f64::from(k) / 1000.0;
            let probability = through_table(score);
            assert!((0.0..=1.0).contains(&probability));
            assert_eq!(probability >= 0.5, score >= 0.5, "score {score}: {probability}");
        }
        assert_eq!(through_table(-1.0), CALIBRATION_TABLE[0]);
        assert_eq!(through_table(2.0), CALIBRATION_TABLE[20]);
    }

    #[test]
    fn the_averages_count_the_first_frames_fully_and_follow_the_evidence() {
        let reference = FeatureMatrix::new(2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let mut confidence = PositionConfidence::new(Distance::Cosine, 0.5, 50);
        let first = confidence.push(&[1.0, 0.0], &reference, 1, 0.8);
        assert!((first.margin - 0.8).abs() < 1e-9, "{first:?}");
        assert!(
            (first.distance_ratio - 2.0).abs() < 1e-6,
            "orthogonal frames, spread 0.5: {first:?}"
        );
        let mut latest = first;
        for _ in 0..500 {
            latest = confidence.push(&[1.0, 0.0], &reference, 0, 0.8);
        }
        assert!(latest.distance_ratio < 0.01, "placed on itself: {latest:?}");
        confidence.reset();
        let restarted = confidence.push(&[1.0, 0.0], &reference, 1, 0.2);
        assert!((restarted.margin - 0.2).abs() < 1e-9);
    }
}
