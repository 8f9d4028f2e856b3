//! Errors of a run, from any stage of the graph.

use thiserror::Error;

use crate::align::AlignError;
use crate::config::ConfigError;
use crate::encode::{EncodeError, ReferenceFileError};
use crate::media::MediaError;

/// Why a run stopped early.
#[derive(Debug, Error)]
pub enum FlowError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Capture failed or the source is unusable.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// An encoder failed or is misconfigured.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// An aligner refused its input or settings.
    #[error(transparent)]
    Align(#[from] AlignError),
    /// Events could not be written out.
    #[error("cannot write events: {0}")]
    Output(#[from] std::io::Error),
    /// A reference file could not be read or written, or was made otherwise than the run.
    #[error("{path}: {source}")]
    ReferenceFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        source: ReferenceFileError,
    },
    /// A stream of a dataflow many streams share failed (its source, its encoder, its aligner).
    #[error("{reason}")]
    SharedStream {
        /// What its `error` event said, naming the input at fault.
        reason: String,
    },
    /// Records reached an operator on a worker that does not hold their stream: a fault of the
    /// run's placement, never of the input.
    #[error("records reached {operator} on a worker that does not hold their stream")]
    NotHeld {
        /// The operator they reached.
        operator: &'static str,
    },
    /// A reference file could not be read or written.
    #[error("{path}: {source}")]
    ReferenceFileIo {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

impl FlowError {
    /// True when the user's input is at fault (exit code 2) rather than the run (exit code 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            FlowError::Config(_) | FlowError::Align(_) => true,
            FlowError::Media(error) => error.is_bad_input(),
            FlowError::Encode(error) => !matches!(error, EncodeError::Torch { .. }),
            FlowError::Output(_) | FlowError::NotHeld { .. } | FlowError::SharedStream { .. } => false,
            FlowError::ReferenceFile { .. } | FlowError::ReferenceFileIo { .. } => true,
        }
    }
}
