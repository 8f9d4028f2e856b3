//! What a TorchScript encoder takes and gives, declared in a small TOML file beside the model
//! (`NAME.toml` for `NAME.pt`), so that warpflow can feed it and check it before a run:
//!
//! ```toml
//! # An audio model: windows of mono samples in, one row per window out.
//! kind = "audio"
//! sample_rate_hz = 16000
//! window_samples = 512
//! hop_samples = 512        # optional, the window by default
//! output_dim = 1
//! pass_sample_rate = true  # optional: forward(x, sample_rate_hz), as Silero VAD takes it
//! stateful = true          # optional: the model carries state from window to window, so
//!                          # windows go one at a time, in order
//! reset_method = "reset_states"  # optional: called to forget that state
//! ```
//!
//! ```toml
//! # A video model: [batch, channels, height, width] floats in, one row per frame out.
//! kind = "video"
//! width = 224
//! height = 224
//! channels = "rgb"         # rgb, bgr or gray
//! mean = [0.485, 0.456, 0.406]   # optional: (value / 255 − mean) / std per channel
//! std = [0.229, 0.224, 0.225]
//! output_dim = 512
//! ```

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{AudioFrameParams, ContractError, ContractProblem, EncodeError};

/// Channel order a video model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    /// Red, green, blue.
    Rgb,
    /// Blue, green, red (OpenCV-trained models).
    Bgr,
    /// One luma channel.
    Gray,
}

impl ChannelOrder {
    /// Channels of the model's input.
    pub fn channels(self) -> usize {
        match self {
            ChannelOrder::Rgb | ChannelOrder::Bgr => 3,
            ChannelOrder::Gray => 1,
        }
    }
}

/// A model's input and output, as declared.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ModelContract {
    /// Windows of mono audio in: `[batch, window_samples]` floats in [-1, 1].
    Audio {
        /// Sample rate the model was trained at.
        sample_rate_hz: u32,
        /// Samples per window.
        window_samples: usize,
        /// Samples between windows (the window by default).
        hop_samples: Option<usize>,
        /// Values per output row.
        output_dim: usize,
        /// Whether `forward` takes the sample rate as a second argument.
        #[serde(default)]
        pass_sample_rate: bool,
        /// Whether the model keeps state from one window to the next.
        #[serde(default)]
        stateful: bool,
        /// The method that clears that state, if any.
        reset_method: Option<String>,
    },
    /// Video frames in: `[batch, channels, height, width]` floats.
    Video {
        /// Frame width.
        width: usize,
        /// Frame height.
        height: usize,
        /// Channel order.
        channels: ChannelOrder,
        /// Per-channel mean subtracted from values in [0, 1] (none by default).
        mean: Option<Vec<f32>>,
        /// Per-channel divisor after the mean (none by default).
        std: Option<Vec<f32>>,
        /// Values per output row.
        output_dim: usize,
    },
}

impl ModelContract {
    /// The input the contract declares, in a word: "audio" or "video".
    pub fn input_kind(&self) -> &'static str {
        match self {
            ModelContract::Audio { .. } => "audio",
            ModelContract::Video { .. } => "video",
        }
    }

    /// Where the contract of the model at `model` is looked for: the same name, `.toml`.
    pub fn path_for(model: &Path) -> PathBuf {
        model.with_extension("toml")
    }

    /// Reads and checks the contract beside `model`.
    pub fn read_for(model: &Path) -> Result<Self, EncodeError> {
        let path = Self::path_for(model);
        Self::read(&path).map_err(|source| EncodeError::Contract {
            model: model.to_path_buf(),
            source,
        })
    }

    /// Reads and checks the contract file at `path`.
    fn read(path: &Path) -> Result<Self, ContractError> {
        read_contract(path, Self::check)
    }

    /// Values per output row.
    pub fn output_dim(&self) -> usize {
        match self {
            ModelContract::Audio { output_dim, .. } | ModelContract::Video { output_dim, .. } => *output_dim,
        }
    }

    /// The framing of an audio model's windows.
    pub fn audio_params(&self) -> Option<AudioFrameParams> {
        match *self {
            ModelContract::Audio {
                sample_rate_hz,
                window_samples,
                hop_samples,
                ..
            } => Some(AudioFrameParams {
                rate_hz: sample_rate_hz,
                frame_len: window_samples,
                hop_len: hop_samples.unwrap_or(window_samples),
                history_len: 0,
            }),
            ModelContract::Video { .. } => None,
        }
    }

    fn check(&self) -> Result<(), ContractProblem> {
        if self.output_dim() == 0 {
            return Err(ContractProblem::NoOutputs);
        }
        match self {
            ModelContract::Audio { .. } => self.audio_params().map_or(Ok(()), |params| {
                params
                    .validate()
                    .map_err(|error| ContractProblem::Framing(Box::new(error)))
            }),
            ModelContract::Video {
                width,
                height,
                channels,
                mean,
                std,
                ..
            } => {
                if *width == 0 || *height == 0 || width * height > 4096 * 4096 {
                    return Err(ContractProblem::FrameSize {
                        width: *width,
                        height: *height,
                    });
                }
                for (name, values) in [("mean", mean), ("std", std)] {
                    if let Some(values) = values {
                        if values.len() != channels.channels() || values.iter().any(|v| !v.is_finite()) {
                            return Err(ContractProblem::Normalisation {
                                name,
                                given: values.len(),
                                expected: channels.channels(),
                            });
                        }
                    }
                }
                if std.as_ref().is_some_and(|std| std.contains(&0.0)) {
                    return Err(ContractProblem::ZeroStd);
                }
                Ok(())
            }
        }
    }
}

