//! The audio onset envelope: log-mel spectral flux, one value per frame.
//!
//! Flux is the sum over mel bands of the increase in log-mel energy since the previous frame;
//! decreases count as zero, so the envelope rises where sounds start. It comes in two parts,
//! so that a worker can encode the bands of all the streams it holds in one batch:
//! log-mel [`LogBands`], an [`AudioEncoder`] with no memory of its stream, and [`SpectralFlux`],
//! which keeps one stream's previous frame (so that consecutive batches join without a seam).
//! [`OnsetEnvelope`] is the two together, for one stream.

use tch::Device;

use super::audio_encoder::AudioEncoder;
use super::log_bands::{Filterbank, LogBands};
use super::{AudioFrameParams, EncodeError};

/// One stream's spectral flux over consecutive rows of log-mel bands.
#[derive(Debug, Default)]
pub struct SpectralFlux {
    previous: Option<Vec<f32>>,
}

impl SpectralFlux {
    /// The flux of `bands` against the previous row; the first row ever has nothing before it
    /// and is compared with itself (0).
    pub fn push(&mut self, bands: &[f32]) -> f32 {
        let previous = self.previous.get_or_insert_with(|| bands.to_vec());
        let flux = bands
            .iter()
            .zip(previous.iter())
            .map(|(now, before)| (now - before).max(0.0))
            .sum();
        previous.copy_from_slice(bands);
        flux
    }

    /// Forgets the previous row, e.g. after a gap in the audio.
    pub fn reset(&mut self) {
        self.previous = None;
    }
}

/// Streaming log-mel spectral flux of one stream.
#[derive(Debug)]
pub struct OnsetEnvelope {
    bands: LogBands,
    flux: SpectralFlux,
    rows: Vec<f32>,
}

impl OnsetEnvelope {
    /// An onset envelope over `n_mels` bands for frames framed by `params`, on `device`.
    pub fn new(params: AudioFrameParams, n_mels: usize, device: Device) -> Result<Self, EncodeError> {
        Ok(Self {
            bands: LogBands::new(Filterbank::Mel { bands: n_mels }, params, device)?,
            flux: SpectralFlux::default(),
            rows: Vec::new(),
        })
    }

    /// The framing this envelope expects.
    pub fn params(&self) -> AudioFrameParams {
        self.bands.params()
    }

    /// Forgets the previous frame, e.g. after a gap in the audio.
    pub fn reset(&mut self) {
        self.flux.reset();
    }

    /// Appends one flux value per frame of `frames` (row-major, `frame_len` samples each).
    pub fn encode(&mut self, frames: &[f32], flux: &mut Vec<f32>) -> Result<(), EncodeError> {
        self.rows.clear();
        self.bands.encode(frames, &mut self.rows)?;
        let n_mels = self.bands.dim();
        flux.extend(self.rows.chunks_exact(n_mels).map(|row| self.flux.push(row)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::AudioFramer;

    #[test]
    fn a_beep_after_silence_makes_one_peak_at_its_start() {
        let params = AudioFrameParams {
            rate_hz: 16_000,
            frame_len: 256,
            hop_len: 80,
            history_len: 0,
        };
        let mut envelope = OnsetEnvelope::new(params, 40, Device::Cpu).unwrap();
        let mut framer = AudioFramer::new(params).unwrap();
        let onset = 8_000;
        let signal: Vec<f32> = (0..16_000)
            .map(|n| {
                if (onset..onset + 480).contains(&n) {
                    0.5 * (n as f32 * std::f32::consts::FRAC_PI_8).sin()
                } else {
                    0.0
                }
            })
            .collect();
        let (mut frames, mut times) = (Vec::new(), Vec::new());
        // Two batches, to check that they join.
        framer.push(0, &signal[..9_000], &mut frames, &mut times);
        let mut flux = Vec::new();
        envelope.encode(&frames, &mut flux).unwrap();
        frames.clear();
        framer.push(9_000 * 62_500, &signal[9_000..], &mut frames, &mut times);
        envelope.encode(&frames, &mut flux).unwrap();
        assert_eq!(flux.len(), times.len());
        let peak = flux.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        let peak_ms = times[peak] as f64 / 1e6;
        assert!((peak_ms - 500.0).abs() <= 10.0, "peak at {peak_ms} ms");
        assert_eq!(flux[0], 0.0);
    }
}
