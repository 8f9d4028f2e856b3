//! What `sync` reads from each picture: how much it brightened since the previous frame, and
//! its mean brightness in a grid of blocks, both at a fixed working size in greyscale.
//!
//! - Frames come greyscale or RGB at any size; they are brought to luma and to the working size
//!   (area averaging) on the device. The working-size luma of each frame is handed back too,
//!   for a thumbnail.
//! - The brightening is the mean over pixels of the positive part of the luma difference from
//!   the previous frame, with luma in [0, 1]. Cuts to a brighter picture, flashes and moving
//!   bright objects raise it; darkening does not, so a flash counts once, when it starts.
//! - The blocks are the picture's mean luma over a `columns` × `rows` grid, row by row from the
//!   top left: where in the picture something changes, for the region estimator.

use tch::{Device, Kind, Tensor};

use super::error::torch;
use super::EncodeError;

/// The size and pixel layout of frames, in pixels and bytes per pixel (1: luma, 3: RGB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSize {
    /// Pixels across.
    pub width: usize,
    /// Pixels down.
    pub height: usize,
    /// Bytes per pixel: 1 (luma) or 3 (red, green, blue).
    pub channels: usize,
}

/// What [`PictureChange::encode`] appends per frame.
#[derive(Debug, Default)]
pub struct PictureRows {
    /// One brightening value per frame.
    pub rise: Vec<f32>,
    /// `columns · rows` block values per frame.
    pub blocks: Vec<f32>,
    /// The frame's luma at the working size, `width · height` bytes per frame.
    pub grey: Vec<u8>,
}

impl PictureRows {
    /// Empties the rows for the next batch.
    pub fn clear(&mut self) {
        self.rise.clear();
        self.blocks.clear();
        self.grey.clear();
    }
}

/// Streaming brightening and block brightness over frames.
#[derive(Debug)]
pub struct PictureChange {
    device: Device,
    /// The working size, greyscale.
    width: usize,
    height: usize,
    columns: usize,
    rows: usize,
    previous: Option<Tensor>,
}

impl PictureChange {
    /// A new encoder computed on `device`, working at `width` × `height` in greyscale, with block
    /// brightness over a `columns` × `rows` grid (whose blocks must tile the working size).
    pub fn new(device: Device, width: usize, height: usize, columns: usize, rows: usize) -> Result<Self, EncodeError> {
        if columns == 0 || rows == 0 || !width.is_multiple_of(columns) || !height.is_multiple_of(rows) {
            return Err(EncodeError::BadInputSize {
                what: "working picture size, as whole blocks of the grid",
                expected: columns.max(1) * rows.max(1),
                actual: width * height,
            });
        }
        Ok(Self {
            device,
            width,
            height,
            columns,
            rows,
            previous: None,
        })
    }

    /// Blocks per frame.
    pub fn blocks(&self) -> usize {
        self.columns * self.rows
    }

    /// The working size: (width, height).
    pub fn working_size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// Forgets the previous frame, e.g. after a gap in the video.
    pub fn reset(&mut self) {
        self.previous = None;
    }

