//! Errors of the encoders.

use thiserror::Error;

/// What can go wrong while encoding.
#[derive(Debug, Error)]
pub enum EncodeError {
    /// libtorch refused an operation.
    #[error("libtorch failed while {what}: {source}")]
    Torch {
        /// What the encoder was doing.
        what: &'static str,
        /// libtorch's own error.
        source: tch::TchError,
    },
    /// The `--device` value is not understood.
    #[error("device '{text}' is not understood; expected 'auto', 'cpu', 'cuda' or 'cuda:N'")]
    BadDevice {
        /// The value as given.
        text: String,
    },
    /// CUDA was asked for but libtorch sees no such GPU.
    #[error(
        "device cuda:{index} was asked for, but libtorch sees {available} CUDA device(s); use --device cpu or auto"
    )]
    CudaUnavailable {
        /// The index asked for.
        index: usize,
        /// How many devices libtorch sees.
        available: usize,
    },
    /// CUDA was asked for but libtorch's CUDA library did not open.
    #[error(
        "device cuda:{index} was asked for, but libtorch's CUDA library did not open ({why}); a CPU-only libtorch has none: use --device cpu or auto"
    )]
    CudaLibraryUnopened {
        /// The index asked for.
        index: usize,
        /// The loader's reason.
        why: String,
    },
    /// Input data whose size does not match the encoder's settings.
    #[error("{what} has {actual} values, expected a multiple of {expected}")]
    BadInputSize {
        /// Which input.
        what: &'static str,
        /// The size a unit of input must have.
        expected: usize,
        /// The size given.
        actual: usize,
    },
    /// Encoder settings that cannot work.
    #[error("encoder setting {name} is {value}, expected {expected}")]
    BadParameter {
        /// Setting name.
        name: &'static str,
        /// Value given.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// A model's contract file is missing, unreadable, or declares what cannot work.
    #[error("model {}: {source}", model.display())]
    Contract {
        /// The model file.
        model: std::path::PathBuf,
        /// What is wrong with its contract.
        source: super::ContractError,
    },
    /// A model that does not fit the use it is put to.
    #[error("model {}: {misfit}", model.display())]
    ModelMisfit {
        /// The model file.
        model: std::path::PathBuf,
        /// How it does not fit.
        misfit: super::ModelMisfit,
    },
    /// A model file that cannot be read.
    #[error("model {}: cannot read it: {source}", model.display())]
    ModelUnreadable {
        /// The model file.
        model: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The model's `reset_method` failed when called.
    #[error("model {}: reset_method '{method}' failed: {}", model.display(), first_line(source))]
    ModelReset {
        /// The model file.
        model: std::path::PathBuf,
        /// The method the contract names.
        method: String,
        /// libtorch's own error (its first line is shown; the rest is a C++ backtrace).
        source: tch::TchError,
    },
    /// A file is not a TorchScript module libtorch can load.
    #[error("model {}: not a TorchScript module libtorch can load ({source}); export it with torch.jit.script or torch.jit.trace and .save()", model.display())]
    ModelLoad {
        /// The model file.
        model: std::path::PathBuf,
        /// libtorch's own error.
        source: tch::TchError,
    },
    /// A model refused input made as its contract says.
    #[error("model {} refused input {input} as its contract declares it: {message}", model.display())]
    ModelInput {
        /// The model file.
        model: std::path::PathBuf,
        /// The input's shape and type.
        input: String,
        /// What the model said.
        message: String,
    },
    /// A model's output is not what its contract declares.
    #[error("model {} gives {actual}; expected {expected}", model.display())]
    ModelOutput {
        /// The model file.
        model: std::path::PathBuf,
        /// The declared output.
        expected: String,
        /// What came out.
        actual: String,
    },
}

/// Tags a libtorch error with what the encoder was doing.
pub(crate) fn torch(what: &'static str) -> impl FnOnce(tch::TchError) -> EncodeError {
    move |source| EncodeError::Torch { what, source }
}

/// The first line of libtorch's error: the message, without the C++ backtrace after it.
fn first_line(error: &tch::TchError) -> String {
    error.to_string().lines().next().unwrap_or_default().to_owned()
}
