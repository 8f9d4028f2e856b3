//! A SyncNet-style pair of embedders (`sync --sync-model`): one TorchScript module with two
//! methods, `embed_audio` and `embed_video`, whose outputs agree (cosine) where sound and
//! picture belong together. Its contract, `NAME.toml` beside `NAME.pt`:
//!
//! ```toml
//! kind = "sync"
//! sample_rate_hz = 16000
//! audio_window_samples = 3200   # embed_audio takes [batch, 3200] mono samples in [-1, 1]
//! audio_hop_samples = 160       # between audio embeddings: the lags are searched on this grid
//! width = 48                    # embed_video takes [batch, frames · channels, height, width],
//! height = 48                   # luma or RGB in [0, 1], the newest picture last
//! channels = "gray"             # rgb, bgr or gray
//! frames = 5
//! output_dim = 512              # both give [batch, output_dim]
//! sure_margin = 0.3             # optional: how far above the median agreement over all lags
//!                               # the best lag stands when the model is sure (0.3 by default)
//! ```
//!
//! The model is checked when it is loaded: zeros of both declared shapes go through both
//! methods, and each must give `[batch, output_dim]` floats.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tch::{CModule, Device, Kind, Tensor};

use super::model_contract::{read_contract, ChannelOrder, ModelContract};
use super::{AudioFrameParams, ContractError, ContractProblem, EncodeError};

/// The declared contract of a pair of embedders.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncModelContract {
    /// Must be `"sync"`.
    pub kind: String,
    /// Sample rate of the audio windows.
    pub sample_rate_hz: u32,
    /// Samples each audio embedding hears.
    pub audio_window_samples: usize,
    /// Samples between audio embeddings.
    pub audio_hop_samples: usize,
    /// Picture width.
    pub width: usize,
    /// Picture height.
    pub height: usize,
    /// Channel order of the pictures.
    pub channels: ChannelOrder,
    /// Pictures per video embedding.
    pub frames: usize,
    /// Values per embedding.
    pub output_dim: usize,
    /// Agreement above the median over the lags at which the model is sure.
    pub sure_margin: Option<f64>,
}

impl SyncModelContract {
    /// The framing of the audio windows.
    pub fn audio_params(&self) -> AudioFrameParams {
        AudioFrameParams {
            rate_hz: self.sample_rate_hz,
            frame_len: self.audio_window_samples,
            hop_len: self.audio_hop_samples,
            history_len: 0,
        }
    }

    /// Reads and checks the contract beside `model`.
    pub fn read_for(model: &Path) -> Result<Self, EncodeError> {
        let path = ModelContract::path_for(model);
        Self::read(&path).map_err(|source| EncodeError::Contract {
            model: model.to_path_buf(),
            source,
        })
    }

    /// Reads and checks the sync contract file at `path`.
    fn read(path: &Path) -> Result<Self, ContractError> {
        read_contract(path, Self::check)
    }

    fn check(&self) -> Result<(), ContractProblem> {
        if self.kind != "sync" {
            return Err(ContractProblem::NotSync {
                kind: self.kind.clone(),
            });
        }
        self.audio_params()
            .validate()
            .map_err(|error| ContractProblem::Framing(Box::new(error)))?;
        if self.width == 0 || self.height == 0 || self.width * self.height > 4096 * 4096 {
            return Err(ContractProblem::FrameSize {
                width: self.width,
                height: self.height,
            });
        }
        if self.frames == 0 || self.frames > 64 || self.output_dim == 0 {
            return Err(ContractProblem::SyncShape {
                frames: self.frames,
                output_dim: self.output_dim,
            });
        }
        if self.sure_margin.is_some_and(|m| !(m.is_finite() && m > 0.0)) {
            return Err(ContractProblem::SureMargin);
        }
        Ok(())
    }
}

/// A loaded pair of embedders.
#[derive(Debug)]
pub struct SyncModel {
    path: PathBuf,
    module: CModule,
    contract: SyncModelContract,
    device: Device,
}

