//! Spectral features with librosa's definitions, as tensor ops: the power mel spectrogram,
//! MFCC, chroma and the onset strength envelope, one row per frame.
//!
//! Each equals its librosa function on the same frames (`center=False`) within the tolerances
//! that `tests/encoders_match_librosa.rs` states and checks against librosa itself:
//!
//! | feature | librosa |
//! | --- | --- |
//! | [`SpectralFeature::Mel`] | `feature.melspectrogram` (power 2, Slaney mel filters) |
//! | [`SpectralFeature::Mfcc`] | `feature.mfcc` (DCT-II, orthonormal, of the mel spectrogram in dB) |
//! | [`SpectralFeature::Chroma`] | `feature.chroma_stft` with `tuning=0` (frames scaled to a peak of 1) |
//! | [`SpectralFeature::OnsetStrength`] | `onset.onset_strength` (mean rise of the dB mel bands) |
//!
//! One difference is inherent to streams: librosa floors decibels at `top_db` below the loudest
//! value of the whole signal; a stream does not know its loudest value in advance, so here the
//! floor is `top_db` below the loudest value seen so far (the same once the loudest frame has
//! passed). The onset strength keeps the last frame's decibels so that batches join without a
//! seam; the first frame ever has nothing before it and gives 0, like librosa's padding.

use tch::{Device, Kind, Tensor};

use super::chroma::octave_weighted_chroma_filterbank;
use super::dct::dct_ii_ortho;
use super::device::in_audio_passes;
use super::error::torch;
use super::mel::mel_filterbank;
use super::spectrum::PowerSpectrum;
use super::{AudioFrameParams, EncodeError};

/// Smallest power converted to decibels (librosa's `amin`).
const MIN_POWER: f64 = 1e-10;

/// Which spectral feature, with its band counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpectralFeature {
    /// Mel power spectrogram over `n_mels` bands from 0 Hz to half the sample rate.
    Mel {
        /// Mel bands.
        n_mels: usize,
    },
    /// The first `n_mfcc` cepstral coefficients of the mel spectrogram in dB.
    Mfcc {
        /// Mel bands the cepstrum is taken over.
        n_mels: usize,
        /// Coefficients kept.
        n_mfcc: usize,
    },
    /// Energy per pitch class, each frame scaled to a peak of 1.
    Chroma {
        /// Pitch classes (12 for semitones).
        n_chroma: usize,
    },
    /// Mean increase of the dB mel bands since the previous frame: one value per frame.
    OnsetStrength {
        /// Mel bands.
        n_mels: usize,
    },
}

impl SpectralFeature {
    /// Values per frame.
    pub fn dim(self) -> usize {
        match self {
            SpectralFeature::Mel { n_mels } => n_mels,
            SpectralFeature::Mfcc { n_mfcc, .. } => n_mfcc,
            SpectralFeature::Chroma { n_chroma } => n_chroma,
            SpectralFeature::OnsetStrength { .. } => 1,
        }
    }

    fn check(self) -> Result<(), EncodeError> {
        let bad = |name, value: usize, expected| {
            Err(EncodeError::BadParameter {
                name,
                value: value.to_string(),
                expected,
            })
        };
        match self {
            SpectralFeature::Mel { n_mels } | SpectralFeature::OnsetStrength { n_mels } if n_mels == 0 => {
                bad("n_mels", n_mels, "at least 1")
            }
            SpectralFeature::Mfcc { n_mels, n_mfcc } if n_mfcc == 0 || n_mfcc > n_mels => {
                bad("n_mfcc", n_mfcc, "between 1 and n_mels")
            }
            SpectralFeature::Chroma { n_chroma } if n_chroma == 0 => bad("n_chroma", n_chroma, "at least 1"),
            _ => Ok(()),
        }
    }
}

/// Streaming encoder of one [`SpectralFeature`].
#[derive(Debug)]
pub struct SpectralEncoder {
    feature: SpectralFeature,
    params: AudioFrameParams,
    spectrum: PowerSpectrum,
    /// `[bins, bands]`: the mel or chroma filterbank, transposed.
    filters_t: Tensor,
    /// `[n_mels, n_mfcc]`, for MFCC.
    dct: Option<Tensor>,
    top_db: Option<f64>,
    loudest_db: f64,
    /// The last frame's dB mel bands, for the onset strength.
    previous_db: Option<Tensor>,
}

