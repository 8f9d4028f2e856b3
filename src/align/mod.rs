//! Alignment algorithms: online time warping, exact DTW, the A/V lag estimator and the
//! distance kernels they share.
//!
//! This module is pure Rust on purpose: it imports nothing of GStreamer, libtorch or timely,
//! so it can be tested, fuzzed and benchmarked alone. Its inputs are feature vectors (`&[f32]`)
//! and envelope samples with times in nanoseconds; its outputs are positions and offsets.

mod distance;
mod dtw;
mod error;
mod features;
mod lag;
mod oltw;

pub use distance::{cosine_distance, euclidean_distance, Distance};
pub use dtw::{full_dtw, DtwResult};
pub use error::AlignError;
pub use features::FeatureMatrix;
pub use lag::{AvLagEstimator, LagConfig, LagEstimate};
pub use oltw::{OltwConfig, OnlineTimeWarper, TrackedPosition};

/// Step weights of the DTW recursion shared by [`full_dtw`] and [`OnlineTimeWarper`]:
/// a horizontal or vertical step costs the local distance once, a diagonal step twice, so every
/// path from (0, 0) to (i, j) carries the same total weight `i + j + 1` and costs of paths of
/// different lengths can be compared after dividing by it (Dixon 2005).
pub(crate) const DIAGONAL_WEIGHT: f32 = 2.0;
