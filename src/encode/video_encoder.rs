//! What every video encoder of a run does, built in or brought as a TorchScript model: frames of
//! one size and pixel layout in, rows of one width out.

use std::fmt;
use std::path::Path;

use super::model_contract::{ChannelOrder, ModelContract};
use super::{
    EncodeError, ModelMisfit, PixelLayout, TorchScriptEncoder, VideoFeature, VideoFeatureEncoder, VideoFrameFormat,
};

/// A video encoder as the graph and the reference encoding use it.
pub trait VideoEncoder: fmt::Debug {
    /// The features' name, as reference files record it (`thumbnail:16`, `model:NAME:CRC`).
    fn name(&self) -> String;
    /// The frames it takes.
    fn format(&self) -> VideoFrameFormat;
    /// Values per frame.
    fn dim(&self) -> usize;
    /// Encodes whole frames of packed pixels into `dim` values each, appended to `features`.
    fn encode(&mut self, pixels: &[u8], features: &mut Vec<f32>) -> Result<(), EncodeError>;
    /// Forgets the stream so far, before another recording.
    fn reset(&mut self);
    /// True when each frame's features depend on that frame alone, so that one encoder may
    /// encode the frames of several streams in one batch.
    fn is_stateless(&self) -> bool {
        false
    }
}

impl VideoEncoder for VideoFeatureEncoder {
    fn name(&self) -> String {
        self.feature().to_string()
    }

    fn format(&self) -> VideoFrameFormat {
        VideoFeatureEncoder::format(self)
    }

    fn dim(&self) -> usize {
        VideoFeatureEncoder::dim(self)
    }

    fn encode(&mut self, pixels: &[u8], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        VideoFeatureEncoder::encode(self, pixels, features)
    }

    fn reset(&mut self) {
        VideoFeatureEncoder::reset(self);
    }

    /// All but motion energy, which compares each frame with the one before.
    fn is_stateless(&self) -> bool {
        !matches!(self.feature(), VideoFeature::MotionEnergy { .. })
    }
}

/// A TorchScript model with a video contract, as a video encoder: it takes RGB frames (the
/// model's own channel order is made on the device) or greyscale ones, at the contract's size.
#[derive(Debug)]
pub struct VideoModel {
    model: TorchScriptEncoder,
    format: VideoFrameFormat,
}

impl VideoModel {
    /// The model as a video encoder; refuses a model whose contract is not for video.
    pub fn new(model: TorchScriptEncoder, path: &Path) -> Result<Self, EncodeError> {
        let format = match *model.contract() {
            ModelContract::Video {
                width,
                height,
                channels,
                ..
            } => VideoFrameFormat {
                width,
                height,
                layout: if channels == ChannelOrder::Gray {
                    PixelLayout::Gray
                } else {
                    PixelLayout::Rgb
                },
            },
            ModelContract::Audio { .. } => {
                return Err(EncodeError::ModelMisfit {
                    model: path.to_path_buf(),
                    misfit: ModelMisfit::OtherInput {
                        role: "a video model",
                        declared: "audio",
                        contract: ModelContract::path_for(path),
                    },
                })
            }
        };
        Ok(Self { model, format })
    }
}

impl VideoEncoder for VideoModel {
    fn name(&self) -> String {
        self.model.name().to_owned()
    }

    fn format(&self) -> VideoFrameFormat {
        self.format
    }

    fn dim(&self) -> usize {
        self.model.dim()
    }

    fn encode(&mut self, pixels: &[u8], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        self.model.encode_video(pixels, features)
    }

    /// Models are taken as stateless: each frame is encoded on its own.
    fn reset(&mut self) {}

    /// A video model's contract declares no state.
    fn is_stateless(&self) -> bool {
        true
    }
}
