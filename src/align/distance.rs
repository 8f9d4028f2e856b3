//! Distances between feature vectors.
//!
//! The loops are plain slices zipped together so the compiler can vectorise them.

/// A distance between two feature vectors of equal length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// `1 - cos(a, b)`, in [0, 2]; a zero vector is at distance 1 from everything.
    Cosine,
    /// Euclidean (L2) distance.
    Euclidean,
}

impl Distance {
    /// Distance between `a` and `b`.
    pub fn between(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Distance::Cosine => cosine_distance(a, b),
            Distance::Euclidean => euclidean_distance(a, b),
        }
    }
}

/// `1 - cos(a, b)`; 1 when either vector is all zeros (silence matches nothing in particular).
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut norm_a, mut norm_b) = (0.0f32, 0.0f32, 0.0f32);
    for (&x, &y) in a.iter().zip(b) {
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    let denom = (norm_a * norm_b).sqrt();
    if denom <= f32::MIN_POSITIVE {
        1.0
    } else {
        (1.0 - dot / denom).clamp(0.0, 2.0)
    }
}

/// Euclidean distance.
pub fn euclidean_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!((cosine_distance(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-6);
        assert!(cosine_distance(&[1.0, 2.0], &[2.0, 4.0]).abs() < 1e-6);
        assert!((cosine_distance(&[1.0, 0.0], &[-1.0, 0.0]) - 2.0).abs() < 1e-6);
        assert_eq!(cosine_distance(&[0.0, 0.0], &[1.0, 0.0]), 1.0);
        assert!((euclidean_distance(&[0.0, 3.0], &[4.0, 0.0]) - 5.0).abs() < 1e-6);
    }
}
