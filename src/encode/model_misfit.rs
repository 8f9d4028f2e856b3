//! Why a model whose contract is sound still cannot serve where it is put: it takes another
//! input than the use gives it, or gives another output than the use reads.

use std::path::PathBuf;

/// A model that does not fit its use.
#[derive(Debug, thiserror::Error)]
pub enum ModelMisfit {
    /// The use gives it another kind of input than its contract declares.
    #[error("is given as {role}, but its contract ({}) declares {declared} input", contract.display())]
    OtherInput {
        /// What the use takes it for: "an audio model", "a video model", "a face model".
        role: &'static str,
        /// The input its contract declares: "audio" or "video".
        declared: &'static str,
        /// The contract file.
        contract: PathBuf,
    },
    /// A face model whose output is not a box and a score.
    #[error(
        "a face model gives {expected} values per picture ([x, y, width, height, score]); its contract declares output_dim = {declared}"
    )]
    FaceOutputs {
        /// Values a face model gives.
        expected: usize,
        /// `output_dim` of the contract.
        declared: usize,
    },
    /// A speech model that does not give one probability per window at the rate sync hears.
    #[error(
        "a speech model gives one value per window (the probability of speech) of {expected_rate_hz} Hz audio; its contract declares output_dim = {output_dim} and sample_rate_hz = {rate_hz}"
    )]
    SpeechShape {
        /// `output_dim` of the contract.
        output_dim: usize,
        /// `sample_rate_hz` of the contract.
        rate_hz: u32,
        /// The rate sync captures audio at.
        expected_rate_hz: u32,
    },
    /// A sync model that hears audio at another rate than sync captures.
    #[error("a sync model hears {expected_rate_hz} Hz audio, as sync captures it; its contract declares sample_rate_hz = {rate_hz}")]
    SyncRate {
        /// `sample_rate_hz` of the contract.
        rate_hz: u32,
        /// The rate sync captures audio at.
        expected_rate_hz: u32,
    },
}
