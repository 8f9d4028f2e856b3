//! Semitone bands: the power spectrum summed in one band per semitone of the piano's range and
//! log-compressed, one row per frame.
//!
//! Mel bands are a few semitones wide above 1 kHz and wider still below it, so two notes a
//! semitone apart often fall in one band: a passage played on another instrument or voiced
//! otherwise then looks alike wherever its pitches are alike only. Bands of one semitone keep
//! every note apart, and a transposition becomes a shift of the row by whole bands, which
//! `align::transposition` undoes. Like the log-mel bands, these keep no state, so a worker's
//! streams share one encoder. This module owns the filterbank and the tensor ops; it knows
//! nothing of streams.

use tch::{Device, Kind, Tensor};

use super::audio_encoder::AudioEncoder;
use super::device::in_audio_passes;
use super::error::torch;
use super::spectrum::PowerSpectrum;
use super::{AudioFrameParams, EncodeError, LOG_GAIN};

/// MIDI note of the lowest band: C1, 32.7 Hz.
pub(crate) const LOWEST_MIDI: usize = 24;
/// Bands: seven octaves, C1 to B7 (3.95 kHz), where the fundamentals and the strongest
/// overtones of tonal music lie.
pub(crate) const SEMITONE_BANDS: usize = 84;

fn hz_to_midi(hz: f64) -> f64 {
    69.0 + 12.0 * (hz / 440.0).log2()
}

/// `[bands, frame_len/2 + 1]` row-major weights: band `m` takes each FFT bin within a semitone
/// of MIDI note `lowest_midi + m` with a weight falling linearly from 1 at the note to 0 a
/// semitone away, so a tone between two notes is shared between them. Bands below the FFT's
/// resolution may take no bin at all; they stay silent.
pub(crate) fn semitone_filterbank(rate_hz: u32, frame_len: usize, lowest_midi: usize, bands: usize) -> Vec<f32> {
    let bins = frame_len / 2 + 1;
    let mut weights = vec![0.0f32; bands * bins];
    for k in 1..bins {
        let midi = hz_to_midi(k as f64 * f64::from(rate_hz) / frame_len as f64) - lowest_midi as f64;
        let nearest = midi.round();
        for band in [nearest - 1.0, nearest, nearest + 1.0] {
            if band < 0.0 || band >= bands as f64 {
                continue;
            }
            let weight = 1.0 - (midi - band).abs();
            if weight > 0.0 {
                weights[band as usize * bins + k] = weight as f32;
            }
        }
    }
    weights
}

/// `ln(1 + LOG_GAIN · power)` in [`SEMITONE_BANDS`] semitone bands per frame.
#[derive(Debug)]
pub struct SemitoneBands {
    params: AudioFrameParams,
    spectrum: PowerSpectrum,
    filters_t: Tensor,
}

impl SemitoneBands {
    /// Bands for frames framed by `params`, on `device`.
    pub fn new(params: AudioFrameParams, device: Device) -> Result<Self, EncodeError> {
        params.validate()?;
        let spectrum = PowerSpectrum::new(params.frame_len, device)?;
        let weights = semitone_filterbank(params.rate_hz, params.frame_len, LOWEST_MIDI, SEMITONE_BANDS);
        let filters_t = Tensor::f_from_slice(&weights)
            .and_then(|t| t.f_view([SEMITONE_BANDS as i64, spectrum.bins() as i64]))
            .and_then(|t| t.f_transpose(0, 1))
            .and_then(|t| t.f_contiguous())
            .map(|t| t.to_device(device).to_kind(Kind::Float))
            .map_err(torch("building the semitone filterbank"))?;
        Ok(Self {
            params,
            spectrum,
            filters_t,
        })
    }

    fn encode_pass(&self, frames: &[f32], rows: &mut Vec<f32>) -> Result<(), EncodeError> {
        tch::no_grad(|| {
            let power = self.spectrum.power(&self.spectrum.frames_tensor(frames)?)?;
            let bands = power
                .f_matmul(&self.filters_t)
                .and_then(|bands| (bands * LOG_GAIN).f_log1p())
                .map(|bands| bands.to_device(Device::Cpu).reshape([-1]))
                .map_err(torch("computing semitone bands"))?;
            rows.extend(Vec::<f32>::try_from(&bands).map_err(torch("reading semitone bands back"))?);
            Ok(())
        })
    }
}

impl AudioEncoder for SemitoneBands {
    fn name(&self) -> String {
        format!("semitone-bands{SEMITONE_BANDS}")
    }

    fn params(&self) -> AudioFrameParams {
        self.params
    }

    fn dim(&self) -> usize {
        SEMITONE_BANDS
    }

    fn device(&self) -> Device {
        self.spectrum.device()
    }

    fn encode(&mut self, frames: &[f32], rows: &mut Vec<f32>) -> Result<(), EncodeError> {
        let device = self.device();
        in_audio_passes(frames, self.params.frame_len, device, |part| {
            self.encode_pass(part, rows)
        })
    }

    fn reset(&mut self) -> Result<(), EncodeError> {
        Ok(())
    }

    fn is_stateless(&self) -> bool {
        true
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

    fn loudest_band(hz: f32) -> usize {
        let tone: Vec<f32> = (0..PARAMS.frame_len)
            .map(|n| 0.5 * (2.0 * std::f32::consts::PI * hz * n as f32 / PARAMS.rate_hz as f32).sin())
            .collect();
        let mut rows = Vec::new();
        SemitoneBands::new(PARAMS, Device::Cpu)
            .unwrap()
            .encode(&tone, &mut rows)
            .unwrap();
        assert_eq!(rows.len(), SEMITONE_BANDS);
        rows.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0
    }

    #[test]
    fn a_tone_is_loudest_in_its_own_semitone() {
        // A4 (MIDI 69), its neighbours a semitone either side, and C7 (MIDI 96).
        for (hz, midi) in [(440.0, 69), (415.3, 68), (466.16, 70), (2093.0, 96)] {
            assert_eq!(loudest_band(hz), midi - LOWEST_MIDI, "{hz} Hz");
        }
    }

    #[test]
    fn weights_fall_linearly_to_a_semitone_away() {
        let (rate, frame_len) = (8_000, 8_000);
        let weights = semitone_filterbank(rate, frame_len, LOWEST_MIDI, SEMITONE_BANDS);
        let bins = frame_len / 2 + 1;
        let a4 = 69 - LOWEST_MIDI;
        assert!((weights[a4 * bins + 440] - 1.0).abs() < 1e-6);
        // A quarter-tone above A4 is shared equally by A4 and B♭4.
        let quarter_tone_bin = (440.0f64 * 2f64.powf(0.5 / 12.0)).round() as usize;
        let (here, next) = (
            weights[a4 * bins + quarter_tone_bin],
            weights[(a4 + 1) * bins + quarter_tone_bin],
        );
        assert!(
            (here - next).abs() < 0.05 && (here + next - 1.0).abs() < 1e-6,
            "{here} {next}"
        );
        // No bin feeds bands two semitones away.
        assert_eq!(weights[(a4 + 2) * bins + 440], 0.0);
    }
}
