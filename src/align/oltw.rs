//! Online time warping (Dixon 2005): follows a live sequence along a reference as it arrives.
//!
//! The aligner grows the DTW cost matrix one live row or one reference column at a time,
//! keeping only a band of `band_frames` cells behind the frontier (t, j). After each step it
//! looks at the normalised path costs on the frontier's row and column: if the best lies on
//! the column at an earlier live frame, the live stream is ahead and the reference advances;
//! if it lies on the row at an earlier reference frame, the reference is ahead and the aligner
//! waits for the next live frame; otherwise both advance. `max_run_count` caps how many times
//! in a row one side may advance alone, which bounds the slope of the path.
//!
//! Invariants: every retained row covers a contiguous run of reference frames ending at the
//! current reference index `j`; at most `band_frames` rows are retained; reported reference
//! positions never decrease.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{AlignError, Distance, FeatureMatrix, DIAGONAL_WEIGHT};

/// Settings of the online aligner.
#[derive(Debug, Clone, PartialEq)]
pub struct OltwConfig {
    /// Width `c` of the search band, in frames.
    pub band_frames: usize,
    /// How many consecutive steps one side may take alone.
    pub max_run_count: usize,
    /// Local distance between a live and a reference frame.
    pub distance: Distance,
    /// Number of recent positions the tempo is estimated from.
    pub tempo_window_frames: usize,
}

impl Default for OltwConfig {
    fn default() -> Self {
        Self {
            band_frames: 500,
            max_run_count: 3,
            distance: Distance::Cosine,
            tempo_window_frames: 50,
        }
    }
}

impl OltwConfig {
    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), AlignError> {
        if self.band_frames < 2 {
            return Err(AlignError::BadParameter {
                name: "band_frames",
                expected: "at least 2",
                actual: self.band_frames.to_string(),
            });
        }
        if self.max_run_count < 1 {
            return Err(AlignError::BadParameter {
                name: "max_run_count",
                expected: "at least 1",
                actual: self.max_run_count.to_string(),
            });
        }
        if self.tempo_window_frames < 2 {
            return Err(AlignError::BadParameter {
                name: "tempo_window_frames",
                expected: "at least 2",
                actual: self.tempo_window_frames.to_string(),
            });
        }
        Ok(())
    }
}

/// The aligner's answer for one live frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackedPosition {
    /// Index of the live frame.
    pub live_index: usize,
    /// Matching reference frame; never smaller than the previous answer's.
    pub ref_index: usize,
    /// Reference frames per live frame over the recent path.
    pub tempo: f64,
    /// How distinct the best match is from the rest of the band, in [0, 1].
    pub confidence: f64,
    /// Path cost to the match divided by the path's total step weight.
    pub normalized_cost: f32,
}

/// Which index the next step advances (Dixon's Row / Column / Both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Live,
    Reference,
    Both,
}

/// Accumulated costs of one live frame against reference frames `first_ref..`.
#[derive(Debug, Default)]
struct BandRow {
    first_ref: usize,
    cost: Vec<f32>,
}

impl BandRow {
    fn get(&self, ref_index: usize) -> f32 {
        ref_index
            .checked_sub(self.first_ref)
            .and_then(|k| self.cost.get(k).copied())
            .unwrap_or(f32::INFINITY)
    }
}

/// Online time warping of a live sequence against a fixed reference.
#[derive(Debug)]
pub struct OnlineTimeWarper {
    reference: Arc<FeatureMatrix>,
    config: OltwConfig,
    rows: VecDeque<BandRow>,
    live_frames: VecDeque<Vec<f32>>,
    live_index: Option<usize>,
    ref_index: usize,
    pending_step: Step,
    previous_step: Option<Step>,
    run_count: usize,
    recent_positions: VecDeque<(usize, usize)>,
    last_reported_ref: usize,
}

impl OnlineTimeWarper {
    /// An aligner that will follow live frames along `reference`.
    pub fn new(reference: Arc<FeatureMatrix>, config: OltwConfig) -> Result<Self, AlignError> {
        config.validate()?;
        if reference.is_empty() {
            return Err(AlignError::EmptyReference);
        }
        Ok(Self {
            reference,
            rows: VecDeque::with_capacity(config.band_frames + 1),
            live_frames: VecDeque::with_capacity(config.band_frames + 1),
            recent_positions: VecDeque::with_capacity(config.tempo_window_frames + 1),
            config,
            live_index: None,
            ref_index: 0,
            pending_step: Step::Both,
            previous_step: None,
            run_count: 0,
            last_reported_ref: 0,
        })
    }

