//! Exact dynamic time warping over the full cost matrix: the reference implementation that
//! the online aligner is checked against. Quadratic in time and memory; use it on small inputs.

use super::kernels::{self, KernelSet};
use super::{Distance, FeatureMatrix, StepWeights};

/// The optimal warping path between two sequences and its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct DtwResult {
    /// Accumulated cost of the optimal path from (0, 0) to (live_len-1, ref_len-1).
    pub cost: f32,
    /// The path as (live index, reference index) pairs, from (0, 0) to the end.
    pub path: Vec<(usize, usize)>,
}

/// Full-matrix DTW of `live` against `reference` with the given step weights.
/// Returns `None` if either sequence is empty.
pub fn full_dtw(
    live: &FeatureMatrix,
    reference: &FeatureMatrix,
    distance: Distance,
    weights: StepWeights,
) -> Option<DtwResult> {
    let (rows, cols) = (live.len(), reference.len());
    if rows == 0 || cols == 0 {
        return None;
    }
    let mut cost = vec![f32::INFINITY; rows * cols];
    let at = |i: usize, j: usize| i * cols + j;
    for i in 0..rows {
        for j in 0..cols {
            let d = distance.between(&live.frame(i), &reference.frame(j));
            cost[at(i, j)] = if i == 0 && j == 0 {
                d
            } else {
                let up = if i > 0 {
                    cost[at(i - 1, j)] + weights.live * d
                } else {
                    f32::INFINITY
                };
                let left = if j > 0 {
                    cost[at(i, j - 1)] + weights.reference * d
                } else {
                    f32::INFINITY
                };
                let diag = if i > 0 && j > 0 {
                    cost[at(i - 1, j - 1)] + weights.diagonal * d
                } else {
                    f32::INFINITY
                };
                up.min(left).min(diag)
            };
        }
    }
    // Back from the end, each cell to the predecessor the recurrence took: the cheapest entry
    // (its cost plus the weighted local distance), the diagonal first on ties, then the live
    // step, as the online aligner orders them.
    let mut path = vec![(rows - 1, cols - 1)];
    let (mut i, mut j) = (rows - 1, cols - 1);
    while (i, j) != (0, 0) {
        let d = distance.between(&live.frame(i), &reference.frame(j));
        let candidates = [
            (i > 0 && j > 0).then(|| ((i - 1, j - 1), weights.diagonal)),
            (i > 0).then(|| ((i - 1, j), weights.live)),
            (j > 0).then(|| ((i, j - 1), weights.reference)),
        ];
        let mut best: Option<((usize, usize), f32)> = None;
        for ((pi, pj), w) in candidates.into_iter().flatten() {
            let through = cost[at(pi, pj)] + w * d;
            if best.is_none_or(|(_, lowest)| through < lowest) {
                best = Some(((pi, pj), through));
            }
        }
        let ((ni, nj), _) = best?;
        i = ni;
        j = nj;
        path.push((i, j));
    }
    path.reverse();
    Some(DtwResult {
        cost: cost[at(rows - 1, cols - 1)],
        path,
    })
}

/// The smaller of two costs: a plain compare, which compiles to one instruction where
/// `f32::min`'s NaN handling would add a dependent few (costs are never NaN here).
#[inline(always)]
fn cheaper(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// The cost of full DTW of `live` against `reference` (no path), in O(len(reference)) memory:
/// the offline yardstick for the online aligner, and the kernel compared with other DTW
/// libraries. Returns `None` if either sequence is empty or their dimensions differ.
///
/// Runs the wavefront kernel of [`KernelSet::active`] where there is one, else the row-by-row
/// loop below.
pub fn dtw_distance(
    live: &FeatureMatrix,
    reference: &FeatureMatrix,
    distance: Distance,
    weights: StepWeights,
) -> Option<f32> {
    let cols = reference.len();
    if live.is_empty() || cols == 0 || live.dim() != reference.dim() {
        return None;
    }
    if let Some(cost) = kernels::full_dtw_cost(KernelSet::active(), live, reference, distance, weights) {
        return Some(cost);
    }
    let mut previous = vec![f32::INFINITY; cols];
    let mut current = vec![f32::INFINITY; cols];
    let mut distances = Vec::with_capacity(cols);
    for i in 0..live.len() {
        let (row, row_inverse_norm) = (live.frame(i), live.frame_inverse_norm(i));
        reference.distances_to(&row, row_inverse_norm, 0..cols, distance, &mut distances);
        if i == 0 {
            // The first row can only be entered along the reference.
            let mut left = 0.0f32;
            for (j, (&d, cost)) in distances.iter().zip(current.iter_mut()).enumerate() {
                *cost = if j == 0 { d } else { left + weights.reference * d };
                left = *cost;
            }
        } else {
            // The step from the left is the loop's only dependency: the other two are taken
            // first, so each cell waits on one add and one compare.
            let (mut left, mut diagonal) = (f32::INFINITY, f32::INFINITY);
            for ((&d, &up), cost) in distances.iter().zip(&previous).zip(current.iter_mut()) {
                let through = cheaper(up + weights.live * d, diagonal + weights.diagonal * d);
                *cost = cheaper(through, left + weights.reference * d);
                left = *cost;
                diagonal = up;
            }
        }
        std::mem::swap(&mut previous, &mut current);
    }
    Some(previous[cols - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(values: &[f32]) -> FeatureMatrix {
        FeatureMatrix::new(1, values.to_vec()).unwrap()
    }

    #[test]
    fn identical_sequences_cost_nothing_on_the_diagonal() {
        let a = seq(&[1.0, 2.0, 3.0, 4.0]);
        let result = full_dtw(&a, &a, Distance::Euclidean, StepWeights::default()).unwrap();
        assert_eq!(result.cost, 0.0);
        assert_eq!(result.path, vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
    }

    #[test]
    fn the_rolling_distance_equals_the_full_matrix() {
        let a = seq(&[0.1, 0.9, 0.4, 0.4, 0.8, 0.2, 0.5]);
        let b = seq(&[0.2, 0.8, 0.5, 0.7, 0.1]);
        for weights in [
            StepWeights::default(),
            StepWeights {
                live: 1.0,
                reference: 1.0,
                diagonal: 1.0,
            },
        ] {
            let full = full_dtw(&a, &b, Distance::Euclidean, weights).unwrap().cost;
            let rolling = dtw_distance(&a, &b, Distance::Euclidean, weights).unwrap();
            assert!((full - rolling).abs() < 1e-6, "{full} vs {rolling}");
        }
    }

    #[test]
    fn a_repeated_frame_is_absorbed_by_a_vertical_step() {
        let live = seq(&[1.0, 2.0, 2.0, 3.0]);
        let reference = seq(&[1.0, 2.0, 3.0]);
        let result = full_dtw(&live, &reference, Distance::Euclidean, StepWeights::default()).unwrap();
        assert_eq!(result.cost, 0.0);
        assert_eq!(result.path, vec![(0, 0), (1, 1), (2, 1), (3, 2)]);
    }
}