    /// Appends each frame of `pixels` (whole frames of `size`, packed) to `out`.
    pub fn encode(&mut self, pixels: &[u8], size: FrameSize, out: &mut PictureRows) -> Result<(), EncodeError> {
        let per_frame = size.width * size.height * size.channels;
        if per_frame == 0 || !matches!(size.channels, 1 | 3) || !pixels.len().is_multiple_of(per_frame) {
            return Err(EncodeError::BadInputSize {
                what: "frame data (whole greyscale or RGB frames)",
                expected: per_frame.max(1),
                actual: pixels.len(),
            });
        }
        if pixels.is_empty() {
            return Ok(());
        }
        let count = (pixels.len() / per_frame) as i64;
        let (height, width, channels) = (size.height as i64, size.width as i64, size.channels as i64);
        let (work_height, work_width) = (self.height as i64, self.width as i64);
        tch::no_grad(|| {
            let frames = Tensor::f_from_slice(pixels)
                .and_then(|t| t.f_view([count, height, width, channels]))
                .map(|t| t.to_device(self.device).to_kind(Kind::Float) / 255.0)
                .map_err(torch("moving video frames to the device"))?;
            // Luma (BT.601, as GStreamer's converter makes GRAY8), then the working size.
            let luma = if channels == 3 {
                let weights = Tensor::from_slice(&[0.299f32, 0.587, 0.114]).to_device(self.device);
                frames.f_matmul(&weights)
            } else {
                frames.f_squeeze_dim(3)
            }
            .map_err(torch("bringing frames to luma"))?;
            let working = if (height, width) == (work_height, work_width) {
                luma
            } else {
                luma.f_unsqueeze(1)
                    .and_then(|l| l.f_adaptive_avg_pool2d([work_height, work_width]))
                    .and_then(|l| l.f_squeeze_dim(1))
                    .map_err(torch("scaling frames to the working size"))?
            }
            .f_reshape([count, work_height * work_width])
            .map_err(torch("flattening frames"))?;
            let previous = match self.previous.take() {
                Some(previous) => previous,
                None => working
                    .f_narrow(0, 0, 1)
                    .map_err(torch("starting the video envelope"))?,
            };
            let rise = Tensor::f_cat(&[&previous, &working], 0)
                .and_then(|joined| joined.f_diff(1, 0, None::<Tensor>, None::<Tensor>))
                .and_then(|delta| delta.f_relu())
                .and_then(|rise| rise.f_mean_dim([1i64].as_slice(), false, Kind::Float))
                .map(|mean| mean.to_device(Device::Cpu))
                .map_err(torch("computing the brightness change"))?;
            let block_height = work_height / self.rows as i64;
            let block_width = work_width / self.columns as i64;
            let blocks = working
                .f_view([count, 1, work_height, work_width])
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
            let grey = (&working * 255.0)
                .f_round()
                .and_then(|g| g.f_clamp(0.0, 255.0))
                .and_then(|g| g.f_reshape([-1]))
                .map(|g| g.to_kind(Kind::Uint8).to_device(Device::Cpu))
                .map_err(torch("keeping the working picture"))?;
            self.previous = Some(
                working
                    .f_narrow(0, count - 1, 1)
                    .map_err(torch("keeping the last frame"))?,
            );
            out.rise
                .extend(Vec::<f32>::try_from(&rise).map_err(torch("reading the video envelope back"))?);
            out.blocks
                .extend(Vec::<f32>::try_from(&blocks).map_err(torch("reading the block brightness back"))?);
            out.grey
                .extend(Vec::<u8>::try_from(&grey).map_err(torch("reading the working picture back"))?);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GREY: FrameSize = FrameSize {
        width: 4,
        height: 4,
        channels: 1,
    };

    fn change() -> PictureChange {
        PictureChange::new(Device::Cpu, 4, 4, 2, 2).unwrap()
    }

    #[test]
    fn a_flash_counts_once_when_it_starts() {
        let mut change = change();
        let size = 16;
        let mut pixels = vec![0u8; size * 5];
        pixels[2 * size..3 * size].fill(255);
        let mut out = PictureRows::default();
        change.encode(&pixels[..2 * size], GREY, &mut out).unwrap();
        change.encode(&pixels[2 * size..], GREY, &mut out).unwrap();
        assert_eq!(out.rise.len(), 5);
        assert!((out.rise[2] - 1.0).abs() < 1e-6);
        assert_eq!(out.rise.iter().filter(|&&c| c > 0.0).count(), 1);
        assert_eq!(out.blocks.len(), 5 * 4);
        assert_eq!(out.grey, pixels);
    }

    #[test]
    fn blocks_are_the_mean_brightness_row_by_row() {
        let mut change = change();
        // Top-right 2×2 quarter white, the rest black; one pixel of the bottom left at 51.
        let mut pixels = vec![0u8; 16];
        for (row, column) in [(0, 2), (0, 3), (1, 2), (1, 3)] {
            pixels[row * 4 + column] = 255;
        }
        pixels[3 * 4] = 51;
        let mut out = PictureRows::default();
        change.encode(&pixels, GREY, &mut out).unwrap();
        let expected = [0.0, 1.0, 0.05, 0.0];
        for (got, want) in out.blocks.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{:?}", out.blocks);
        }
    }

    #[test]
    fn rgb_frames_of_another_size_are_brought_to_working_luma() {
        let mut change = change();
        // 8×8 RGB, pure green: luma 0.587 everywhere.
        let pixels: Vec<u8> = (0..64).flat_map(|_| [0u8, 255, 0]).collect();
        let size = FrameSize {
            width: 8,
            height: 8,
            channels: 3,
        };
        let mut out = PictureRows::default();
        change.encode(&pixels, size, &mut out).unwrap();
        assert_eq!(out.grey.len(), 16);
        assert!(out.blocks.iter().all(|b| (b - 0.587).abs() < 1e-3), "{:?}", out.blocks);
    }

    #[test]
    fn partial_frames_and_grids_off_the_working_size_are_refused() {
        let mut change = change();
        let mut out = PictureRows::default();
        assert!(change.encode(&[0; 17], GREY, &mut out).is_err());
        assert!(PictureChange::new(Device::Cpu, 5, 4, 2, 2).is_err());
    }
}