    /// The reference being followed.
    pub fn reference(&self) -> &FeatureMatrix {
        &self.reference
    }

    /// Takes the next live frame and returns where it sits in the reference.
    pub fn push_frame(&mut self, frame: &[f32]) -> Result<TrackedPosition, AlignError> {
        if frame.len() != self.reference.dim() {
            return Err(AlignError::DimensionMismatch {
                expected: self.reference.dim(),
                actual: frame.len(),
            });
        }
        match self.live_index {
            None => self.start(frame),
            Some(_) => {
                let step = self.pending_step;
                self.add_live_row(frame);
                if step == Step::Both && self.can_advance_reference() {
                    self.add_reference_column();
                }
                self.record_step(step);
            }
        }
        loop {
            let step = self.decide_step();
            if step == Step::Reference && self.can_advance_reference() {
                self.add_reference_column();
                self.record_step(step);
                continue;
            }
            self.pending_step = if step == Step::Both && self.can_advance_reference() {
                Step::Both
            } else {
                Step::Live
            };
            break;
        }
        Ok(self.report())
    }

    /// Accumulated path cost at (live, reference), if that cell is still in the band.
    pub fn cost_at(&self, live_index: usize, ref_index: usize) -> Option<f32> {
        let row = self.row_for(live_index)?;
        let cost = row.get(ref_index);
        cost.is_finite().then_some(cost)
    }

    /// The best path that ends at the current frontier (t, j), traced back as far as the band
    /// reaches, as (live, reference) pairs in increasing order.
    pub fn path_within_band(&self) -> Vec<(usize, usize)> {
        let Some(t) = self.live_index else {
            return Vec::new();
        };
        let mut path = vec![(t, self.ref_index)];
        let (mut i, mut j) = (t, self.ref_index);
        while (i, j) != (0, 0) {
            let candidates = [
                (i > 0 && j > 0).then(|| (i - 1, j - 1)),
                (i > 0).then(|| (i - 1, j)),
                (j > 0).then(|| (i, j - 1)),
            ];
            let best = candidates
                .into_iter()
                .flatten()
                .filter_map(|(a, b)| self.cost_at(a, b).map(|c| ((a, b), c)))
                .min_by(|x, y| x.1.total_cmp(&y.1));
            match best {
                Some(((a, b), _)) => {
                    i = a;
                    j = b;
                    path.push((i, j));
                }
                None => break,
            }
        }
        path.reverse();
        path
    }

    fn start(&mut self, frame: &[f32]) {
        let d = self.config.distance.between(frame, self.reference.frame(0));
        self.rows.push_back(BandRow {
            first_ref: 0,
            cost: vec![d],
        });
        self.live_frames.push_back(frame.to_vec());
        self.live_index = Some(0);
        self.ref_index = 0;
    }

    fn can_advance_reference(&self) -> bool {
        self.ref_index + 1 < self.reference.len()
    }

    fn row_for(&self, live_index: usize) -> Option<&BandRow> {
        let t = self.live_index?;
        let back = t.checked_sub(live_index)?;
        let position = self.rows.len().checked_sub(back + 1)?;
        self.rows.get(position)
    }

    fn local_cost(&self, up: f32, left: f32, diag: f32, d: f32) -> f32 {
        (up + d).min(left + d).min(diag + DIAGONAL_WEIGHT * d)
    }

    /// Adds row t+1 for `frame`, over the band of reference frames ending at j.
    fn add_live_row(&mut self, frame: &[f32]) {
        let j = self.ref_index;
        let first_ref = j.saturating_sub(self.config.band_frames - 1);
        let mut row = if self.rows.len() >= self.config.band_frames {
            self.live_frames.pop_front();
            self.rows.pop_front().unwrap_or_default()
        } else {
            BandRow::default()
        };
        row.first_ref = first_ref;
        row.cost.clear();
        if let Some(previous) = self.rows.back() {
            for ref_index in first_ref..=j {
                let d = self
                    .config
                    .distance
                    .between(frame, self.reference.frame(ref_index));
                let left = row.cost.last().copied().unwrap_or(f32::INFINITY);
                let diag = if ref_index > 0 {
                    previous.get(ref_index - 1)
                } else {
                    f32::INFINITY
                };
                row.cost
                    .push(self.local_cost(previous.get(ref_index), left, diag, d));
            }
        }
        self.rows.push_back(row);
        self.live_frames.push_back(frame.to_vec());
        self.live_index = self.live_index.map(|t| t + 1);
    }