impl SpectralEncoder {
    /// An encoder of `feature` for frames framed by `params`, on `device`; decibels (MFCC, onset
    /// strength) are floored at `top_db` below the loudest value so far (librosa's default is
    /// 80), or not at all with `None`.
    pub fn new(
        feature: SpectralFeature,
        params: AudioFrameParams,
        top_db: Option<f64>,
        device: Device,
    ) -> Result<Self, EncodeError> {
        params.validate()?;
        feature.check()?;
        if let Some(top_db) = top_db {
            if !(top_db >= 0.0 && top_db.is_finite()) {
                return Err(EncodeError::BadParameter {
                    name: "top_db",
                    value: top_db.to_string(),
                    expected: "a finite number of dB, at least 0",
                });
            }
        }
        let spectrum = PowerSpectrum::new(params.frame_len, device)?;
        let nyquist_hz = f64::from(params.rate_hz) / 2.0;
        let (weights, bands) = match feature {
            SpectralFeature::Mel { n_mels }
            | SpectralFeature::Mfcc { n_mels, .. }
            | SpectralFeature::OnsetStrength { n_mels } => (
                mel_filterbank(params.rate_hz, params.frame_len, n_mels, 0.0, nyquist_hz),
                n_mels,
            ),
            SpectralFeature::Chroma { n_chroma } => (
                octave_weighted_chroma_filterbank(params.rate_hz, params.frame_len, n_chroma),
                n_chroma,
            ),
        };
        let on_device = |values: &[f32], rows: usize, columns: usize, what| {
            Tensor::f_from_slice(values)
                .and_then(|t| t.f_view([rows as i64, columns as i64]))
                .map(|t| t.to_device(device).to_kind(Kind::Float))
                .map_err(torch(what))
        };
        let filters_t = on_device(&weights, bands, spectrum.bins(), "building the filterbank")?
            .f_transpose(0, 1)
            .and_then(|t| t.f_contiguous())
            .map_err(torch("building the filterbank"))?;
        let dct = match feature {
            SpectralFeature::Mfcc { n_mels, n_mfcc } => Some(on_device(
                &dct_ii_ortho(n_mels, n_mfcc),
                n_mels,
                n_mfcc,
                "building the DCT",
            )?),
            _ => None,
        };
        Ok(Self {
            feature,
            params,
            spectrum,
            filters_t,
            dct,
            top_db,
            loudest_db: f64::NEG_INFINITY,
            previous_db: None,
        })
    }

    /// Values per frame.
    pub fn dim(&self) -> usize {
        self.feature.dim()
    }

    /// The feature this encoder computes.
    pub fn feature(&self) -> SpectralFeature {
        self.feature
    }

    /// The framing it expects.
    pub fn params(&self) -> AudioFrameParams {
        self.params
    }

    /// Forgets the stream so far (the loudest value and the last frame), e.g. before another
    /// recording.
    pub fn reset(&mut self) {
        self.loudest_db = f64::NEG_INFINITY;
        self.previous_db = None;
    }

    /// Encodes row-major frames (`frame_len` samples each) into `dim` values per frame,
    /// appended to `features`. Frames are consecutive across calls.
    pub fn encode(&mut self, frames: &[f32], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        let device = self.spectrum.device();
        in_audio_passes(frames, self.params.span_len(), device, |part| {
            self.encode_pass(part, features)
        })
    }

    fn encode_pass(&mut self, frames: &[f32], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        tch::no_grad(|| {
            let batch = self.spectrum.frames_tensor(frames)?;
            let banded = self
                .spectrum
                .power(&batch)?
                .f_matmul(&self.filters_t)
                .map_err(torch("applying the filterbank"))?;
            let rows = match self.feature {
                SpectralFeature::Mel { .. } => banded,
                SpectralFeature::Chroma { .. } => peak_normalised(&banded)?,
                SpectralFeature::Mfcc { .. } => {
                    let decibels = self.decibels(&banded)?;
                    match &self.dct {
                        Some(dct) => decibels.f_matmul(dct).map_err(torch("taking the cepstrum"))?,
                        None => decibels,
                    }
                }
                SpectralFeature::OnsetStrength { .. } => {
                    let decibels = self.decibels(&banded)?;
                    self.onset_strength(decibels)?
                }
            };
            let values = Vec::<f32>::try_from(&rows.to_device(Device::Cpu).reshape([-1]))
                .map_err(torch("reading features back"))?;
            features.extend_from_slice(&values);
            Ok(())
        })
    }

    /// `10 log10(max(power, amin))`, floored at `top_db` below the loudest value so far.
    fn decibels(&mut self, power: &Tensor) -> Result<Tensor, EncodeError> {
        let decibels = power
            .f_clamp_min(MIN_POWER)
            .and_then(|p| p.f_log10())
            .map(|l| l * 10.0)
            .map_err(torch("converting to decibels"))?;
        let Some(top_db) = self.top_db else {
            return Ok(decibels);
        };
        let loudest = decibels
            .f_max()
            .and_then(|m| m.f_double_value(&[]))
            .map_err(torch("finding the loudest band"))?;
        self.loudest_db = self.loudest_db.max(loudest);
        decibels
            .f_clamp_min(self.loudest_db - top_db)
            .map_err(torch("flooring decibels"))
    }

