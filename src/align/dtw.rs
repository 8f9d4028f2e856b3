//! Exact dynamic time warping over the full cost matrix: the reference implementation that
//! the online aligner is checked against. Quadratic in time and memory; use it on small inputs.

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
            let d = distance.between(live.frame(i), reference.frame(j));
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
    let mut path = vec![(rows - 1, cols - 1)];
    let (mut i, mut j) = (rows - 1, cols - 1);
    while (i, j) != (0, 0) {
        let candidates = [
            (i > 0 && j > 0).then(|| (i - 1, j - 1)),
            (i > 0).then(|| (i - 1, j)),
            (j > 0).then(|| (i, j - 1)),
        ];
        let (ni, nj) = candidates
            .into_iter()
            .flatten()
            .min_by(|a, b| cost[at(a.0, a.1)].total_cmp(&cost[at(b.0, b.1)]))?;
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
    fn a_repeated_frame_is_absorbed_by_a_vertical_step() {
        let live = seq(&[1.0, 2.0, 2.0, 3.0]);
        let reference = seq(&[1.0, 2.0, 3.0]);
        let result = full_dtw(&live, &reference, Distance::Euclidean, StepWeights::default()).unwrap();
        assert_eq!(result.cost, 0.0);
        assert_eq!(result.path, vec![(0, 0), (1, 1), (2, 1), (3, 2)]);
    }
}
