//! Distances between feature vectors, and the kernels they are made of.
//!
//! The kernels work on eight independent accumulators over `chunks_exact(8)`, which breaks the
//! dependency chain of a plain running sum so the compiler can keep eight lanes in SIMD
//! registers; the remainder is summed separately. Property tests check them against plain
//! scalar loops.

/// A distance between two feature vectors of equal length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// `1 - cos(a, b)`, in [0, 2]; a zero vector is at distance 1 from everything.
    Cosine,
    /// Euclidean (L2) distance.
    Euclidean,
    /// The square of the Euclidean distance: a sum over dimensions, so distances over blocks of
    /// dimensions add up (what [`super::Modalities`] relies on).
    SquaredEuclidean,
    /// Manhattan (L1) distance.
    Manhattan,
}

impl Distance {
    /// Distance between `a` and `b`.
    pub fn between(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Distance::Cosine => cosine_distance(a, b),
            Distance::Euclidean => euclidean_distance(a, b),
            Distance::SquaredEuclidean => squared_euclidean_distance(a, b),
            Distance::Manhattan => manhattan_distance(a, b),
        }
    }

    /// Distance between `a` and `b` given the inverses of their L2 norms (see
    /// [`inverse_norm`]), with which cosine distance costs one dot product and no division;
    /// the other distances ignore them.
    #[inline]
    pub fn between_with_inverse_norms(self, a: &[f32], inverse_norm_a: f32, b: &[f32], inverse_norm_b: f32) -> f32 {
        match self {
            Distance::Cosine => (1.0 - dot(a, b) * inverse_norm_a * inverse_norm_b).clamp(0.0, 2.0),
            Distance::Euclidean => euclidean_distance(a, b),
            Distance::SquaredEuclidean => squared_euclidean_distance(a, b),
            Distance::Manhattan => manhattan_distance(a, b),
        }
    }
}

const LANES: usize = 8;

/// Sums `f(x, y)` over paired elements with eight accumulators.
#[inline(always)]
fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut lanes = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            lanes[lane] += f(x[lane], y[lane]);
        }
    }
    let rest: f32 = a_rest.iter().zip(b_rest).map(|(&x, &y)| f(x, y)).sum();
    lanes.iter().sum::<f32>() + rest
}

/// Dot product.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    lane_sum(a, b, |x, y| x * y)
}

/// L2 norm.
pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// `1 / ‖a‖`, or 0 for a zero vector, so that a zero vector is at cosine distance 1 from
/// everything in [`Distance::between_with_inverse_norms`].
pub fn inverse_norm(a: &[f32]) -> f32 {
    let n = norm(a);
    if n <= f32::MIN_POSITIVE {
        0.0
    } else {
        1.0 / n
    }
}

fn cosine_from_dot(dot: f32, norm_product: f32) -> f32 {
    if norm_product <= f32::MIN_POSITIVE {
        1.0
    } else {
        (1.0 - dot / norm_product).clamp(0.0, 2.0)
    }
}

/// `1 - cos(a, b)`; 1 when either vector is all zeros (silence matches nothing in particular).
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    cosine_from_dot(dot(a, b), norm(a) * norm(b))
}

/// Euclidean distance.
#[inline]
pub fn euclidean_distance(a: &[f32], b: &[f32]) -> f32 {
    squared_euclidean_distance(a, b).sqrt()
}

/// Squared Euclidean distance.
#[inline]
pub fn squared_euclidean_distance(a: &[f32], b: &[f32]) -> f32 {
    lane_sum(a, b, |x, y| (x - y) * (x - y))
}

/// Manhattan distance.
#[inline]
pub fn manhattan_distance(a: &[f32], b: &[f32]) -> f32 {
    lane_sum(a, b, |x, y| (x - y).abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert!((cosine_distance(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-6);
        assert!(cosine_distance(&[1.0, 2.0], &[2.0, 4.0]).abs() < 1e-6);
        assert!((cosine_distance(&[1.0, 0.0], &[-1.0, 0.0]) - 2.0).abs() < 1e-6);
        assert_eq!(cosine_distance(&[0.0, 0.0], &[1.0, 0.0]), 1.0);
        assert!((euclidean_distance(&[0.0, 3.0], &[4.0, 0.0]) - 5.0).abs() < 1e-6);
        assert!((manhattan_distance(&[0.0, 3.0], &[4.0, 0.0]) - 7.0).abs() < 1e-6);
    }

    fn scalar_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum()
    }

    fn close(fast: f32, exact: f64, scale: f64) -> bool {
        (f64::from(fast) - exact).abs() <= 1e-4 * scale.max(1.0)
    }

    fn pair() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        (0usize..70).prop_flat_map(|n| {
            (
                proptest::collection::vec(-4.0f32..4.0, n),
                proptest::collection::vec(-4.0f32..4.0, n),
            )
        })
    }

    proptest! {
        #[test]
        fn kernels_equal_their_scalar_versions((a, b) in pair()) {
            let scale: f64 = a.iter().chain(&b).map(|v| f64::from(v.abs())).sum::<f64>().powi(2);
            prop_assert!(close(dot(&a, &b), scalar_dot(&a, &b), scale));
            let l2: f64 = a.iter().zip(&b).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum::<f64>().sqrt();
            prop_assert!(close(euclidean_distance(&a, &b), l2, scale.sqrt()));
            prop_assert!(close(squared_euclidean_distance(&a, &b), l2 * l2, scale));
            let l1: f64 = a.iter().zip(&b).map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs()).sum();
            prop_assert!(close(manhattan_distance(&a, &b), l1, scale.sqrt()));
            let norms = scalar_dot(&a, &a).sqrt() * scalar_dot(&b, &b).sqrt();
            let cosine = if norms <= f64::from(f32::MIN_POSITIVE) { 1.0 } else { (1.0 - scalar_dot(&a, &b) / norms).clamp(0.0, 2.0) };
            prop_assert!((f64::from(cosine_distance(&a, &b)) - cosine).abs() < 1e-3);
            let with_norms = Distance::Cosine.between_with_inverse_norms(&a, inverse_norm(&a), &b, inverse_norm(&b));
            prop_assert!((with_norms - cosine_distance(&a, &b)).abs() < 1e-4);
        }
    }
}