impl SyncModel {
    /// Loads the model at `path` with its contract and checks both methods.
    pub fn load(path: &Path, device: Device) -> Result<Self, EncodeError> {
        let contract = SyncModelContract::read_for(path)?;
        let mut module = CModule::load_on_device(path, device).map_err(|source| EncodeError::ModelLoad {
            model: path.to_path_buf(),
            source,
        })?;
        module.set_eval();
        let model = Self {
            path: path.to_path_buf(),
            module,
            contract,
            device,
        };
        let (mut audio, mut video) = (Vec::new(), Vec::new());
        model.embed_audio(&vec![0.0; 2 * model.contract.audio_window_samples], &mut audio)?;
        model.embed_video(&vec![0.0; 2 * model.video_input_len()], &mut video)?;
        Ok(model)
    }

    /// The declared contract.
    pub fn contract(&self) -> &SyncModelContract {
        &self.contract
    }

    /// Floats in one video input: `frames · channels · height · width`.
    pub fn video_input_len(&self) -> usize {
        let c = &self.contract;
        c.frames * c.channels.channels() * c.height * c.width
    }

    /// Appends the embeddings of whole audio windows (`audio_window_samples` each) to `out`.
    pub fn embed_audio(&self, windows: &[f32], out: &mut Vec<f32>) -> Result<(), EncodeError> {
        self.run(
            "embed_audio",
            windows,
            &[self.contract.audio_window_samples as i64],
            out,
        )
    }

    /// Appends the embeddings of whole video inputs (`frames` pictures each, packed as
    /// `[frames · channels, height, width]` floats in [0, 1], the newest picture last) to `out`.
    pub fn embed_video(&self, inputs: &[f32], out: &mut Vec<f32>) -> Result<(), EncodeError> {
        let c = &self.contract;
        let shape = [
            (c.frames * c.channels.channels()) as i64,
            c.height as i64,
            c.width as i64,
        ];
        self.run("embed_video", inputs, &shape, out)
    }

    /// Appends, for each whole frame of `pixels` (packed, of `size`), the picture the video
    /// embedder takes: the part of the frame inside its box in `boxes` (a face model's
    /// `[x, y, width, height, score]` per frame, when there is one) or the whole frame, brought
    /// to the contract's channels and size, as `channels · height · width` floats in [0, 1].
    pub fn pictures(
        &self,
        pixels: &[u8],
        size: super::FrameSize,
        boxes: Option<&[[f32; 5]]>,
        out: &mut Vec<f32>,
    ) -> Result<(), EncodeError> {
        let per_frame = size.width * size.height * size.channels;
        if per_frame == 0 || !matches!(size.channels, 1 | 3) || !pixels.len().is_multiple_of(per_frame) {
            return Err(EncodeError::BadInputSize {
                what: "frame data for the sync model (whole greyscale or RGB frames)",
                expected: per_frame.max(1),
                actual: pixels.len(),
            });
        }
        let c = &self.contract;
        let (height, width) = (c.height as i64, c.width as i64);
        let torch = |what: &'static str| move |source| EncodeError::Torch { what, source };
        for (index, frame) in pixels.chunks_exact(per_frame).enumerate() {
            let picture = tch::no_grad(|| -> Result<Tensor, EncodeError> {
                let frame = Tensor::f_from_slice(frame)
                    .and_then(|t| t.f_view([size.height as i64, size.width as i64, size.channels as i64]))
                    .map(|t| t.to_kind(Kind::Float) / 255.0)
                    .map_err(torch("reading a frame for the sync model"))?;
                let (x, y, w, h) = match boxes.and_then(|b| b.get(index)) {
                    Some(&[x, y, w, h, score]) if score >= crate::features::FACE_MIN_SCORE && w > 0.0 && h > 0.0 => {
                        let (fw, fh) = (size.width as f32, size.height as f32);
                        let left = (x.clamp(0.0, 1.0) * fw).floor() as i64;
                        let top = (y.clamp(0.0, 1.0) * fh).floor() as i64;
                        let right = ((x + w).clamp(0.0, 1.0) * fw).ceil().max(left as f32 + 1.0) as i64;
                        let bottom = ((y + h).clamp(0.0, 1.0) * fh).ceil().max(top as f32 + 1.0) as i64;
                        (
                            left.min(size.width as i64 - 1),
                            top.min(size.height as i64 - 1),
                            right.min(size.width as i64),
                            bottom.min(size.height as i64),
                        )
                    }
                    _ => (0, 0, size.width as i64, size.height as i64),
                };
                let crop = frame
                    .f_narrow(0, y, h - y)
                    .and_then(|f| f.f_narrow(1, x, w - x))
                    .map_err(torch("cropping the face"))?;
                let channels = match (c.channels, size.channels) {
                    (ChannelOrder::Gray, 3) => crop
                        .f_matmul(&Tensor::from_slice(&[0.299f32, 0.587, 0.114]))
                        .and_then(|l| l.f_unsqueeze(2)),
                    (ChannelOrder::Rgb, 1) | (ChannelOrder::Bgr, 1) => crop.f_repeat([1, 1, 3]),
                    (ChannelOrder::Bgr, 3) => crop.f_flip([2]),
                    _ => Ok(crop),
                }
                .map_err(torch("bringing the picture to the sync model's channels"))?;
                channels
                    .f_permute([2, 0, 1])
                    .and_then(|p| p.f_unsqueeze(0))
                    .and_then(|p| p.f_adaptive_avg_pool2d([height, width]))
                    .and_then(|p| p.f_reshape([-1]))
                    .map_err(torch("scaling the picture for the sync model"))
            })?;
            out.extend(Vec::<f32>::try_from(&picture).map_err(torch("reading the picture back"))?);
        }
        Ok(())
    }

