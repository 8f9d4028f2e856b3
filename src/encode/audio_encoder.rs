//! What every audio encoder of a live run does, built in or brought as a TorchScript model:
//! frames of one framing in, rows of one width out.

use std::fmt;

use tch::Device;

use super::model_contract::ModelContract;
use super::{AudioFeatureEncoder, AudioFeatureKind, AudioFrameParams, EncodeError, ModelMisfit, TorchScriptEncoder};
use crate::features::PitchLayout;

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
    /// The encoder in two parts, for one that keeps state: one with no memory of its stream,
    /// which the streams of a worker may share, and what each stream does to its rows after it;
    /// `None` when it does not come apart.
    fn split_for_sharing(&self) -> Result<Option<SharedAndPerStream>, EncodeError> {
        Ok(None)
    }
    /// How the rows lay out pitch, for features on which a transposition can be found and
    /// undone; `None` for the others.
    fn pitch_layout(&self) -> Option<PitchLayout> {
        None
    }
    /// The features of silence: one window of zeros, after which the encoder is reset, so a
    /// recording encoded next starts afresh.
    fn silence(&mut self) -> Result<Vec<f32>, EncodeError> {
        let window = vec![0.0; self.params().span_len()];
        let mut features = Vec::with_capacity(self.dim());
        self.encode(&window, &mut features)?;
        self.reset()?;
        Ok(features)
    }
}

/// What one stream does to the rows of an encoder shared with other streams, before they are
/// its features: the part of an encoder that remembers the stream.
pub trait StreamRows: fmt::Debug {
    /// Values per row out.
    fn dim(&self) -> usize;
    /// Turns the shared encoder's `rows` (consecutive frames of this stream, across calls) into
    /// this stream's rows, appended to `out`.
    fn push_rows(&mut self, rows: &[f32], out: &mut Vec<f32>);
    /// Forgets the stream so far.
    fn reset(&mut self);
}

/// An encoder taken apart for sharing (see [`AudioEncoder::split_for_sharing`]): `shared`
/// followed by `per_stream` gives the features the whole encoder gives.
#[derive(Debug)]
pub struct SharedAndPerStream {
    /// The stateless part, which several streams may share.
    pub shared: Box<dyn AudioEncoder>,
    /// The part each stream keeps, after it.
    pub per_stream: Box<dyn StreamRows>,
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

    /// All but `logmel-flux` and the semitone fluxes, whose rise looks back at the previous
    /// frame.
    fn is_stateless(&self) -> bool {
        !matches!(
            self.kind(),
            AudioFeatureKind::LogMelFlux | AudioFeatureKind::SemitoneFlux | AudioFeatureKind::SemitoneFluxLows
        )
    }

    /// `logmel-flux` and the semitone fluxes come apart into bands and each stream's rise.
    fn split_for_sharing(&self) -> Result<Option<SharedAndPerStream>, EncodeError> {
        AudioFeatureEncoder::split_for_sharing(self)
    }

    fn pitch_layout(&self) -> Option<PitchLayout> {
        AudioFeatureEncoder::pitch_layout(self)
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
            None => Err(EncodeError::ModelMisfit {
                model: path.to_path_buf(),
                misfit: ModelMisfit::OtherInput {
                    role: "an audio model",
                    declared: "video",
                    contract: ModelContract::path_for(path),
                },
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
