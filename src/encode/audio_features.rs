//! Frame features for following a reference: log-mel (with or without its rise), semitone
//! bands with their rise, or chroma; vectors of unit length.

use std::fmt;
use std::str::FromStr;

use tch::Device;

use super::audio_encoder::{AudioEncoder, SharedAndPerStream, StreamRows};
use super::device::in_audio_passes;
use super::error::torch;
use super::level_and_rise::LevelAndRise;
use super::log_bands::{Filterbank, LogBands, LogFilterbank};
use super::semitone::SEMITONE_BANDS;
use super::{AudioFrameParams, EncodeError};
use crate::features::PitchLayout;

/// Which audio features `follow` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudioFeatureKind {
    /// Log-mel spectrum (timbre and pitch together).
    LogMel,
    /// Chroma (pitch classes only); robust to instrumentation changes.
    Chroma,
    /// Log-mel spectrum with its rise since the previous frame (the half-wave rectified
    /// spectral difference Dixon's tracker used), which marks note onsets sharply in time, so
    /// positions keep up where the tempo changes.
    LogMelFlux,
    /// One band per semitone with its rise, as `logmel-flux` with finer pitch: notes a
    /// semitone apart stay apart, so another instrument or voice playing the same notes still
    /// looks alike, and a transposition is a shift by whole bands that the key estimate undoes:
    /// real performances are by other singers and players, often a semitone or two apart.
    SemitoneFlux,
    /// `semitone-flux` with the bands below C4 taken from a window of four frames (372 ms)
    /// that ends where the frame ends: the low voice and the bass resolved to a semitone, and
    /// bands that move on through a held note, which a causal tracker uses to tell how far into
    /// it the stream is. No frame comes later than `semitone-flux`'s. The default: on real
    /// performance pairs it places more beats and measures within 50 ms than `semitone-flux`,
    /// by the tracker alone and with relocation, heard clean or through a room.
    #[default]
    SemitoneFluxLows,
}

impl FromStr for AudioFeatureKind {
    type Err = EncodeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "logmel" => Ok(Self::LogMel),
            "chroma" => Ok(Self::Chroma),
            "logmel-flux" => Ok(Self::LogMelFlux),
            "semitone-flux" => Ok(Self::SemitoneFlux),
            "semitone-flux-lows" => Ok(Self::SemitoneFluxLows),
            _ => Err(EncodeError::BadParameter {
                name: "--audio-features",
                value: text.to_owned(),
                expected: "'logmel', 'logmel-flux', 'semitone-flux', 'semitone-flux-lows' or 'chroma'",
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
            Self::SemitoneFlux => "semitone-flux",
            Self::SemitoneFluxLows => "semitone-flux-lows",
        })
    }
}

/// Added to every compressed value before a row is scaled to unit length. Silence then points
/// the flat way (every value alike) instead of being a zero row, which is equally far from
/// everything: a live pause full of faint noise matches a reference pause of digital silence
/// better than it matches sound, and quiet passages weigh less than loud ones.
const SILENCE_FLOOR: f64 = 1.0;

/// Weight of the rise against the level in `logmel-flux` features.
const LOGMEL_RISE_WEIGHT: f32 = 2.0;
/// Weight of the rise against the level in `semitone-flux` features. Semitone levels tell
/// another instrument's notes apart well but change little through a held chord, so the rise
/// weighs more; weighed more still, the tempo warps, where the level carries the match, lose.
const SEMITONE_RISE_WEIGHT: f32 = 6.0;

/// Number of mel bands of the log-mel features.
const N_MELS: usize = 64;

