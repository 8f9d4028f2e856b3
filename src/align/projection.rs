//! [`Projection`]: frames mapped onto the few directions that hold most of a reference's
//! energy, for searches that compare every live window with the whole reference.
//!
//! The directions are the leading eigenvectors of the frames' second-moment matrix `XᵀX / n`
//! (uncentred: the mean frame is the strongest direction of non-negative features, and a
//! cosine needs it). A frame's projection keeps its dot products with every other frame up to
//! the energy both have outside those directions, which is small for spectra, whose bands move
//! together; a distance over a quarter of the values costs a quarter of the arithmetic.
//!
//! This module owns the fitting (a cyclic Jacobi eigensolver, exact to f64 rounding, run once
//! per reference) and the mapping; which search uses it, and at what size, is the caller's.

use std::sync::Arc;

use super::{AlignError, FeatureMatrix};

/// Frames the directions are fitted on at most: an hour's reference is sampled evenly, since
/// its second moments are as well measured from a few minutes' worth and the fit must not hold
/// up a stream's start for seconds.
const MAX_FITTED_FRAMES: usize = 16_384;

/// Jacobi sweeps before the eigensolver gives up converging further; symmetric matrices of a
/// few hundred rows converge in under fifteen.
const MAX_SWEEPS: usize = 50;

/// A linear map from frames of `input_dim` values to `output_dim` values: the coordinates of a
/// frame along a reference's `output_dim` strongest directions.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    input_dim: usize,
    /// Direction `k` (unit length, strongest first) at `j · output_dim + k` for its value `j`:
    /// input-major, so that a frame is projected by adding each of its values times a
    /// contiguous row, which runs in SIMD lanes.
    weights: Vec<f32>,
    output_dim: usize,
}

impl Projection {
    /// The `output_dim` strongest directions of `frames` (all of them when `output_dim` is the
    /// frames' dimension).
    pub fn of_frames(frames: &FeatureMatrix, output_dim: usize) -> Result<Self, AlignError> {
        let dim = frames.dim();
        if output_dim == 0 || output_dim > dim {
            return Err(AlignError::BadParameter {
                name: "projection dimensions",
                expected: "between 1 and the frames' dimension",
                actual: format!("{output_dim} for frames of {dim} values"),
            });
        }
        if frames.is_empty() {
            return Err(AlignError::EmptyReference);
        }
        let moments = second_moments(frames);
        let (eigenvalues, eigenvectors) = symmetric_eigen(moments, dim);
        let mut order: Vec<usize> = (0..dim).collect();
        order.sort_by(|&a, &b| eigenvalues[b].total_cmp(&eigenvalues[a]));
        let weights = (0..dim)
            .flat_map(|row| order[..output_dim].iter().map(move |&column| (row, column)))
            .map(|(row, column)| eigenvectors[row * dim + column] as f32)
            .collect();
        Ok(Self {
            input_dim: dim,
            weights,
            output_dim,
        })
    }

    /// Values of a frame before projection.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Values of a projected frame.
    pub fn output_dim(&self) -> usize {
        self.output_dim
    }

    /// Writes `frame`'s coordinates along the directions to `out` (`output_dim` values).
    pub fn project_into(&self, frame: &[f32], out: &mut [f32]) {
        let out = &mut out[..self.output_dim];
        out.fill(0.0);
        for (&value, row) in frame.iter().zip(self.weights.chunks_exact(self.output_dim)) {
            out.iter_mut()
                .zip(row)
                .for_each(|(coordinate, &weight)| *coordinate += value * weight);
        }
    }

    /// Every frame of `frames` projected.
    pub fn project_matrix(&self, frames: &FeatureMatrix) -> Result<FeatureMatrix, AlignError> {
        if frames.dim() != self.input_dim {
            return Err(AlignError::DimensionMismatch {
                expected: self.input_dim,
                actual: frames.dim(),
            });
        }
        let output_dim = self.output_dim();
        let mut rows = vec![0.0; frames.len() * output_dim];
        let mut scratch = Vec::new();
        for (index, out) in rows.chunks_exact_mut(output_dim).enumerate() {
            self.project_into(frames.frame_in(index, &mut scratch), out);
        }
        FeatureMatrix::new(output_dim, rows)
    }
}

/// A matrix's frames projected, with the projection that made them.
#[derive(Debug)]
pub(crate) struct ProjectedFrames {
    /// The map from the matrix's frames (and live frames like them) to the projected ones.
    pub(crate) projection: Projection,
    /// The matrix's frames projected, shared by every search over them.
    pub(crate) frames: Arc<FeatureMatrix>,
}

impl ProjectedFrames {
    /// `frames` projected onto their `output_dim` strongest directions.
    pub(crate) fn of(frames: &FeatureMatrix, output_dim: usize) -> Result<Self, AlignError> {
        let projection = Projection::of_frames(frames, output_dim)?;
        let projected = projection.project_matrix(frames)?;
        Ok(Self {
            projection,
            frames: Arc::new(projected),
        })
    }
}