/// Reads a contract of type `C` from the file at `path` and checks it with `check`: what every
/// kind of contract (audio, video, sync) does with its file.
pub(super) fn read_contract<C: DeserializeOwned>(
    path: &Path,
    check: impl Fn(&C) -> Result<(), ContractProblem>,
) -> Result<C, ContractError> {
    let text = std::fs::read_to_string(path).map_err(|source| ContractError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    parse_contract(path, &text, check)
}

/// Parses `text`, the contents of the contract file `path` (which errors name), and checks it.
fn parse_contract<C: DeserializeOwned>(
    path: &Path,
    text: &str,
    check: impl Fn(&C) -> Result<(), ContractProblem>,
) -> Result<C, ContractError> {
    let contract: C = toml::from_str(text).map_err(|error| ContractError::NotAContract {
        path: path.to_path_buf(),
        message: error.message().to_owned(),
    })?;
    check(&contract).map_err(|problem| ContractError::Unworkable {
        path: path.to_path_buf(),
        problem,
    })?;
    Ok(contract)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ModelContract, String> {
        parse_contract(Path::new("model.toml"), text, ModelContract::check).map_err(|error| error.to_string())
    }

    #[test]
    fn audio_and_video_contracts_read() {
        let audio = parse("kind = \"audio\"\nsample_rate_hz = 16000\nwindow_samples = 512\noutput_dim = 1\n").unwrap();
        assert_eq!(
            audio.audio_params(),
            Some(AudioFrameParams {
                rate_hz: 16_000,
                frame_len: 512,
                hop_len: 512,
                history_len: 0,
            })
        );
        let video = parse(
            "kind = \"video\"\nwidth = 32\nheight = 24\nchannels = \"bgr\"\nmean = [0.5, 0.5, 0.5]\nstd = [0.25, 0.25, 0.25]\noutput_dim = 8\n",
        )
        .unwrap();
        assert_eq!(video.output_dim(), 8);
        assert_eq!(video.audio_params(), None);
    }

    #[test]
    fn bad_contracts_are_refused_with_the_field() {
        for (text, expected) in [
            (
                "kind = \"audio\"\nsample_rate_hz = 16000\nwindow_samples = 512\n",
                "output_dim",
            ),
            ("kind = \"radio\"\noutput_dim = 1\n", "radio"),
            (
                "kind = \"audio\"\nsample_rate_hz = 16000\nwindow_samples = 512\noutput_dim = 0\n",
                "output_dim",
            ),
            (
                "kind = \"audio\"\nsample_rate_hz = 16000\nwindow_samples = 512\nhop_samples = 0\noutput_dim = 1\n",
                "hop",
            ),
            (
                "kind = \"video\"\nwidth = 32\nheight = 24\nchannels = \"rgb\"\nmean = [0.5]\noutput_dim = 8\n",
                "mean",
            ),
            (
                "kind = \"video\"\nwidth = 32\nheight = 24\nchannels = \"rgb\"\nstd = [1, 0, 1]\noutput_dim = 8\n",
                "std",
            ),
            (
                "kind = \"video\"\nwidth = 0\nheight = 24\nchannels = \"gray\"\noutput_dim = 8\n",
                "frame size",
            ),
            (
                "kind = \"audio\"\nsample_rate_hz = 16000\nwindow_samples = 512\noutput_dim = 1\nextra = 2\n",
                "extra",
            ),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