    /// Adds column j+1 to every retained row.
    fn add_reference_column(&mut self) {
        let j = self.ref_index + 1;
        let reference = self.reference.frame(j);
        for r in 0..self.rows.len() {
            let d = self
                .config
                .distance
                .between(&self.live_frames[r], reference);
            let (up, diag) = match r.checked_sub(1).map(|p| &self.rows[p]) {
                Some(previous) => (previous.get(j), previous.get(j - 1)),
                None => (f32::INFINITY, f32::INFINITY),
            };
            let left = self.rows[r].get(j - 1);
            let cost = self.local_cost(up, left, diag, d);
            self.rows[r].cost.push(cost);
        }
        self.ref_index = j;
    }

    fn record_step(&mut self, step: Step) {
        if Some(step) == self.previous_step {
            self.run_count += 1;
        } else {
            self.run_count = 1;
        }
        if step != Step::Both {
            self.previous_step = Some(step);
        }
    }

    fn decide_step(&self) -> Step {
        let t = self.live_index.unwrap_or(0);
        let j = self.ref_index;
        if t < self.config.band_frames {
            return Step::Both;
        }
        if self.run_count > self.config.max_run_count {
            return if self.previous_step == Some(Step::Live) {
                Step::Reference
            } else {
                Step::Live
            };
        }
        let normalized =
            |live: usize, reference: usize, cost: f32| cost / (live + reference + 1) as f32;
        let mut best = (f32::INFINITY, t, j);
        let rows = self.rows.len();
        for (r, row) in self.rows.iter().enumerate() {
            let live = t + 1 + r - rows;
            let cost = normalized(live, j, row.get(j));
            if cost < best.0 {
                best = (cost, live, j);
            }
        }
        if let Some(row) = self.rows.back() {
            for (k, &cost) in row.cost.iter().enumerate() {
                let reference = row.first_ref + k;
                let cost = normalized(t, reference, cost);
                if cost < best.0 {
                    best = (cost, t, reference);
                }
            }
        }
        let (_, live, reference) = best;
        if live < t {
            Step::Reference
        } else if reference < j {
            Step::Live
        } else {
            Step::Both
        }
    }

    fn report(&mut self) -> TrackedPosition {
        let t = self.live_index.unwrap_or(0);
        let (mut best_cost, mut best_ref, mut sum, mut count) =
            (f32::INFINITY, self.ref_index, 0.0f64, 0usize);
        if let Some(row) = self.rows.back() {
            for (k, &cost) in row.cost.iter().enumerate() {
                let reference = row.first_ref + k;
                let cost = cost / (t + reference + 1) as f32;
                if !cost.is_finite() {
                    continue;
                }
                sum += f64::from(cost);
                count += 1;
                if cost < best_cost {
                    best_cost = cost;
                    best_ref = reference;
                }
            }
        }
        let ref_index = best_ref.max(self.last_reported_ref);
        self.last_reported_ref = ref_index;
        if self.recent_positions.len() == self.config.tempo_window_frames {
            self.recent_positions.pop_front();
        }
        self.recent_positions.push_back((t, ref_index));
        let mean = if count > 0 { sum / count as f64 } else { 0.0 };
        let confidence = if mean > 0.0 {
            ((mean - f64::from(best_cost)) / mean).clamp(0.0, 1.0)
        } else {
            0.0
        };
        TrackedPosition {
            live_index: t,
            ref_index,
            tempo: slope(&self.recent_positions),
            confidence,
            normalized_cost: best_cost,
        }
    }
}

