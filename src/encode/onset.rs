//! The audio onset envelope: log-mel spectral flux, one value per frame.
//!
//! Flux is the sum over mel bands of the increase in log-mel energy since the previous frame;
//! decreases count as zero, so the envelope rises where sounds start. It keeps the last frame
//! of each batch so consecutive batches join without a seam.

use tch::{Device, Tensor};

use super::error::torch;
use super::mel::LogMel;
use super::spectrum::PowerSpectrum;
use super::{AudioFrameParams, EncodeError};

/// Streaming log-mel spectral flux.
#[derive(Debug)]
pub struct OnsetEnvelope {
    params: AudioFrameParams,
    log_mel: LogMel,
    previous: Option<Tensor>,
}

impl OnsetEnvelope {
    /// An onset envelope over `n_mels` bands for frames framed by `params`, on `device`.
    pub fn new(params: AudioFrameParams, n_mels: usize, device: Device) -> Result<Self, EncodeError> {
        params.validate()?;
        let spectrum = PowerSpectrum::new(params.frame_len, device)?;
        let log_mel = LogMel::new(spectrum, params.rate_hz, params.frame_len, n_mels)?;
        Ok(Self {
            params,
            log_mel,
            previous: None,
        })
    }

    /// The framing this envelope expects.
    pub fn params(&self) -> AudioFrameParams {
        self.params
    }

    /// Forgets the previous frame, e.g. after a gap in the audio.
    pub fn reset(&mut self) {
        self.previous = None;
    }

    /// Appends one flux value per frame of `frames` (row-major, `frame_len` samples each).
    pub fn encode(&mut self, frames: &[f32], flux: &mut Vec<f32>) -> Result<(), EncodeError> {
        if frames.is_empty() {
            return Ok(());
        }
        tch::no_grad(|| {
            let batch = self.log_mel.spectrum().frames_tensor(frames)?;
            let log_mel = self.log_mel.log_mel(&batch)?;
            let count = log_mel.size()[0];
            // The first frame ever has nothing before it and is compared with itself.
            let previous = match self.previous.take() {
                Some(previous) => previous,
                None => log_mel
                    .f_narrow(0, 0, 1)
                    .map_err(torch("starting the onset envelope"))?,
            };
            let values = Tensor::f_cat(&[&previous, &log_mel], 0)
                .and_then(|joined| joined.f_diff(1, 0, None::<Tensor>, None::<Tensor>))
                .and_then(|rise| rise.f_relu())
                .and_then(|rise| rise.f_sum_dim_intlist([1i64].as_slice(), false, tch::Kind::Float))
                .map(|sum| sum.to_device(Device::Cpu))
                .map_err(torch("computing spectral flux"))?;
            self.previous = Some(
                log_mel
                    .f_narrow(0, count - 1, 1)
                    .map_err(torch("keeping the last frame"))?,
            );
            flux.extend(Vec::<f32>::try_from(&values).map_err(torch("reading the onset envelope back"))?);
            Ok(())
        })
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
