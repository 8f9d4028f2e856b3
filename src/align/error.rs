//! Errors of the alignment algorithms.

use thiserror::Error;

use crate::features::FeatureValuesError;

/// What can be wrong with the input of an aligner.
#[derive(Debug, Error, PartialEq)]
pub enum AlignError {
    /// A feature vector did not have the dimension the aligner was built with.
    #[error("feature vector has {actual} values, expected {expected} (the reference's dimension)")]
    DimensionMismatch {
        /// Dimension the aligner expects.
        expected: usize,
        /// Dimension it got.
        actual: usize,
    },
    /// Feature values were not whole frames.
    #[error(transparent)]
    Features(#[from] FeatureValuesError),
    /// The reference has no frames.
    #[error("the reference has no feature frames; it must hold at least one")]
    EmptyReference,
    /// A configuration value is out of its range.
    #[error("{name} must be {expected}, got {actual}")]
    BadParameter {
        /// Parameter name.
        name: &'static str,
        /// The accepted range, in words.
        expected: &'static str,
        /// The value given.
        actual: String,
    },
}
