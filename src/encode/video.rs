//! The video change envelope: how much the picture brightened since the previous frame.
//!
//! For each frame, the mean over pixels of the positive part of the luma difference from the
//! previous frame, with luma in [0, 1]. Cuts to a brighter picture, flashes and moving bright
//! objects raise it; darkening does not, so a flash counts once, when it starts.

use tch::{Device, Kind, Tensor};

use super::error::torch;
use super::EncodeError;

/// Streaming brightness-change envelope over greyscale frames.
#[derive(Debug)]
pub struct BrightnessChange {
    device: Device,
    previous: Option<(Tensor, usize)>,
}

impl BrightnessChange {
    /// A new envelope computed on `device`.
    pub fn new(device: Device) -> Self {
        Self { device, previous: None }
    }

    /// Forgets the previous frame, e.g. after a gap in the video.
    pub fn reset(&mut self) {
        self.previous = None;
    }

    /// Appends one change value per frame of `pixels`, which holds whole greyscale frames of
    /// `pixels_per_frame` bytes each.
    pub fn encode(&mut self, pixels: &[u8], pixels_per_frame: usize, change: &mut Vec<f32>) -> Result<(), EncodeError> {
        if pixels_per_frame == 0 || !pixels.len().is_multiple_of(pixels_per_frame) {
            return Err(EncodeError::BadInputSize {
                what: "greyscale frame data",
                expected: pixels_per_frame.max(1),
                actual: pixels.len(),
            });
        }
        if pixels.is_empty() {
            return Ok(());
        }
        let count = (pixels.len() / pixels_per_frame) as i64;
        tch::no_grad(|| {
            let frames = Tensor::f_from_slice(pixels)
                .and_then(|t| t.f_view([count, pixels_per_frame as i64]))
                .map(|t| t.to_device(self.device).to_kind(Kind::Float) / 255.0)
                .map_err(torch("moving video frames to the device"))?;
            // A change of frame size (new caps) makes the old frame incomparable.
            let previous = match self.previous.take() {
                Some((previous, size)) if size == pixels_per_frame => previous,
                _ => frames.f_narrow(0, 0, 1).map_err(torch("starting the video envelope"))?,
            };
            let values = Tensor::f_cat(&[&previous, &frames], 0)
                .and_then(|joined| joined.f_diff(1, 0, None::<Tensor>, None::<Tensor>))
                .and_then(|delta| delta.f_relu())
                .and_then(|rise| rise.f_mean_dim([1i64].as_slice(), false, Kind::Float))
                .map(|mean| mean.to_device(Device::Cpu))
                .map_err(torch("computing the brightness change"))?;
            let last = frames
                .f_narrow(0, count - 1, 1)
                .map_err(torch("keeping the last frame"))?;
            self.previous = Some((last, pixels_per_frame));
            change.extend(Vec::<f32>::try_from(&values).map_err(torch("reading the video envelope back"))?);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flash_counts_once_when_it_starts() {
        let mut envelope = BrightnessChange::new(Device::Cpu);
        let size = 16;
        let mut pixels = vec![0u8; size * 5];
        pixels[2 * size..3 * size].fill(255);
        let mut change = Vec::new();
        envelope.encode(&pixels[..2 * size], size, &mut change).unwrap();
        envelope.encode(&pixels[2 * size..], size, &mut change).unwrap();
        assert_eq!(change.len(), 5);
        assert!((change[2] - 1.0).abs() < 1e-6);
        assert_eq!(change.iter().filter(|&&c| c > 0.0).count(), 1);
    }

    #[test]
    fn partial_frames_are_refused() {
        let mut envelope = BrightnessChange::new(Device::Cpu);
        assert!(envelope.encode(&[0; 17], 16, &mut Vec::new()).is_err());
    }
}
