//! What every audio encoder of a live run does, built in or brought as a TorchScript model:
//! frames of one framing in, rows of one width out.

use std::fmt;

use tch::Device;

use super::model_contract::ModelContract;
use super::{AudioFeatureEncoder, AudioFeatureKind, AudioFrameParams, EncodeError, TorchScriptEncoder};

/// An audio encoder as the graph and the reference encoding use it.
pub trait AudioEncoder: fmt::Debug {
    /// The features' name, as reference files record it (`logmel`, `model:NAME:CRC`).
    fn name(&self) -> String;
    /// The framing the encoder takes.
    fn params(&self) -> AudioFrameParams;
    /// Values per frame.
    fn dim(&self) -> usize;
    /// Where it runs.
    fn device(&self) -> Device;
    /// Encodes row-major frames into `dim` values each, appended to `features`.
    fn encode(&mut self, frames: &[f32], features: &mut Vec<f32>) -> Result<(), EncodeError>;
    /// Forgets the stream so far, before another recording.
    fn reset(&mut self) -> Result<(), EncodeError>;
    /// True when each frame's features depend on that frame alone, so that one encoder may
    /// encode the frames of several streams in one batch.
    fn is_stateless(&self) -> bool {
        false
    }
    /// The features of silence: one window of zeros, after which the encoder is reset, so a
    /// recording encoded next starts afresh.
    fn silence(&mut self) -> Result<Vec<f32>, EncodeError> {
        let window = vec![0.0; self.params().frame_len];
        let mut features = Vec::with_capacity(self.dim());
        self.encode(&window, &mut features)?;
        self.reset()?;
        Ok(features)
    }
}

impl AudioEncoder for AudioFeatureEncoder {
    fn name(&self) -> String {
        self.kind().to_string()
    }

    fn params(&self) -> AudioFrameParams {
        AudioFeatureEncoder::params(self)
    }

    fn dim(&self) -> usize {
        AudioFeatureEncoder::dim(self)
    }

    fn device(&self) -> Device {
        AudioFeatureEncoder::device(self)
    }

    fn encode(&mut self, frames: &[f32], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        AudioFeatureEncoder::encode(self, frames, features)
    }

    fn reset(&mut self) -> Result<(), EncodeError> {
        AudioFeatureEncoder::reset(self);
        Ok(())
    }

    /// All but `logmel-flux`, whose rise looks back at the previous frame.
    fn is_stateless(&self) -> bool {
        self.kind() != AudioFeatureKind::LogMelFlux
    }
}

/// A TorchScript model with an audio contract, as an audio encoder.
#[derive(Debug)]
pub struct AudioModel {
    model: TorchScriptEncoder,
    params: AudioFrameParams,
}

impl AudioModel {
    /// The model as an audio encoder; refuses a model whose contract is not for audio.
    pub fn new(model: TorchScriptEncoder, path: &std::path::Path) -> Result<Self, EncodeError> {
        match model.audio_params() {
            Some(params) => Ok(Self { model, params }),
            None => Err(EncodeError::ModelContract {
                model: path.to_path_buf(),
                detail: format!(
                    "is given as an audio model, but its contract ({}) declares {}",
                    ModelContract::path_for(path).display(),
                    "video input"
                ),
            }),
        }
    }
}

impl AudioEncoder for AudioModel {
    fn name(&self) -> String {
        self.model.name().to_owned()
    }

    fn params(&self) -> AudioFrameParams {
        self.params
    }

    fn dim(&self) -> usize {
        self.model.dim()
    }

    fn device(&self) -> Device {
        self.model.device()
    }

    fn encode(&mut self, frames: &[f32], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        self.model.encode_audio(frames, features)
    }

    /// Clears a stateful model's state (its contract's `reset_method`).
    fn reset(&mut self) -> Result<(), EncodeError> {
        self.model.reset()
    }

    /// Unless its contract says it keeps state from one window to the next.
    fn is_stateless(&self) -> bool {
        !self.model.is_stateful()
    }
}
