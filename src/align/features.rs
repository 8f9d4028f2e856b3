//! A reference's feature frames, stored row-major, with their inverse norms, and a second
//! time in panels for computing many distances at once.
//!
//! A panel holds [`PANEL_FRAMES`] consecutive frames dimension by dimension (the first value of
//! each of the 8 frames, then the second, …), so that the distances from one vector to 8
//! frames are computed together in eight independent lanes: the loop the compiler vectorises
//! runs across frames, not along one frame's few dimensions. Rows serve single lookups.

use std::ops::Range;

use super::{inverse_norm, AlignError, Distance};

/// Frames per panel.
const PANEL_FRAMES: usize = 8;

/// `len` frames of `dim` features each, stored contiguously. Each frame's inverse L2 norm is kept
/// beside it so that cosine distances against it cost one dot product.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    dim: usize,
    values: Vec<f32>,
    inverse_norms: Vec<f32>,
    /// Panel `b`, value `k` of frame `8b + lane`, at `(b · dim + k) · 8 + lane`; frames past the
    /// end are zeros.
    panels: Vec<f32>,
}

impl FeatureMatrix {
    /// Wraps row-major feature values; `values.len()` must be a multiple of `dim`.
    pub fn new(dim: usize, values: Vec<f32>) -> Result<Self, AlignError> {
        if dim == 0 || !values.len().is_multiple_of(dim) {
            return Err(AlignError::RaggedFeatures { len: values.len(), dim });
        }
        let inverse_norms = values.chunks_exact(dim).map(inverse_norm).collect();
        let mut matrix = Self {
            dim,
            values,
            inverse_norms,
            panels: Vec::new(),
        };
        matrix.rebuild_panels_from(0);
        Ok(matrix)
    }

    /// Rewrites the panels from the one holding frame `first` to the end.
    fn rebuild_panels_from(&mut self, first: usize) {
        let (dim, len) = (self.dim, self.len());
        let first_panel = first / PANEL_FRAMES;
        let panels = len.div_ceil(PANEL_FRAMES);
        self.panels.resize(panels * dim * PANEL_FRAMES, 0.0);
        for panel in first_panel..panels {
            for lane in 0..PANEL_FRAMES {
                let frame = panel * PANEL_FRAMES + lane;
                for k in 0..dim {
                    let value = if frame < len { self.values[frame * dim + k] } else { 0.0 };
                    self.panels[(panel * dim + k) * PANEL_FRAMES + lane] = value;
                }
            }
        }
    }

    /// Writes to `out` the distances from `query` (whose inverse norm is `query_inverse_norm`)
    /// to each frame in `frames`, in order.
    pub fn distances_to(
        &self,
        query: &[f32],
        query_inverse_norm: f32,
        frames: Range<usize>,
        distance: Distance,
        out: &mut Vec<f32>,
    ) {
        out.clear();
        let frames = frames.start..frames.end.min(self.len());
        if frames.is_empty() || query.len() != self.dim {
            return;
        }
        let panel_len = self.dim * PANEL_FRAMES;
        for panel in frames.start / PANEL_FRAMES..=(frames.end - 1) / PANEL_FRAMES {
            let columns = self.panels[panel * panel_len..(panel + 1) * panel_len].chunks_exact(PANEL_FRAMES);
            let mut lanes = [0.0f32; PANEL_FRAMES];
            match distance {
                Distance::Euclidean | Distance::Manhattan => {
                    let squared = distance == Distance::Euclidean;
                    for (&q, column) in query.iter().zip(columns) {
                        for (lane, &value) in lanes.iter_mut().zip(column) {
                            let difference = q - value;
                            *lane += if squared {
                                difference * difference
                            } else {
                                difference.abs()
                            };
                        }
                    }
                    if squared {
                        lanes.iter_mut().for_each(|lane| *lane = lane.sqrt());
                    }
                }
                Distance::Cosine => {
                    for (&q, column) in query.iter().zip(columns) {
                        for (lane, &value) in lanes.iter_mut().zip(column) {
                            *lane += q * value;
                        }
                    }
                    let first = panel * PANEL_FRAMES;
                    for (lane, dot) in lanes.iter_mut().enumerate() {
                        let inverse = self.inverse_norms.get(first + lane).copied().unwrap_or(0.0);
                        *dot = (1.0 - *dot * query_inverse_norm * inverse).clamp(0.0, 2.0);
                    }
                }
            }
            let first = panel * PANEL_FRAMES;
            let from = frames.start.max(first) - first;
            let to = frames.end.min(first + PANEL_FRAMES) - first;
            out.extend_from_slice(&lanes[from..to]);
        }
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
        let first = self.len();
        self.values.extend_from_slice(rows);
        self.inverse_norms.extend(rows.chunks_exact(self.dim).map(inverse_norm));
        self.rebuild_panels_from(first);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Panelled distances equal one-at-a-time distances, for any range and any growth.
        #[test]
        fn panelled_distances_equal_single_ones(
            dim in 1usize..20,
            len in 1usize..40,
            extra in 0usize..12,
            range in (0usize..52, 0usize..52),
            seed in proptest::collection::vec(-2.0f32..2.0, 52 * 20 + 20),
        ) {
            let mut matrix = FeatureMatrix::new(dim, seed[..len * dim].to_vec()).unwrap();
            matrix.extend_from_rows(&seed[len * dim..(len + extra) * dim]).unwrap();
            let query = &seed[seed.len() - dim..];
            let frames = range.0.min(range.1)..range.0.max(range.1).min(matrix.len());
            for distance in [Distance::Cosine, Distance::Euclidean, Distance::Manhattan] {
                let mut out = Vec::new();
                matrix.distances_to(query, inverse_norm(query), frames.clone(), distance, &mut out);
                prop_assert_eq!(out.len(), frames.len());
                for (k, &d) in frames.clone().zip(&out) {
                    let single = distance.between_with_inverse_norms(query, inverse_norm(query), matrix.frame(k), matrix.frame_inverse_norm(k));
                    prop_assert!((d - single).abs() <= 1e-4 * single.abs().max(1.0), "{distance:?} frame {k}: {d} vs {single}");
                }
            }
        }
    }

    #[test]
    fn ragged_data_is_refused() {
        assert!(FeatureMatrix::new(3, vec![0.0; 7]).is_err());
        assert!(FeatureMatrix::new(0, vec![]).is_err());
        let m = FeatureMatrix::new(3, vec![0.0; 6]).unwrap();
        assert_eq!((m.len(), m.dim()), (2, 3));
    }
}
