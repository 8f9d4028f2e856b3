//! TorchScript encoders: any model a user brings (`tch::CModule`), fed and checked as its
//! contract ([`ModelContract`]) declares.
//!
//! A model is checked when it is loaded: a batch of two inputs of the declared shape goes
//! through it (one for a stateful model, whose state is then reset), and the output must be
//! `[batch, output_dim]` floating point; otherwise it is refused with the model's name, the
//! expected and the actual shape. Every later batch is checked the same way. Models run under
//! no-grad, in evaluation mode, in batches of at most `max_batch` rows (a stateful model, such
//! as Silero VAD, one window at a time, in order: its batch rows would be separate streams), and
//! on CUDA in half precision when asked (on the CPU half precision is slower than single, so it
//! is not used there).

use std::path::{Path, PathBuf};

use tch::{CModule, Device, IValue, Kind, Tensor};

use super::model_contract::{ChannelOrder, ModelContract};
use super::{AudioFrameParams, EncodeError, ModelMisfit};

/// How a model runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelSettings {
    /// Where it runs.
    pub device: Device,
    /// At most this many rows per forward pass.
    pub max_batch: usize,
    /// Half precision (CUDA only).
    pub half: bool,
}

/// A loaded TorchScript model and its contract.
#[derive(Debug)]
pub struct TorchScriptEncoder {
    path: PathBuf,
    module: CModule,
    contract: ModelContract,
    settings: ModelSettings,
    kind: Kind,
    /// The model file's name and checksum, so that features made by other weights differ.
    name: String,
}

impl TorchScriptEncoder {
    /// Loads the model at `path` with its contract (`path` with `.toml`) and checks it.
    pub fn load(path: &Path, settings: ModelSettings) -> Result<Self, EncodeError> {
        let contract = ModelContract::read_for(path)?;
        let bytes = std::fs::read(path).map_err(|source| EncodeError::ModelUnreadable {
            model: path.to_path_buf(),
            source,
        })?;
        let stem = path.file_stem().map_or_else(
            || "model".to_owned(),
            |s| s.to_string_lossy().chars().take(24).collect(),
        );
        let name = format!("model:{stem}:{:08x}", crc32fast::hash(&bytes));
        let mut module = CModule::load_on_device(path, settings.device).map_err(|source| EncodeError::ModelLoad {
            model: path.to_path_buf(),
            source,
        })?;
        module.set_eval();
        let kind = if settings.half && settings.device.is_cuda() {
            module.to(settings.device, Kind::Half, false);
            Kind::Half
        } else {
            if settings.half {
                tracing::warn!(model = %path.display(), "half precision is for CUDA; on the CPU the model runs in single precision");
            }
            Kind::Float
        };
        let stateful = matches!(contract, ModelContract::Audio { stateful: true, .. });
        let mut encoder = Self {
            path: path.to_path_buf(),
            module,
            contract,
            settings: ModelSettings {
                max_batch: if stateful { 1 } else { settings.max_batch.max(1) },
                ..settings
            },
            kind,
            name,
        };
        encoder.check_with_zeros()?;
        encoder.reset()?;
        Ok(encoder)
    }

    /// The declared contract.
    pub fn contract(&self) -> &ModelContract {
        &self.contract
    }

    /// Values per output row.
    pub fn dim(&self) -> usize {
        self.contract.output_dim()
    }

    /// `model:STEM:CRC32`: names the weights, for reference files.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device the model runs on.
    pub fn device(&self) -> Device {
        self.settings.device
    }

    /// The framing of an audio model's windows.
    pub fn audio_params(&self) -> Option<AudioFrameParams> {
        self.contract.audio_params()
    }

    /// The input shape of `count` rows.
    fn input_shape(&self, count: usize) -> Vec<i64> {
        match &self.contract {
            ModelContract::Audio { window_samples, .. } => vec![count as i64, *window_samples as i64],
            ModelContract::Video {
                width,
                height,
                channels,
                ..
            } => vec![count as i64, channels.channels() as i64, *height as i64, *width as i64],
        }
    }

    /// True when the contract says the model keeps state from one window to the next.
    pub fn is_stateful(&self) -> bool {
        matches!(self.contract, ModelContract::Audio { stateful: true, .. })
    }

    /// Clears a stateful model's state (with its contract's `reset_method`); nothing otherwise.
    pub fn reset(&mut self) -> Result<(), EncodeError> {
        let ModelContract::Audio {
            reset_method: Some(method),
            ..
        } = &self.contract
        else {
            return Ok(());
        };
        self.module
            .method_is::<IValue>(method, &[])
            .map(|_| ())
            .map_err(|source| EncodeError::ModelReset {
                model: self.path.clone(),
                method: method.clone(),
                source,
            })
    }

    fn check_with_zeros(&self) -> Result<(), EncodeError> {
        let rows = self.settings.max_batch.min(2);
        let input = tch::no_grad(|| Tensor::zeros(self.input_shape(rows), (self.kind, self.settings.device)));
        let mut out = Vec::new();
        self.forward_checked(&input, &mut out)
    }

