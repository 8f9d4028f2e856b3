//! A reference's feature frames, stored row-major, with their inverse norms.

use super::{inverse_norm, AlignError};

/// `len` frames of `dim` features each, stored contiguously. Each frame's inverse L2 norm is kept
/// beside it so that cosine distances against it cost one dot product.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    dim: usize,
    values: Vec<f32>,
    inverse_norms: Vec<f32>,
}

impl FeatureMatrix {
    /// Wraps row-major feature values; `values.len()` must be a multiple of `dim`.
    pub fn new(dim: usize, values: Vec<f32>) -> Result<Self, AlignError> {
        if dim == 0 || !values.len().is_multiple_of(dim) {
            return Err(AlignError::RaggedFeatures { len: values.len(), dim });
        }
        let inverse_norms = values.chunks_exact(dim).map(inverse_norm).collect();
        Ok(Self {
            dim,
            values,
            inverse_norms,
        })
    }

    /// Features per frame.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.values.len() / self.dim
    }

    /// True when there are no frames.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Frame `index`; panics if out of range, which is a caller bug, not bad input.
    pub fn frame(&self, index: usize) -> &[f32] {
        &self.values[index * self.dim..(index + 1) * self.dim]
    }

    /// `1 / ‖frame index‖` (0 for a zero frame).
    pub fn frame_inverse_norm(&self, index: usize) -> f32 {
        self.inverse_norms[index]
    }

    /// Appends frames given row-major.
    pub fn extend_from_rows(&mut self, rows: &[f32]) -> Result<(), AlignError> {
        if !rows.len().is_multiple_of(self.dim) {
            return Err(AlignError::RaggedFeatures {
                len: rows.len(),
                dim: self.dim,
            });
        }
        self.values.extend_from_slice(rows);
        self.inverse_norms.extend(rows.chunks_exact(self.dim).map(inverse_norm));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ragged_data_is_refused() {
        assert!(FeatureMatrix::new(3, vec![0.0; 7]).is_err());
        assert!(FeatureMatrix::new(0, vec![]).is_err());
        let m = FeatureMatrix::new(3, vec![0.0; 6]).unwrap();
        assert_eq!((m.len(), m.dim()), (2, 3));
    }
}
