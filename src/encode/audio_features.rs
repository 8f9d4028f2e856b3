//! Frame features for following a reference: log-mel (with or without its rise) or chroma
//! vectors of unit length.

use std::fmt;
use std::str::FromStr;

use tch::{Device, Tensor};

use super::audio_encoder::{AudioEncoder, SharedAndPerStream, StreamRows};
use super::chroma::chroma_filterbank;
use super::device::in_audio_passes;
use super::error::torch;
use super::level_and_rise::LevelAndRise;
use super::mel::LogMel;
use super::onset::LogMelBands;
use super::spectrum::PowerSpectrum;
use super::{AudioFrameParams, EncodeError, LOG_GAIN};

/// Which audio features `follow` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudioFeatureKind {
    /// Log-mel spectrum (timbre and pitch together).
    LogMel,
    /// Chroma (pitch classes only); robust to instrumentation changes.
    Chroma,
    /// Log-mel spectrum with its rise since the previous frame (the half-wave rectified
    /// spectral difference Dixon's tracker used), which marks note onsets sharply in time: the
    /// default, as positions then keep up where the tempo changes.
    #[default]
    LogMelFlux,
}

impl FromStr for AudioFeatureKind {
    type Err = EncodeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "logmel" => Ok(Self::LogMel),
            "chroma" => Ok(Self::Chroma),
            "logmel-flux" => Ok(Self::LogMelFlux),
            _ => Err(EncodeError::BadParameter {
                name: "--audio-features",
                value: text.to_owned(),
                expected: "'logmel', 'logmel-flux' or 'chroma'",
            }),
        }
    }
}

impl fmt::Display for AudioFeatureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::LogMel => "logmel",
            Self::Chroma => "chroma",
            Self::LogMelFlux => "logmel-flux",
        })
    }
}

/// Added to every compressed value before a row is scaled to unit length. Silence then points
/// the flat way (every value alike) instead of being a zero row, which is equally far from
/// everything: a live pause full of faint noise matches a reference pause of digital silence
/// better than it matches sound, and quiet passages weigh less than loud ones. Measured with
/// `./scripts/eval.sh` (logmel): tempo cases 61.8 → 69.0% of events within 50 ms (provisional),
/// 96.3 → 97.9% (final); 0.3 and 2 to 4 did about as well.
const SILENCE_FLOOR: f64 = 1.0;

/// Weight of the rise against the level in `logmel-flux` features.
const FLUX_WEIGHT: f32 = 2.0;

/// Number of mel bands of the log-mel features.
const N_MELS: usize = 64;
/// Lowest frequency that counts towards chroma; below it pitch is not resolved.
const CHROMA_FMIN_HZ: f64 = 55.0;

#[derive(Debug)]
enum Projection {
    /// Features made by tensor ops alone, frame by frame.
    PerFrame(PerFrameProjection),
    /// Log-mel bands, then this stream's level and rise (kept apart so that the bands may be
    /// encoded in a batch shared with other streams, see [`AudioFeatureEncoder::split_for_sharing`]).
    LogMelFlux {
        bands: LogMelBands,
        rise: LevelAndRise,
        band_rows: Vec<f32>,
    },
}

#[derive(Debug)]
enum PerFrameProjection {
    LogMel(LogMel),
    Chroma { spectrum: PowerSpectrum, filters_t: Tensor },
}

/// Encodes audio frames into unit-length feature rows (silence gives the flat row, every value
/// `1/√dim`).
#[derive(Debug)]
pub struct AudioFeatureEncoder {
    kind: AudioFeatureKind,
    params: AudioFrameParams,
    projection: Projection,
    dim: usize,
    device: Device,
}