    fn run(&self, method: &str, values: &[f32], row_shape: &[i64], out: &mut Vec<f32>) -> Result<(), EncodeError> {
        let row: i64 = row_shape.iter().product();
        if row == 0 || values.len() as i64 % row != 0 {
            return Err(EncodeError::BadInputSize {
                what: "sync model input",
                expected: row.max(1) as usize,
                actual: values.len(),
            });
        }
        let count = values.len() as i64 / row;
        if count == 0 {
            return Ok(());
        }
        let mut shape = vec![count];
        shape.extend_from_slice(row_shape);
        let input = Tensor::from_slice(values).view(shape.as_slice()).to_device(self.device);
        let output =
            tch::no_grad(|| self.module.method_ts(method, &[input])).map_err(|error| EncodeError::ModelInput {
                model: self.path.clone(),
                input: format!("{method} of {shape:?}"),
                message: error.to_string().lines().next().unwrap_or_default().to_owned(),
            })?;
        let dim = self.contract.output_dim as i64;
        let floating = matches!(output.kind(), Kind::Float | Kind::Half | Kind::Double | Kind::BFloat16);
        if output.size() != [count, dim] || !floating {
            return Err(EncodeError::ModelOutput {
                model: self.path.clone(),
                expected: format!("{method} giving [batch, {dim}] floats (here [{count}, {dim}])"),
                actual: format!("{:?} {:?}", output.size(), output.kind()),
            });
        }
        let rows = output.to_device(Device::Cpu).to_kind(Kind::Float).reshape([-1]);
        out.extend(Vec::<f32>::try_from(&rows).map_err(|source| EncodeError::Torch {
            what: "reading embeddings back",
            source,
        })?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(text: &str) -> Result<SyncModelContract, EncodeError> {
        let dir = tempfile::tempdir().expect("temporary folder");
        let model = dir.path().join("pair.pt");
        std::fs::write(ModelContract::path_for(&model), text).expect("writing the contract");
        SyncModelContract::read_for(&model)
    }

    const GOOD: &str = "kind = \"sync\"\nsample_rate_hz = 16000\naudio_window_samples = 3200\n\
                        audio_hop_samples = 160\nwidth = 48\nheight = 48\nchannels = \"gray\"\nframes = 5\n\
                        output_dim = 512\n";

    #[test]
    fn a_sync_contract_reads_and_bad_ones_name_the_field() {
        let good = contract(GOOD).expect("a good contract");
        assert_eq!(good.audio_params().hop_len, 160);
        assert_eq!(good.sure_margin, None);
        for (text, expected) in [
            (GOOD.replace("\"sync\"", "\"video\""), "kind"),
            (GOOD.replace("frames = 5", "frames = 0"), "frames"),
            (GOOD.replace("audio_hop_samples = 160", "audio_hop_samples = 0"), "hop"),
            (format!("{GOOD}sure_margin = -1\n"), "sure_margin"),
            (format!("{GOOD}extra = 1\n"), "extra"),
        ] {
            let error = contract(&text).expect_err(expected).to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }
}
