//! Encoders: audio windows and video frames turned into feature vectors with libtorch.
//!
//! Every encoder works on a batch — many frames in one tensor — on the device chosen with
//! [`DeviceChoice`], under no-grad, and hands back plain `Vec<f32>` rows for the aligner.
//! Built-in encoders are DSP written as tensor ops (FFT, mel and chroma filterbanks, flux);
//! they need no weights. This module owns tensors and devices; it knows nothing of GStreamer
//! or of the graph, and it does no alignment.

mod audio_encoder;
mod audio_features;
mod chroma;
mod contract_error;
mod cuda_library;
mod dct;
mod device;
mod error;
mod framing;
mod level_and_rise;
mod log_bands;
mod mapped_file;
mod mel;
mod model;
mod model_contract;
mod model_misfit;
mod onset;
mod picture_change;
mod reference_file;
mod semitone;
mod spectral;
mod spectrum;
mod sync_model;
mod video_encoder;
mod video_features;

pub use audio_encoder::{AudioEncoder, AudioModel, SharedAndPerStream, StreamRows};
pub use audio_features::{AudioFeatureEncoder, AudioFeatureKind};
pub use contract_error::{ContractError, ContractProblem};
pub use device::{encode_on_calling_threads, DeviceChoice};
pub use error::EncodeError;
pub use framing::{AudioFrameParams, AudioFramer};
pub use level_and_rise::LevelAndRise;
pub use log_bands::{Filterbank, LogBands};
pub use mapped_file::MappedFile;
pub use model::{ModelSettings, TorchScriptEncoder};
pub use model_contract::{ChannelOrder, ModelContract};
pub use model_misfit::ModelMisfit;
pub use onset::{OnsetEnvelope, SpectralFlux};
pub use picture_change::{FrameSize, PictureChange, PictureRows};
pub use reference_file::{ReferenceFile, ReferenceFileError, SampleFormat};
pub use spectral::{SpectralEncoder, SpectralFeature};
pub use sync_model::{SyncModel, SyncModelContract};
pub use video_encoder::{VideoEncoder, VideoModel};
pub use video_features::{PixelLayout, VideoFeature, VideoFeatureEncoder, VideoFrameFormat};

/// Power spectra are compressed as `ln(1 + LOG_GAIN · power)`: zero for silence, close to a
/// decibel scale for sound, and never negative, which keeps cosine distances meaningful.
pub(crate) const LOG_GAIN: f64 = 100.0;