impl AudioFeatureEncoder {
    /// An encoder of `kind` features for frames framed by `params`, running on `device`.
    pub fn new(kind: AudioFeatureKind, params: AudioFrameParams, device: Device) -> Result<Self, EncodeError> {
        params.validate()?;
        let (projection, dim) = match kind {
            AudioFeatureKind::LogMel => {
                let spectrum = PowerSpectrum::new(params.frame_len, device)?;
                let log_mel = LogMel::new(spectrum, params.rate_hz, params.frame_len, N_MELS)?;
                let dim = log_mel.n_mels();
                (Projection::PerFrame(PerFrameProjection::LogMel(log_mel)), dim)
            }
            AudioFeatureKind::LogMelFlux => {
                let rise = Self::level_and_rise();
                let dim = rise.dim();
                let projection = Projection::LogMelFlux {
                    bands: LogMelBands::new(params, N_MELS, device)?,
                    rise,
                    band_rows: Vec::new(),
                };
                (projection, dim)
            }
            AudioFeatureKind::Chroma => {
                let spectrum = PowerSpectrum::new(params.frame_len, device)?;
                let weights = chroma_filterbank(params.rate_hz, params.frame_len, CHROMA_FMIN_HZ);
                let filters_t = Tensor::f_from_slice(&weights)
                    .and_then(|t| t.f_view([12, spectrum.bins() as i64]))
                    .and_then(|t| t.f_transpose(0, 1))
                    .and_then(|t| t.f_contiguous())
                    .map(|t| t.to_device(device))
                    .map_err(torch("building the chroma filterbank"))?;
                (
                    Projection::PerFrame(PerFrameProjection::Chroma { spectrum, filters_t }),
                    12,
                )
            }
        };
        Ok(Self {
            kind,
            params,
            projection,
            dim,
            device,
        })
    }

    fn level_and_rise() -> LevelAndRise {
        LevelAndRise::new(N_MELS, FLUX_WEIGHT, SILENCE_FLOOR as f32)
    }

    /// Features per frame.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Which features these are.
    pub fn kind(&self) -> AudioFeatureKind {
        self.kind
    }

    /// The device the encoder runs on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The framing these features expect.
    pub fn params(&self) -> AudioFrameParams {
        self.params
    }

    /// Forgets the previous frame (features with a time difference start afresh), e.g. before
    /// encoding another recording with the same encoder.
    pub fn reset(&mut self) {
        if let Projection::LogMelFlux { rise, .. } = &mut self.projection {
            rise.reset();
        }
    }

    /// For `logmel-flux`, the encoder in two parts that together give its features: log-mel
    /// bands, which keep no state and so may be shared by the streams of a worker, and a fresh
    /// level-and-rise stage for one stream. `None` for the features that keep no state.
    pub fn split_for_sharing(&self) -> Result<Option<SharedAndPerStream>, EncodeError> {
        match self.projection {
            Projection::LogMelFlux { .. } => Ok(Some(SharedAndPerStream {
                shared: Box::new(LogMelBands::new(self.params, N_MELS, self.device)?),
                per_stream: Box::new(Self::level_and_rise()),
            })),
            Projection::PerFrame(_) => Ok(None),
        }
    }

    /// Encodes row-major frames (`frame_len` samples each) into `dim` values per frame,
    /// appended to `features`. Frames are consecutive across calls.
    pub fn encode(&mut self, frames: &[f32], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        match &mut self.projection {
            Projection::PerFrame(projection) => in_audio_passes(frames, self.params.frame_len, self.device, |part| {
                projection.encode_pass(part, features)
            }),
            Projection::LogMelFlux { bands, rise, band_rows } => {
                band_rows.clear();
                bands.encode(frames, band_rows)?;
                rise.push_rows(band_rows, features);
                Ok(())
            }
        }
    }
}