#[derive(Debug)]
enum Projection {
    /// Log filterbank energies scaled to unit length, frame by frame.
    PerFrame(LogFilterbank),
    /// Bands (log-mel or semitone), then this stream's level and rise (kept apart so that the
    /// bands may be encoded in a batch shared with other streams, see
    /// [`AudioFeatureEncoder::split_for_sharing`]).
    LevelAndRise {
        bands: Box<dyn AudioEncoder>,
        rise: LevelAndRise,
        band_rows: Vec<f32>,
    },
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
    /// An encoder of `kind` features for frames framed by `params` (with the history `kind`
    /// takes, see [`Self::params`]), running on `device`.
    pub fn new(kind: AudioFeatureKind, params: AudioFrameParams, device: Device) -> Result<Self, EncodeError> {
        let params = Self::filterbank(kind).framing(params);
        params.validate()?;
        let (projection, dim) = match kind {
            AudioFeatureKind::LogMel | AudioFeatureKind::Chroma => {
                let filterbank = LogFilterbank::new(Self::filterbank(kind), params, device)?;
                let dim = filterbank.bands();
                (Projection::PerFrame(filterbank), dim)
            }
            AudioFeatureKind::LogMelFlux | AudioFeatureKind::SemitoneFlux | AudioFeatureKind::SemitoneFluxLows => {
                let bands = Self::bands(kind, params, device)?;
                let rise = Self::level_and_rise(kind, bands.dim());
                let dim = rise.dim();
                let projection = Projection::LevelAndRise {
                    bands,
                    rise,
                    band_rows: Vec::new(),
                };
                (projection, dim)
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

    /// The filterbank `kind`'s features are made from.
    fn filterbank(kind: AudioFeatureKind) -> Filterbank {
        match kind {
            AudioFeatureKind::LogMel | AudioFeatureKind::LogMelFlux => Filterbank::Mel { bands: N_MELS },
            AudioFeatureKind::SemitoneFlux => Filterbank::Semitone,
            AudioFeatureKind::SemitoneFluxLows => Filterbank::SemitoneLows,
            AudioFeatureKind::Chroma => Filterbank::Chroma,
        }
    }

    /// The stateless bands under `kind`'s level and rise.
    fn bands(
        kind: AudioFeatureKind,
        params: AudioFrameParams,
        device: Device,
    ) -> Result<Box<dyn AudioEncoder>, EncodeError> {
        Ok(Box::new(LogBands::new(Self::filterbank(kind), params, device)?))
    }

    fn level_and_rise(kind: AudioFeatureKind, bands: usize) -> LevelAndRise {
        let rise_weight = if matches!(
            kind,
            AudioFeatureKind::SemitoneFlux | AudioFeatureKind::SemitoneFluxLows
        ) {
            SEMITONE_RISE_WEIGHT
        } else {
            LOGMEL_RISE_WEIGHT
        };
        LevelAndRise::new(bands, rise_weight, SILENCE_FLOOR as f32)
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

    /// The framing these features expect: the one they were made with, and for
    /// `semitone-flux-lows` the history its low bands' window takes.
    pub fn params(&self) -> AudioFrameParams {
        self.params
    }

    /// Forgets the previous frame (features with a time difference start afresh), e.g. before
    /// encoding another recording with the same encoder.
    pub fn reset(&mut self) {
        if let Projection::LevelAndRise { rise, .. } = &mut self.projection {
            rise.reset();
        }
    }

    /// For `logmel-flux` and `semitone-flux`, the encoder in two parts that together give its
    /// features: the bands, which keep no state and so may be shared by the streams of a
    /// worker, and a fresh level-and-rise stage for one stream. `None` for the features that
    /// keep no state.
    pub fn split_for_sharing(&self) -> Result<Option<SharedAndPerStream>, EncodeError> {
        match &self.projection {
            Projection::LevelAndRise { bands, .. } => Ok(Some(SharedAndPerStream {
                shared: Self::bands(self.kind, self.params, self.device)?,
                per_stream: Box::new(Self::level_and_rise(self.kind, bands.dim())),
            })),
            Projection::PerFrame(_) => Ok(None),
        }
    }

    /// How the rows lay out pitch: chroma's twelve classes, or `semitone-flux`'s two blocks
    /// (level, rise) of semitone bands from C1 up; `None` for log-mel, whose bands are not a
    /// semitone apart.
    pub fn pitch_layout(&self) -> Option<PitchLayout> {
        match self.kind {
            AudioFeatureKind::Chroma => Some(PitchLayout::Chroma),
            AudioFeatureKind::SemitoneFlux | AudioFeatureKind::SemitoneFluxLows => Some(PitchLayout::SemitoneBlocks {
                bands: SEMITONE_BANDS,
                blocks: 2,
            }),
            AudioFeatureKind::LogMel | AudioFeatureKind::LogMelFlux => None,
        }
    }

    /// Encodes row-major frames (`span_len` samples each) into `dim` values per frame,
    /// appended to `features`. Frames are consecutive across calls.
    pub fn encode(&mut self, frames: &[f32], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        match &mut self.projection {
            Projection::PerFrame(filterbank) => in_audio_passes(frames, self.params.span_len(), self.device, |part| {
                unit_rows(filterbank, part, features)
            }),
            Projection::LevelAndRise { bands, rise, band_rows } => {
                band_rows.clear();
                bands.encode(frames, band_rows)?;
                rise.push_rows(band_rows, features);
                Ok(())
            }
        }
    }
}

/// `filterbank`'s log energies of `frames`, each row lifted by the silence floor and scaled to
/// unit length, appended to `features`.
fn unit_rows(filterbank: &LogFilterbank, frames: &[f32], features: &mut Vec<f32>) -> Result<(), EncodeError> {
    tch::no_grad(|| {
        let raw = filterbank.log_energies(frames)? + SILENCE_FLOOR;
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

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: AudioFrameParams = AudioFrameParams {
        rate_hz: 22_050,
        frame_len: 2048,
        hop_len: 441,
        history_len: 0,
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
            AudioFeatureKind::SemitoneFlux,
            AudioFeatureKind::SemitoneFluxLows,
            AudioFeatureKind::Chroma,
        ] {
            let mut encoder = AudioFeatureEncoder::new(kind, PARAMS, Device::Cpu).unwrap();
            let span_len = encoder.params().span_len();
            let mut frames = tone(440.0, span_len);
            frames.extend(std::iter::repeat_n(0.0, span_len));
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
    fn flux_features_split_for_sharing_give_the_whole_encoders_rows() {
        for kind in [
            AudioFeatureKind::LogMelFlux,
            AudioFeatureKind::SemitoneFlux,
            AudioFeatureKind::SemitoneFluxLows,
        ] {
            let mut whole = AudioFeatureEncoder::new(kind, PARAMS, Device::Cpu).unwrap();
            let span_len = whole.params().span_len();
            let SharedAndPerStream {
                mut shared,
                mut per_stream,
            } = whole.split_for_sharing().unwrap().expect("flux features come apart");
            assert!(shared.is_stateless());
            assert_eq!(per_stream.dim(), whole.dim());
            let mut frames = tone(440.0, span_len);
            frames.extend(tone(660.0, span_len));
            frames.extend(std::iter::repeat_n(0.0, span_len));
            let mut expected = Vec::new();
            whole.encode(&frames, &mut expected).unwrap();
            // The parts take the frames in other batches: the rise joins them without a seam.
            let mut parts = Vec::new();
            for batch in [&frames[..span_len], &frames[span_len..]] {
                let mut bands = Vec::new();
                shared.encode(batch, &mut bands).unwrap();
                per_stream.push_rows(&bands, &mut parts);
            }
            assert_eq!(parts.len(), expected.len());
            for (part, whole) in parts.iter().zip(&expected) {
                assert!((part - whole).abs() < 1e-6, "{kind}: {part} against {whole}");
            }
        }
        assert!(AudioFeatureEncoder::new(AudioFeatureKind::LogMel, PARAMS, Device::Cpu)
            .unwrap()
            .split_for_sharing()
            .unwrap()
            .is_none());
    }

    #[test]
    fn semitone_flux_rows_move_by_a_band_per_semitone() {
        let mut encoder = AudioFeatureEncoder::new(AudioFeatureKind::SemitoneFlux, PARAMS, Device::Cpu).unwrap();
        let layout = encoder.pitch_layout().expect("semitone-flux lays out pitch");
        let (mut a4, mut b_flat4) = (Vec::new(), Vec::new());
        encoder.encode(&tone(440.0, 2048), &mut a4).unwrap();
        encoder.reset();
        encoder.encode(&tone(466.16, 2048), &mut b_flat4).unwrap();
        let mut moved = Vec::new();
        layout.shift_down(&b_flat4, 1, &mut moved);
        let cosine = |a: &[f32], b: &[f32]| -> f32 {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            dot / (a.iter().map(|x| x * x).sum::<f32>() * b.iter().map(|x| x * x).sum::<f32>()).sqrt()
        };
        assert!(
            cosine(&moved, &a4) > 0.99 && cosine(&b_flat4, &a4) < cosine(&moved, &a4) - 0.05,
            "B flat moved down a semitone is A: {} against {} unmoved",
            cosine(&moved, &a4),
            cosine(&b_flat4, &a4)
        );
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
