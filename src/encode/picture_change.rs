//! What `sync` reads from each picture: how much it brightened since the previous frame, and
//! its mean brightness in a grid of blocks.
//!
//! - The brightening is the mean over pixels of the positive part of the luma difference from
//!   the previous frame, with luma in [0, 1]. Cuts to a brighter picture, flashes and moving
//!   bright objects raise it; darkening does not, so a flash counts once, when it starts.
//! - The blocks are the picture's mean luma over a `columns` × `rows` grid, row by row from the
//!   top left: where in the picture something changes, for the region estimator.

use tch::{Device, Kind, Tensor};

use super::error::torch;
use super::EncodeError;

/// Streaming brightening and block brightness over greyscale frames.
#[derive(Debug)]
pub struct PictureChange {
    device: Device,
    columns: usize,
    rows: usize,
    previous: Option<(Tensor, usize)>,
}

/// The size of greyscale frames, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSize {
    /// Pixels across.
    pub width: usize,
    /// Pixels down.
    pub height: usize,
}

impl PictureChange {
    /// A new encoder computed on `device`, with block brightness over a `columns` × `rows`
    /// grid.
    pub fn new(device: Device, columns: usize, rows: usize) -> Self {
        Self {
            device,
            columns,
            rows,
            previous: None,
        }
    }

    /// Blocks per frame.
    pub fn blocks(&self) -> usize {
        self.columns * self.rows
    }

    /// Forgets the previous frame, e.g. after a gap in the video.
    pub fn reset(&mut self) {
        self.previous = None;
    }

    /// Appends one brightening value per frame of `pixels` to `rise`, and each frame's block
    /// brightness to `blocks`. `pixels` holds whole greyscale frames of `size`, whose sides
    /// must divide into the grid.
    pub fn encode(
        &mut self,
        pixels: &[u8],
        size: FrameSize,
        rise: &mut Vec<f32>,
        blocks: &mut Vec<f32>,
    ) -> Result<(), EncodeError> {
        let per_frame = size.width * size.height;
        if per_frame == 0 || !pixels.len().is_multiple_of(per_frame) {
            return Err(EncodeError::BadInputSize {
                what: "greyscale frame data",
                expected: per_frame.max(1),
                actual: pixels.len(),
            });
        }
        if self.columns == 0
            || self.rows == 0
            || !size.width.is_multiple_of(self.columns)
            || !size.height.is_multiple_of(self.rows)
        {
            return Err(EncodeError::BadInputSize {
                what: "frame width and height, as whole blocks of the grid",
                expected: self.columns.max(1) * self.rows.max(1),
                actual: per_frame,
            });
        }
        if pixels.is_empty() {
            return Ok(());
        }
        let count = (pixels.len() / per_frame) as i64;
        let (height, width) = (size.height as i64, size.width as i64);
        tch::no_grad(|| {
            let frames = Tensor::f_from_slice(pixels)
                .and_then(|t| t.f_view([count, per_frame as i64]))
                .map(|t| t.to_device(self.device).to_kind(Kind::Float) / 255.0)
                .map_err(torch("moving video frames to the device"))?;
            // A change of frame size (new caps) makes the old frame incomparable.
            let previous = match self.previous.take() {
                Some((previous, size)) if size == per_frame => previous,
                _ => frames.f_narrow(0, 0, 1).map_err(torch("starting the video envelope"))?,
            };
            let values = Tensor::f_cat(&[&previous, &frames], 0)
                .and_then(|joined| joined.f_diff(1, 0, None::<Tensor>, None::<Tensor>))
                .and_then(|delta| delta.f_relu())
                .and_then(|rise| rise.f_mean_dim([1i64].as_slice(), false, Kind::Float))
                .map(|mean| mean.to_device(Device::Cpu))
                .map_err(torch("computing the brightness change"))?;
            let block_height = height / self.rows as i64;
            let block_width = width / self.columns as i64;
            let means = frames
                .f_view([count, 1, height, width])
                .and_then(|f| {
                    f.f_avg_pool2d(
                        [block_height, block_width],
                        [block_height, block_width],
                        [0, 0],
                        false,
                        true,
                        None,
                    )
                })
                .and_then(|b| b.f_reshape([-1]))
                .map(|b| b.to_device(Device::Cpu))
                .map_err(torch("computing the block brightness"))?;
            let last = frames
                .f_narrow(0, count - 1, 1)
                .map_err(torch("keeping the last frame"))?;
            self.previous = Some((last, per_frame));
            rise.extend(Vec::<f32>::try_from(&values).map_err(torch("reading the video envelope back"))?);
            blocks.extend(Vec::<f32>::try_from(&means).map_err(torch("reading the block brightness back"))?);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: FrameSize = FrameSize { width: 4, height: 4 };

    #[test]
    fn a_flash_counts_once_when_it_starts() {
        let mut change = PictureChange::new(Device::Cpu, 2, 2);
        let size = 16;
        let mut pixels = vec![0u8; size * 5];
        pixels[2 * size..3 * size].fill(255);
        let (mut rise, mut blocks) = (Vec::new(), Vec::new());
        change
            .encode(&pixels[..2 * size], SIZE, &mut rise, &mut blocks)
            .unwrap();
        change
            .encode(&pixels[2 * size..], SIZE, &mut rise, &mut blocks)
            .unwrap();
        assert_eq!(rise.len(), 5);
        assert!((rise[2] - 1.0).abs() < 1e-6);
        assert_eq!(rise.iter().filter(|&&c| c > 0.0).count(), 1);
        assert_eq!(blocks.len(), 5 * 4);
    }

    #[test]
    fn blocks_are_the_mean_brightness_row_by_row() {
        let mut change = PictureChange::new(Device::Cpu, 2, 2);
        // Top-right 2×2 quarter white, the rest black; one pixel of the bottom left at 51.
        let mut pixels = vec![0u8; 16];
        for (row, column) in [(0, 2), (0, 3), (1, 2), (1, 3)] {
            pixels[row * 4 + column] = 255;
        }
        pixels[3 * 4] = 51;
        let (mut rise, mut blocks) = (Vec::new(), Vec::new());
        change.encode(&pixels, SIZE, &mut rise, &mut blocks).unwrap();
        let expected = [0.0, 1.0, 0.05, 0.0];
        for (got, want) in blocks.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{blocks:?}");
        }
    }

    #[test]
    fn partial_frames_and_sizes_off_the_grid_are_refused() {
        let mut change = PictureChange::new(Device::Cpu, 2, 2);
        let (mut rise, mut blocks) = (Vec::new(), Vec::new());
        assert!(change.encode(&[0; 17], SIZE, &mut rise, &mut blocks).is_err());
        let odd = FrameSize { width: 5, height: 4 };
        assert!(change.encode(&[0; 20], odd, &mut rise, &mut blocks).is_err());
    }
}