/// `XᵀX / n` of the frames (at most [`MAX_FITTED_FRAMES`] of them, evenly spaced), row-major,
/// in f64.
fn second_moments(frames: &FeatureMatrix) -> Vec<f64> {
    let dim = frames.dim();
    let mut moments = vec![0.0f64; dim * dim];
    let mut scratch = Vec::new();
    let mut wide = vec![0.0f64; dim];
    let stride = frames.len().div_ceil(MAX_FITTED_FRAMES);
    let mut fitted = 0usize;
    for index in (0..frames.len()).step_by(stride) {
        let frame = frames.frame_in(index, &mut scratch);
        // A frame with a value that is not a number carries no direction (as in quantisation).
        if !frame.iter().all(|v| v.is_finite()) {
            continue;
        }
        fitted += 1;
        wide.iter_mut().zip(frame).for_each(|(w, &v)| *w = f64::from(v));
        for (row, &a) in wide.iter().enumerate() {
            let out = &mut moments[row * dim..row * dim + row + 1];
            out.iter_mut().zip(&wide).for_each(|(m, &b)| *m += a * b);
        }
    }
    let scale = 1.0 / fitted.max(1) as f64;
    for row in 0..dim {
        for column in 0..=row {
            let value = moments[row * dim + column] * scale;
            moments[row * dim + column] = value;
            moments[column * dim + row] = value;
        }
    }
    moments
}

/// Eigenvalues and eigenvectors (the columns of a row-major `dim × dim` matrix) of the
/// symmetric `matrix`, by cyclic Jacobi rotations.
fn symmetric_eigen(mut matrix: Vec<f64>, dim: usize) -> (Vec<f64>, Vec<f64>) {
    let mut vectors = vec![0.0f64; dim * dim];
    (0..dim).for_each(|i| vectors[i * dim + i] = 1.0);
    let total: f64 = matrix.iter().map(|v| v * v).sum();
    for _ in 0..MAX_SWEEPS {
        let off_diagonal: f64 = (0..dim)
            .flat_map(|p| (0..dim).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| matrix[p * dim + q].powi(2))
            .sum();
        if off_diagonal <= total * 1e-26 {
            break;
        }
        for p in 0..dim {
            for q in p + 1..dim {
                rotate(&mut matrix, &mut vectors, dim, p, q);
            }
        }
    }
    let values = (0..dim).map(|i| matrix[i * dim + i]).collect();
    (values, vectors)
}

/// The Jacobi rotation in the plane `(p, q)` that zeroes `matrix[p][q]`, applied to `matrix`
/// on both sides and to `vectors` on the right.
fn rotate(matrix: &mut [f64], vectors: &mut [f64], dim: usize, p: usize, q: usize) {
    let apq = matrix[p * dim + q];
    if apq == 0.0 {
        return;
    }
    let (app, aqq) = (matrix[p * dim + p], matrix[q * dim + q]);
    let theta = (aqq - app) / (2.0 * apq);
    // The smaller of the two rotations that zero the element (Numerical Recipes, 11.1).
    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in 0..dim {
        let (akp, akq) = (matrix[k * dim + p], matrix[k * dim + q]);
        matrix[k * dim + p] = c * akp - s * akq;
        matrix[k * dim + q] = s * akp + c * akq;
    }
    for k in 0..dim {
        let (apk, aqk) = (matrix[p * dim + k], matrix[q * dim + k]);
        matrix[p * dim + k] = c * apk - s * aqk;
        matrix[q * dim + k] = s * apk + c * aqk;
    }
    for k in 0..dim {
        let (vkp, vkq) = (vectors[k * dim + p], vectors[k * dim + q]);
        vectors[k * dim + p] = c * vkp - s * vkq;
        vectors[k * dim + q] = s * vkp + c * vkq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn the_strongest_direction_comes_first() {
        // Frames along (1, 1, 0) with a little, uncorrelated, along (0, 0, 1).
        let frames = FeatureMatrix::new(3, vec![2.0, 2.0, 0.1, 1.0, 1.0, -0.2, 3.0, 3.0, 0.0]).unwrap();
        let projection = Projection::of_frames(&frames, 1).unwrap();
        let mut out = [0.0];
        projection.project_into(&[1.0, 1.0, 0.0], &mut out);
        assert!((out[0].abs() - 2f32.sqrt()).abs() < 1e-5, "{out:?}");
        projection.project_into(&[0.0, 0.0, 1.0], &mut out);
        assert!(out[0].abs() < 1e-5, "{out:?}");
    }

    #[test]
    fn sizes_outside_the_frames_are_refused() {
        let frames = FeatureMatrix::new(2, vec![1.0, 0.0]).unwrap();
        assert!(Projection::of_frames(&frames, 0).is_err());
        assert!(Projection::of_frames(&frames, 3).is_err());
        let other = FeatureMatrix::new(3, vec![1.0, 0.0, 0.0]).unwrap();
        let projection = Projection::of_frames(&frames, 1).unwrap();
        assert!(projection.project_matrix(&other).is_err());
    }

    proptest! {
        /// Frames that lie in a subspace keep every dot product when projected onto as many
        /// directions as it has; onto all directions, any frames do (the map is a rotation).
        #[test]
        fn dot_products_are_kept_within_the_frames_subspace(
            basis in proptest::collection::vec(-1.0f32..1.0, 3 * 8),
            weights in proptest::collection::vec(-2.0f32..2.0, 3 * 20),
        ) {
            let basis = &basis;
            let rows: Vec<f32> = weights
                .chunks_exact(3)
                .flat_map(|w| (0..8).map(move |k| (0..3).map(|j| w[j] * basis[j * 8 + k]).sum::<f32>()))
                .collect();
            let frames = FeatureMatrix::new(8, rows).unwrap();
            for output_dim in [3, 8] {
                let projected = Projection::of_frames(&frames, output_dim)
                    .unwrap()
                    .project_matrix(&frames)
                    .unwrap();
                for a in 0..frames.len() {
                    for b in 0..frames.len() {
                        let before = dot(&frames.frame(a), &frames.frame(b));
                        let after = dot(&projected.frame(a), &projected.frame(b));
                        prop_assert!((before - after).abs() <= 1e-3 * (1.0 + before.abs()), "{before} {after}");
                    }
                }
            }
        }
    }
}