    /// Mean over bands of the rise since the previous frame, `[count, 1]`.
    fn onset_strength(&mut self, decibels: Tensor) -> Result<Tensor, EncodeError> {
        let count = decibels.size()[0];
        let previous = match (self.previous_db.take(), self.top_db) {
            // The floor may have risen since the last frame was kept.
            (Some(previous), Some(top_db)) => previous
                .f_clamp_min(self.loudest_db - top_db)
                .map_err(torch("flooring the last frame"))?,
            (Some(previous), None) => previous,
            (None, _) => decibels
                .f_narrow(0, 0, 1)
                .map_err(torch("starting the onset strength"))?,
        };
        let strength = Tensor::f_cat(&[&previous, &decibels], 0)
            .and_then(|joined| joined.f_diff(1, 0, None::<Tensor>, None::<Tensor>))
            .and_then(|rise| rise.f_relu())
            .and_then(|rise| rise.f_mean_dim([1i64].as_slice(), true, Kind::Float))
            .map_err(torch("computing the onset strength"))?;
        self.previous_db = Some(
            decibels
                .f_narrow(0, count - 1, 1)
                .map_err(torch("keeping the last frame"))?,
        );
        Ok(strength)
    }
}

/// Each row divided by its largest absolute value; rows of (near) zeros are left as they are,
/// as librosa's `util.normalize` does.
fn peak_normalised(rows: &Tensor) -> Result<Tensor, EncodeError> {
    let peaks = rows
        .f_abs()
        .and_then(|a| a.f_amax([1i64].as_slice(), true))
        .map_err(torch("finding each frame's peak"))?;
    let tiny = f64::from(f32::MIN_POSITIVE);
    let divisors = peaks
        .f_lt(tiny)
        .and_then(|small| peaks.f_where_scalarother(&small.f_logical_not()?, 1.0))
        .map_err(torch("guarding silent frames"))?;
    rows.f_div(&divisors).map_err(torch("scaling frames to a peak of 1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: AudioFrameParams = AudioFrameParams {
        rate_hz: 22_050,
        frame_len: 1024,
        hop_len: 256,
        history_len: 0,
    };

    fn tone(hz: f32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| 0.5 * (2.0 * std::f32::consts::PI * hz * n as f32 / PARAMS.rate_hz as f32).sin())
            .collect()
    }

    fn encode(feature: SpectralFeature, frames: &[f32]) -> Vec<f32> {
        let mut encoder = SpectralEncoder::new(feature, PARAMS, Some(80.0), Device::Cpu).unwrap();
        let mut out = Vec::new();
        encoder.encode(frames, &mut out).unwrap();
        out
    }

    #[test]
    fn chroma_of_a_tone_peaks_at_one_on_its_pitch_class() {
        let chroma = encode(SpectralFeature::Chroma { n_chroma: 12 }, &tone(392.0, 1024));
        let best = chroma.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
        assert_eq!(best.0, 7, "G is pitch class 7: {chroma:?}");
        assert!((best.1 - 1.0).abs() < 1e-6);
        let silent = encode(SpectralFeature::Chroma { n_chroma: 12 }, &[0.0; 1024]);
        assert!(silent.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn onset_strength_rises_where_a_sound_starts_and_joins_batches() {
        let mut frames = vec![0.0; 2 * 1024];
        frames.extend(tone(440.0, 2 * 1024));
        let feature = SpectralFeature::OnsetStrength { n_mels: 40 };
        let whole = encode(feature, &frames);
        assert_eq!(whole.len(), 4);
        assert_eq!(whole[0], 0.0);
        assert!(whole[2] > 5.0 && whole[3] < 0.1, "{whole:?}");
        let mut encoder = SpectralEncoder::new(feature, PARAMS, Some(80.0), Device::Cpu).unwrap();
        let mut split = Vec::new();
        encoder.encode(&frames[..2048], &mut split).unwrap();
        encoder.encode(&frames[2048..], &mut split).unwrap();
        assert_eq!(split, whole);
    }

    #[test]
    fn bad_settings_are_refused() {
        for feature in [
            SpectralFeature::Mel { n_mels: 0 },
            SpectralFeature::Mfcc { n_mels: 20, n_mfcc: 40 },
            SpectralFeature::Chroma { n_chroma: 0 },
        ] {
            assert!(
                SpectralEncoder::new(feature, PARAMS, None, Device::Cpu).is_err(),
                "{feature:?}"
            );
        }
        assert!(SpectralEncoder::new(SpectralFeature::Mel { n_mels: 8 }, PARAMS, Some(-1.0), Device::Cpu).is_err());
    }
}
