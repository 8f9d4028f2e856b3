//! Power spectra of windowed frames.

use tch::{Device, Kind, Tensor};

use super::error::torch;
use super::EncodeError;

/// Hann-windowed power spectrum of frames of a fixed length, computed on one device.
#[derive(Debug)]
pub(crate) struct PowerSpectrum {
    frame_len: usize,
    window: Tensor,
    device: Device,
}

impl PowerSpectrum {
    pub(crate) fn new(frame_len: usize, device: Device) -> Result<Self, EncodeError> {
        // A periodic Hann window, as librosa and torch.stft use.
        let window = Tensor::f_hann_window(frame_len as i64, (Kind::Float, device))
            .map_err(torch("building the Hann window"))?;
        Ok(Self {
            frame_len,
            window,
            device,
        })
    }

    /// Number of frequency bins: `frame_len / 2 + 1`.
    pub(crate) fn bins(&self) -> usize {
        self.frame_len / 2 + 1
    }

    pub(crate) fn device(&self) -> Device {
        self.device
    }

    /// Moves row-major frames to the device as a `[count, frame_len]` tensor.
    pub(crate) fn frames_tensor(&self, frames: &[f32]) -> Result<Tensor, EncodeError> {
        if !frames.len().is_multiple_of(self.frame_len) {
            return Err(EncodeError::BadInputSize {
                what: "audio frame data",
                expected: self.frame_len,
                actual: frames.len(),
            });
        }
        let count = (frames.len() / self.frame_len) as i64;
        Tensor::f_from_slice(frames)
            .and_then(|t| t.f_view([count, self.frame_len as i64]))
            .map(|t| t.to_device(self.device))
            .map_err(torch("moving audio frames to the device"))
    }

    /// `|rfft(window · frame)|²` for each row of a `[count, frame_len]` tensor.
    pub(crate) fn power(&self, frames: &Tensor) -> Result<Tensor, EncodeError> {
        self.power_below(frames, self.bins())
    }

    /// [`Self::power`] of the lowest `bins` bins only, for filters that weigh no bin above.
    pub(crate) fn power_below(&self, frames: &Tensor, bins: usize) -> Result<Tensor, EncodeError> {
        frames
            .f_mul(&self.window)
            .and_then(|windowed| windowed.f_fft_rfft(None::<i64>, -1, "backward"))
            .and_then(|spectrum| spectrum.f_narrow(-1, 0, bins.min(self.bins()) as i64))
            .and_then(|spectrum| spectrum.f_abs())
            .and_then(|magnitude| magnitude.f_square())
            .map_err(torch("computing power spectra"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_peaks_in_its_bin() {
        let spectrum = PowerSpectrum::new(64, Device::Cpu).unwrap();
        let frame: Vec<f32> = (0..64)
            .map(|n| (2.0 * std::f32::consts::PI * 8.0 * n as f32 / 64.0).sin())
            .collect();
        let power = spectrum.power(&spectrum.frames_tensor(&frame).unwrap()).unwrap();
        assert_eq!(power.size(), vec![1, 33]);
        let values = Vec::<f32>::try_from(&power.view([-1])).unwrap();
        let peak = values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(peak, 8);
    }

    #[test]
    fn ragged_frames_are_refused() {
        let spectrum = PowerSpectrum::new(64, Device::Cpu).unwrap();
        assert!(spectrum.frames_tensor(&[0.0; 65]).is_err());
    }
}
