//! What can be wrong with a model's contract (the TOML file beside a TorchScript model): the
//! file cannot be read, is not the TOML of a contract, or declares something that cannot work.

use std::path::PathBuf;

use super::EncodeError;

/// A contract file that cannot serve its model.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The file is missing or unreadable.
    #[error("cannot read its contract {}: {source}", path.display())]
    Unreadable {
        /// The contract file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not the TOML of a contract (a field missing, unknown or of the wrong type).
    #[error("{}: {message}", path.display())]
    NotAContract {
        /// The contract file.
        path: PathBuf,
        /// The TOML reader's account, naming the field.
        message: String,
    },
    /// It parses, but declares something that cannot work.
    #[error("{}: {problem}", path.display())]
    Unworkable {
        /// The contract file.
        path: PathBuf,
        /// What cannot work.
        problem: ContractProblem,
    },
}

/// A declaration of a contract that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ContractProblem {
    /// No output values.
    #[error("output_dim is 0; expected at least 1")]
    NoOutputs,
    /// An audio framing the framer cannot cut.
    #[error("{0}")]
    Framing(#[source] Box<EncodeError>),
    /// A picture size out of range.
    #[error("frame size {width}x{height}; expected 1x1 to 4096x4096")]
    FrameSize {
        /// Declared width.
        width: usize,
        /// Declared height.
        height: usize,
    },
    /// `mean` or `std` that does not give one finite value per channel.
    #[error("{name} has {given} values; expected {expected} finite ones, one per channel")]
    Normalisation {
        /// `mean` or `std`.
        name: &'static str,
        /// Values given.
        given: usize,
        /// Channels.
        expected: usize,
    },
    /// A `std` of 0.
    #[error("std holds a 0; expected divisors other than 0")]
    ZeroStd,
    /// A sync contract that declares another kind.
    #[error("kind = \"{kind}\"; a sync model declares kind = \"sync\"")]
    NotSync {
        /// The kind declared.
        kind: String,
    },
    /// A sync model's frames or outputs out of range.
    #[error("frames = {frames} and output_dim = {output_dim}; expected 1 to 64 frames and at least one value")]
    SyncShape {
        /// Frames per embedding.
        frames: usize,
        /// Values per embedding.
        output_dim: usize,
    },
    /// A `sure_margin` that is not above 0.
    #[error("sure_margin must be above 0")]
    SureMargin,
}