/// Least-squares slope of reference index over live index; 1 until there are two points.
fn slope(points: &VecDeque<(usize, usize)>) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 1.0;
    }
    let mean_x = points.iter().map(|p| p.0 as f64).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(x, y) in points {
        sxy += (x as f64 - mean_x) * (y as f64 - mean_y);
        sxx += (x as f64 - mean_x) * (x as f64 - mean_x);
    }
    if sxx > 0.0 {
        (sxy / sxx).clamp(0.0, 8.0)
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::full_dtw;
    use proptest::prelude::*;

    fn matrix(dim: usize, values: Vec<f32>) -> Arc<FeatureMatrix> {
        Arc::new(FeatureMatrix::new(dim, values).unwrap())
    }

    fn assert_monotone_and_continuous(path: &[(usize, usize)]) {
        for pair in path.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let di = b.0 - a.0;
            let dj = b.1 - a.1;
            assert!(
                di <= 1 && dj <= 1 && di + dj >= 1,
                "path step {a:?} -> {b:?} is not a DTW step"
            );
        }
    }

    proptest! {
        /// With a band wider than both sequences every cell is computed exactly, so the cost
        /// at the end equals full DTW and the traced path is a valid warping path.
        #[test]
        fn full_band_equals_exact_dtw(len in 2usize..24, seed in proptest::collection::vec(-1.0f32..1.0, 3 * 24)) {
            let dim = 3;
            let reference = matrix(dim, seed[..len * dim].to_vec());
            let live_values: Vec<f32> = seed[..len * dim].iter().rev().map(|v| v * 0.7 + 0.1).collect();
            let live = FeatureMatrix::new(dim, live_values).unwrap();
            let config = OltwConfig { band_frames: len + 1, distance: Distance::Euclidean, ..OltwConfig::default() };
            let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
            for i in 0..live.len() {
                warper.push_frame(live.frame(i)).unwrap();
            }
            let exact = full_dtw(&live, &reference, Distance::Euclidean).unwrap();
            let online = warper.cost_at(len - 1, len - 1).unwrap();
            prop_assert!((online - exact.cost).abs() <= 1e-4 * exact.cost.max(1.0), "online {online} exact {}", exact.cost);
            let path = warper.path_within_band();
            prop_assert_eq!(path.first().copied(), Some((0, 0)));
            prop_assert_eq!(path.last().copied(), Some((len - 1, len - 1)));
            assert_monotone_and_continuous(&path);
        }

        /// With a narrow band the path is still a valid warping path and positions never go back.
        #[test]
        fn narrow_band_paths_are_valid(ref_len in 5usize..60, live_len in 5usize..60, band in 2usize..8,
                                       values in proptest::collection::vec(0.0f32..1.0, 2 * 120)) {
            let reference = matrix(2, values[..ref_len * 2].to_vec());
            let live = FeatureMatrix::new(2, values[240 - live_len * 2..].to_vec()).unwrap();
            let config = OltwConfig { band_frames: band, ..OltwConfig::default() };
            let mut warper = OnlineTimeWarper::new(reference, config).unwrap();
            let mut last = 0;
            for i in 0..live.len() {
                let position = warper.push_frame(live.frame(i)).unwrap();
                prop_assert!(position.ref_index >= last);
                prop_assert!(position.ref_index < ref_len);
                prop_assert!((0.0..=1.0).contains(&position.confidence));
                last = position.ref_index;
                assert_monotone_and_continuous(&warper.path_within_band());
            }
        }
    }

    /// One-hot frames cycling through `dim` symbols make every frame distinct from its
    /// neighbours, so the greedy choice at each step is unambiguous.
    fn symbol_sequence(len: usize, dim: usize) -> Vec<f32> {
        let mut values = vec![0.0; len * dim];
        let mut state = 12345u64;
        let mut previous = usize::MAX;
        for i in 0..len {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut symbol = (state >> 33) as usize % dim;
            if symbol == previous {
                symbol = (symbol + 1) % dim;
            }
            previous = symbol;
            values[i * dim + symbol] = 1.0;
        }
        values
    }

    #[test]
    fn follows_a_sequence_whose_tempo_changes() {
        let dim = 16;
        let ref_len = 600;
        let reference = matrix(dim, symbol_sequence(ref_len, dim));
        // The live stream plays the reference at 0.8x for a while, then at 1.25x.
        let mut truth = Vec::new();
        let mut position = 0.0f64;
        while (position as usize) < ref_len {
            truth.push(position as usize);
            position += if position < 300.0 { 0.8 } else { 1.25 };
        }
        let config = OltwConfig {
            band_frames: 40,
            ..OltwConfig::default()
        };
        let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
        let mut worst = 0usize;
        for (i, &true_ref) in truth.iter().enumerate() {
            let tracked = warper.push_frame(reference.frame(true_ref)).unwrap();
            if i > 60 {
                worst = worst.max(tracked.ref_index.abs_diff(true_ref));
            }
        }
        assert!(worst <= 2, "largest error after warm-up was {worst} frames");
    }

    #[test]
    fn wrong_dimension_is_refused() {
        let mut warper =
            OnlineTimeWarper::new(matrix(2, vec![0.0; 4]), OltwConfig::default()).unwrap();
        assert_eq!(
            warper.push_frame(&[1.0]),
            Err(AlignError::DimensionMismatch {
                expected: 2,
                actual: 1
            })
        );
    }
}