    /// Runs the model on `input` and appends its rows to `out`, checking their shape.
    fn forward_checked(&self, input: &Tensor, out: &mut Vec<f32>) -> Result<(), EncodeError> {
        let count = input.size()[0];
        let refused = |error: tch::TchError| EncodeError::ModelInput {
            model: self.path.clone(),
            input: format!("{:?} {:?}", input.size(), input.kind()),
            message: error.to_string().lines().next().unwrap_or_default().to_owned(),
        };
        let output = match self.contract {
            ModelContract::Audio {
                pass_sample_rate: true,
                sample_rate_hz,
                ..
            } => {
                let arguments = [
                    IValue::Tensor(input.shallow_clone()),
                    IValue::Int(i64::from(sample_rate_hz)),
                ];
                match tch::no_grad(|| self.module.forward_is(&arguments)).map_err(refused)? {
                    IValue::Tensor(output) => output,
                    other => {
                        return Err(EncodeError::ModelOutput {
                            model: self.path.clone(),
                            expected: format!("a [batch, {}] tensor", self.dim()),
                            actual: format!("{other:?}").chars().take(80).collect(),
                        })
                    }
                }
            }
            _ => tch::no_grad(|| self.module.forward_ts(&[input])).map_err(refused)?,
        };
        let dim = self.dim() as i64;
        let floating = matches!(output.kind(), Kind::Float | Kind::Half | Kind::Double | Kind::BFloat16);
        if output.size() != [count, dim] || !floating {
            return Err(EncodeError::ModelOutput {
                model: self.path.clone(),
                expected: format!("[batch, {dim}] floats (here [{count}, {dim}])"),
                actual: format!("{:?} {:?}", output.size(), output.kind()),
            });
        }
        let rows = output.to_device(Device::Cpu).to_kind(Kind::Float).reshape([-1]);
        let values = Vec::<f32>::try_from(&rows).map_err(|source| EncodeError::Torch {
            what: "reading model output back",
            source,
        })?;
        out.extend_from_slice(&values);
        Ok(())
    }

    /// Encodes audio windows (`window_samples` each, row-major) into `dim` values per window.
    pub fn encode_audio(&mut self, windows: &[f32], out: &mut Vec<f32>) -> Result<(), EncodeError> {
        let ModelContract::Audio { window_samples, .. } = self.contract else {
            return Err(self.given_other_input("an audio model"));
        };
        if !windows.len().is_multiple_of(window_samples) {
            return Err(EncodeError::BadInputSize {
                what: "audio windows for the model",
                expected: window_samples,
                actual: windows.len(),
            });
        }
        for batch in windows.chunks(self.settings.max_batch * window_samples) {
            let input = Tensor::f_from_slice(batch)
                .and_then(|t| t.f_view([(batch.len() / window_samples) as i64, window_samples as i64]))
                .map(|t| t.to_device(self.settings.device).to_kind(self.kind))
                .map_err(|source| EncodeError::Torch {
                    what: "moving audio windows to the device",
                    source,
                })?;
            self.forward_checked(&input, out)?;
        }
        Ok(())
    }

    /// Encodes video frames of packed pixels (`width · height` pixels, RGB when the model takes
    /// colour, else greyscale) into `dim` values per frame.
    pub fn encode_video(&mut self, pixels: &[u8], out: &mut Vec<f32>) -> Result<(), EncodeError> {
        let ModelContract::Video {
            width,
            height,
            channels,
            ref mean,
            ref std,
            ..
        } = self.contract
        else {
            return Err(self.given_other_input("a video model"));
        };
        let frame_bytes = width * height * channels.channels();
        if !pixels.len().is_multiple_of(frame_bytes) {
            return Err(EncodeError::BadInputSize {
                what: "video frames for the model",
                expected: frame_bytes,
                actual: pixels.len(),
            });
        }
        let device = self.settings.device;
        let per_channel = |values: &Option<Vec<f32>>, default: f32| -> Result<Tensor, tch::TchError> {
            let values = values.clone().unwrap_or_else(|| vec![default; channels.channels()]);
            Ok(Tensor::f_from_slice(&values)?
                .f_view([1, channels.channels() as i64, 1, 1])?
                .to_device(device))
        };
        for batch in pixels.chunks(self.settings.max_batch * frame_bytes) {
            let count = (batch.len() / frame_bytes) as i64;
            let input = (|| -> Result<Tensor, tch::TchError> {
                let frames = Tensor::f_from_slice(batch)?
                    .f_view([count, height as i64, width as i64, channels.channels() as i64])?
                    .to_device(device)
                    .to_kind(Kind::Float)
                    / 255.0;
                let mut frames = frames.f_permute([0, 3, 1, 2])?;
                if channels == ChannelOrder::Bgr {
                    frames = frames.f_flip([1i64].as_slice())?;
                }
                let normalised = (frames - per_channel(mean, 0.0)?) / per_channel(std, 1.0)?;
                Ok(normalised.f_contiguous()?.to_kind(self.kind))
            })()
            .map_err(|source| EncodeError::Torch {
                what: "preparing video frames for the model",
                source,
            })?;
            self.forward_checked(&input, out)?;
        }
        Ok(())
    }

    /// The error for a use as `role` of a model whose contract declares the other input.
    fn given_other_input(&self, role: &'static str) -> EncodeError {
        EncodeError::ModelMisfit {
            model: self.path.clone(),
            misfit: ModelMisfit::OtherInput {
                role,
                declared: self.contract.input_kind(),
                contract: ModelContract::path_for(&self.path),
            },
        }
    }
}