impl PerFrameProjection {
    fn encode_pass(&self, frames: &[f32], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        tch::no_grad(|| {
            let raw = match self {
                Self::LogMel(log_mel) => log_mel.log_mel(&log_mel.spectrum().frames_tensor(frames)?)?,
                Self::Chroma { spectrum, filters_t } => spectrum
                    .power(&spectrum.frames_tensor(frames)?)?
                    .f_matmul(filters_t)
                    .and_then(|chroma| (chroma * LOG_GAIN).f_log1p())
                    .map_err(torch("computing chroma"))?,
            };
            let raw = raw + SILENCE_FLOOR;
            let rows = raw
                .f_norm_scalaropt_dim(2.0, [1i64].as_slice(), true)
                .and_then(|norm| raw.f_div(&norm.clamp_min(1e-6)))
                .map(|unit| unit.to_device(Device::Cpu))
                .map_err(torch("normalising feature rows"))?;
            let values = Vec::<f32>::try_from(&rows.view([-1])).map_err(torch("reading features back"))?;
            features.extend_from_slice(&values);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: AudioFrameParams = AudioFrameParams {
        rate_hz: 22_050,
        frame_len: 2048,
        hop_len: 441,
    };

    fn tone(hz: f32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| 0.5 * (2.0 * std::f32::consts::PI * hz * n as f32 / PARAMS.rate_hz as f32).sin())
            .collect()
    }

    #[test]
    fn rows_have_unit_length_and_silence_is_flat() {
        for kind in [
            AudioFeatureKind::LogMel,
            AudioFeatureKind::LogMelFlux,
            AudioFeatureKind::Chroma,
        ] {
            let mut encoder = AudioFeatureEncoder::new(kind, PARAMS, Device::Cpu).unwrap();
            let mut frames = tone(440.0, 2048);
            frames.extend(std::iter::repeat_n(0.0, 2048));
            let mut features = Vec::new();
            encoder.encode(&frames, &mut features).unwrap();
            assert_eq!(features.len(), 2 * encoder.dim());
            let norm: f32 = features[..encoder.dim()].iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "{kind}: norm {norm}");
            let flat = 1.0 / (encoder.dim() as f32).sqrt();
            assert!(
                features[encoder.dim()..].iter().all(|&v| (v - flat).abs() < 1e-6),
                "{kind}: silence is not flat"
            );
        }
    }

    #[test]
    fn logmel_flux_split_for_sharing_gives_the_whole_encoders_rows() {
        let mut whole = AudioFeatureEncoder::new(AudioFeatureKind::LogMelFlux, PARAMS, Device::Cpu).unwrap();
        let SharedAndPerStream {
            mut shared,
            mut per_stream,
        } = whole.split_for_sharing().unwrap().expect("logmel-flux comes apart");
        assert!(shared.is_stateless());
        assert_eq!(per_stream.dim(), whole.dim());
        let mut frames = tone(440.0, 2048);
        frames.extend(tone(660.0, 2048));
        frames.extend(std::iter::repeat_n(0.0, 2048));
        let mut expected = Vec::new();
        whole.encode(&frames, &mut expected).unwrap();
        // The parts take the frames in other batches: the rise joins them without a seam.
        let mut parts = Vec::new();
        for batch in [&frames[..2048], &frames[2048..]] {
            let mut bands = Vec::new();
            shared.encode(batch, &mut bands).unwrap();
            per_stream.push_rows(&bands, &mut parts);
        }
        assert_eq!(parts.len(), expected.len());
        for (part, whole) in parts.iter().zip(&expected) {
            assert!((part - whole).abs() < 1e-6, "{part} against {whole}");
        }
        assert!(AudioFeatureEncoder::new(AudioFeatureKind::LogMel, PARAMS, Device::Cpu)
            .unwrap()
            .split_for_sharing()
            .unwrap()
            .is_none());
    }

    #[test]
    fn chroma_of_a_tone_peaks_on_its_pitch_class() {
        let mut encoder = AudioFeatureEncoder::new(AudioFeatureKind::Chroma, PARAMS, Device::Cpu).unwrap();
        let mut features = Vec::new();
        encoder.encode(&tone(392.0, 2048), &mut features).unwrap();
        let best = features.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(best, 7, "G is pitch class 7: {features:?}");
    }
}
