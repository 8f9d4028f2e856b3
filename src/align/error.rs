//! Errors of the alignment algorithms.

use thiserror::Error;

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
    /// A feature matrix was built from data whose length is not a multiple of the dimension.
    #[error("feature data of {len} values is not a whole number of {dim}-dimensional frames")]
    RaggedFeatures {
        /// Number of values given.
        len: usize,
        /// Dimension asked for.
        dim: usize,
    },
    /// Int8 feature data did not come with one scale per frame.
    #[error("int8 feature data of {frames} frames came with {scales} scales, expected one per frame")]
    MissingScales {
        /// Frames in the data.
        frames: usize,
        /// Scales given.
        scales: usize,
    },
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
