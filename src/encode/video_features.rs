//! Video frame features as tensor ops: a luma thumbnail, a colour histogram and motion energy,
//! one row per frame, computed on the encoder's device (resizing included).
//!
//! Frames arrive as packed 8-bit pixels of one size ([`VideoFrameFormat`]): RGB (3 bytes a
//! pixel) or greyscale (1 byte). Luma is BT.601's `0.299 R + 0.587 G + 0.114 B`, as GStreamer's
//! `videoconvert` makes greyscale from RGB by default, so both inputs give the same features.
//! Downscaling averages over areas (adaptive average pooling), which does not alias the way
//! sampling every n-th pixel does.

use std::fmt;
use std::str::FromStr;

use tch::{Device, Kind, Tensor};

use super::device::frames_per_pass;
use super::error::torch;
use super::EncodeError;

/// How the pixels of a frame are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelLayout {
    /// Three bytes a pixel: red, green, blue.
    Rgb,
    /// One byte a pixel: luma.
    Gray,
}

impl PixelLayout {
    /// Bytes per pixel.
    pub fn channels(self) -> usize {
        match self {
            PixelLayout::Rgb => 3,
            PixelLayout::Gray => 1,
        }
    }
}

/// Size and layout of the frames an encoder takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFrameFormat {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Pixel packing.
    pub layout: PixelLayout,
}

impl VideoFrameFormat {
    /// Bytes in one frame.
    pub fn frame_bytes(&self) -> usize {
        self.width * self.height * self.layout.channels()
    }
}

/// Which feature is computed from each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoFeature {
    /// The luma picture scaled to `side × side`, less its mean, at unit length: the picture's
    /// layout, whatever its brightness and contrast. A flat frame gives zeros.
    LumaThumbnail {
        /// Pixels per side of the thumbnail.
        side: usize,
    },
    /// The share of pixels in each of `bins³` RGB cells (`bins` levels per channel), summing to
    /// 1: the frame's colours, whatever their layout. Greyscale frames fill the grey diagonal.
    ColourHistogram {
        /// Levels per channel.
        bins: usize,
    },
    /// Mean absolute luma change since the previous frame in each cell of a `grid × grid`
    /// division of the picture (luma in [0, 1]): where and how much the picture moves. The first
    /// frame, and the first after [`VideoFeatureEncoder::reset`], gives zeros.
    MotionEnergy {
        /// Cells per side.
        grid: usize,
    },
}

impl VideoFeature {
    /// Values per frame.
    pub fn dim(self) -> usize {
        match self {
            VideoFeature::LumaThumbnail { side } => side * side,
            VideoFeature::ColourHistogram { bins } => bins * bins * bins,
            VideoFeature::MotionEnergy { grid } => grid * grid,
        }
    }
}

impl FromStr for VideoFeature {
    type Err = EncodeError;

    /// `thumbnail[:SIDE]` (16), `histogram[:BINS]` (4), `motion[:GRID]` (4).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, size) = text.split_once(':').map_or((text, None), |(n, s)| (n, Some(s)));
        let bad = || EncodeError::BadParameter {
            name: "--video-features",
            value: text.to_owned(),
            expected: "'thumbnail[:SIDE]', 'histogram[:BINS]' or 'motion[:GRID]' with a size from 1 to 64",
        };
        let size = match size {
            None => None,
            Some(size) => Some(
                size.parse::<usize>()
                    .ok()
                    .filter(|s| (1..=64).contains(s))
                    .ok_or_else(bad)?,
            ),
        };
        match name {
            "thumbnail" => Ok(VideoFeature::LumaThumbnail {
                side: size.unwrap_or(16),
            }),
            "histogram" => Ok(VideoFeature::ColourHistogram {
                bins: size.unwrap_or(4),
            }),
            "motion" => Ok(VideoFeature::MotionEnergy {
                grid: size.unwrap_or(4),
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for VideoFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VideoFeature::LumaThumbnail { side } => write!(f, "thumbnail:{side}"),
            VideoFeature::ColourHistogram { bins } => write!(f, "histogram:{bins}"),
            VideoFeature::MotionEnergy { grid } => write!(f, "motion:{grid}"),
        }
    }
}

/// Streaming encoder of one [`VideoFeature`] over frames of one format.
#[derive(Debug)]
pub struct VideoFeatureEncoder {
    feature: VideoFeature,
    format: VideoFrameFormat,
    device: Device,
    /// The last frame's luma, `[1, 1, height, width]`, for motion energy.
    previous_luma: Option<Tensor>,
}

impl VideoFeatureEncoder {
    /// An encoder of `feature` for frames of `format`, on `device`.
    pub fn new(feature: VideoFeature, format: VideoFrameFormat, device: Device) -> Result<Self, EncodeError> {
        let size = match feature {
            VideoFeature::LumaThumbnail { side } => side,
            VideoFeature::ColourHistogram { bins } => bins,
            VideoFeature::MotionEnergy { grid } => grid,
        };
        if !(1..=64).contains(&size) {
            return Err(EncodeError::BadParameter {
                name: "video feature size",
                value: size.to_string(),
                expected: "from 1 to 64",
            });
        }
        if format.width == 0 || format.height == 0 {
            return Err(EncodeError::BadParameter {
                name: "video frame size",
                value: format!("{}x{}", format.width, format.height),
                expected: "at least 1x1",
            });
        }
        Ok(Self {
            feature,
            format,
            device,
            previous_luma: None,
        })
    }

    /// Values per frame.
    pub fn dim(&self) -> usize {
        self.feature.dim()
    }

    /// The feature computed.
    pub fn feature(&self) -> VideoFeature {
        self.feature
    }

    /// The frames taken.
    pub fn format(&self) -> VideoFrameFormat {
        self.format
    }

    /// Forgets the previous frame, e.g. after a gap in the video.
    pub fn reset(&mut self) {
        self.previous_luma = None;
    }

    /// Encodes whole frames of packed pixels into `dim` values per frame, appended to
    /// `features`. Frames are consecutive across calls.
    pub fn encode(&mut self, pixels: &[u8], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        let frame_bytes = self.format.frame_bytes();
        if !pixels.len().is_multiple_of(frame_bytes) {
            return Err(EncodeError::BadInputSize {
                what: "video frame data",
                expected: frame_bytes,
                actual: pixels.len(),
            });
        }
        let pass = frames_per_pass(self.device, frame_bytes).saturating_mul(frame_bytes);
        pixels
            .chunks(pass)
            .try_for_each(|part| self.encode_pass(part, features))
    }

    fn encode_pass(&mut self, pixels: &[u8], features: &mut Vec<f32>) -> Result<(), EncodeError> {
        tch::no_grad(|| {
            let frames = self.frames_tensor(pixels)?;
            let rows = match self.feature {
                VideoFeature::LumaThumbnail { side } => thumbnail(&self.luma(&frames)?, side)?,
                VideoFeature::ColourHistogram { bins } => self.histogram(&frames, bins)?,
                VideoFeature::MotionEnergy { grid } => {
                    let luma = self.luma(&frames)?;
                    self.motion(luma, grid)?
                }
            };
            let values = Vec::<f32>::try_from(&rows.to_device(Device::Cpu).reshape([-1]))
                .map_err(torch("reading video features back"))?;
            features.extend_from_slice(&values);
            Ok(())
        })
    }

    /// `[count, height, width, channels]` floats in [0, 1] on the device: packed as they came,
    /// so that every later step reads memory in order.
    fn frames_tensor(&self, pixels: &[u8]) -> Result<Tensor, EncodeError> {
        let f = self.format;
        let count = (pixels.len() / f.frame_bytes()) as i64;
        let channels = f.layout.channels() as i64;
        Tensor::f_from_slice(pixels)
            .and_then(|t| t.f_view([count, f.height as i64, f.width as i64, channels]))
            .map(|t| t.to_device(self.device).to_kind(Kind::Float) / 255.0)
            .map_err(torch("moving video frames to the device"))
    }

    /// `[count, 1, height, width]` luma.
    fn luma(&self, frames: &Tensor) -> Result<Tensor, EncodeError> {
        let f = self.format;
        let shape = [frames.size()[0], 1, f.height as i64, f.width as i64];
        match f.layout {
            PixelLayout::Gray => frames.f_reshape(shape),
            PixelLayout::Rgb => Tensor::f_from_slice(&[0.299f32, 0.587, 0.114])
                .and_then(|w| w.f_view([3, 1]))
                .map(|w| w.to_device(self.device))
                .and_then(|w| frames.f_matmul(&w))
                .and_then(|luma| luma.f_reshape(shape)),
        }
        .map_err(torch("computing luma"))
    }

    /// `[count, bins³]` shares of pixels per RGB cell.
    fn histogram(&self, frames: &Tensor, bins: usize) -> Result<Tensor, EncodeError> {
        let count = frames.size()[0];
        let levels = bins as i64;
        let cells = levels * levels * levels;
        let pixels = (self.format.width * self.format.height) as f64;
        let level = |channel: Tensor| -> Result<Tensor, tch::TchError> {
            (channel * bins as f64)
                .f_floor()?
                .f_clamp(0, levels - 1)?
                .f_to_kind(Kind::Int64)
        };
        let result = (|| -> Result<Tensor, tch::TchError> {
            let (red, green, blue) = match self.format.layout {
                PixelLayout::Rgb => (
                    level(frames.f_select(3, 0)?)?,
                    level(frames.f_select(3, 1)?)?,
                    level(frames.f_select(3, 2)?)?,
                ),
                PixelLayout::Gray => {
                    let grey = level(frames.f_select(3, 0)?)?;
                    (grey.shallow_clone(), grey.shallow_clone(), grey)
                }
            };
            // One bincount for the whole batch: frame n's cells are offset by n · cells.
            let offsets = Tensor::f_arange_start_step(0, count * cells, cells, (Kind::Int64, self.device))?
                .f_view([count, 1, 1])?;
            let index = ((red * levels + green) * levels + blue + offsets).f_reshape([-1])?;
            let counts = index.f_bincount(None::<Tensor>, count * cells)?;
            Ok(counts.f_view([count, cells])?.to_kind(Kind::Float) / pixels)
        })();
        result.map_err(torch("computing colour histograms"))
    }

    /// `[count, grid²]` mean absolute luma change per cell.
    fn motion(&mut self, luma: Tensor, grid: usize) -> Result<Tensor, EncodeError> {
        let count = luma.size()[0];
        let previous = match self.previous_luma.take() {
            Some(previous) => previous,
            None => luma.f_narrow(0, 0, 1).map_err(torch("starting motion energy"))?,
        };
        let side = grid as i64;
        let energy = Tensor::f_cat(&[&previous, &luma], 0)
            .and_then(|joined| joined.f_diff(1, 0, None::<Tensor>, None::<Tensor>))
            .and_then(|change| change.f_abs())
            .and_then(|change| change.f_adaptive_avg_pool2d([side, side]))
            .and_then(|cells| cells.f_reshape([count, side * side]))
            .map_err(torch("computing motion energy"))?;
        self.previous_luma = Some(
            luma.f_narrow(0, count - 1, 1)
                .map_err(torch("keeping the last frame"))?,
        );
        Ok(energy)
    }
}

/// `[count, side²]`: luma averaged down to `side × side`, less its mean, at unit length.
fn thumbnail(luma: &Tensor, side: usize) -> Result<Tensor, EncodeError> {
    let count = luma.size()[0];
    let side = side as i64;
    (|| -> Result<Tensor, tch::TchError> {
        let small = luma
            .f_adaptive_avg_pool2d([side, side])?
            .f_reshape([count, side * side])?;
        let centred = &small - small.f_mean_dim([1i64].as_slice(), true, Kind::Float)?;
        let norms = centred
            .f_norm_scalaropt_dim(2.0, [1i64].as_slice(), true)?
            .f_clamp_min(1e-6)?;
        centred.f_div(&norms)
    })()
    .map_err(torch("computing luma thumbnails"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RGB: VideoFrameFormat = VideoFrameFormat {
        width: 8,
        height: 6,
        layout: PixelLayout::Rgb,
    };

    fn encode(feature: VideoFeature, format: VideoFrameFormat, pixels: &[u8]) -> Vec<f32> {
        let mut encoder = VideoFeatureEncoder::new(feature, format, Device::Cpu).unwrap();
        let mut out = Vec::new();
        encoder.encode(pixels, &mut out).unwrap();
        out
    }

    /// An RGB frame of one colour with a white `w × h` box at (x, y).
    fn frame_with_box(colour: [u8; 3], x: usize, y: usize, w: usize, h: usize) -> Vec<u8> {
        let mut pixels = Vec::new();
        for row in 0..RGB.height {
            for column in 0..RGB.width {
                let inside = (x..x + w).contains(&column) && (y..y + h).contains(&row);
                pixels.extend(if inside { [255, 255, 255] } else { colour });
            }
        }
        pixels
    }

    #[test]
    fn a_thumbnail_keeps_the_layout_and_drops_brightness_and_contrast() {
        let feature = VideoFeature::LumaThumbnail { side: 2 };
        let left_bright: Vec<u8> = (0..RGB.height * RGB.width)
            .flat_map(|k| if k % RGB.width < 4 { [200; 3] } else { [50; 3] })
            .collect();
        let dimmer: Vec<u8> = left_bright.iter().map(|&v| v / 2 + 10).collect();
        let a = encode(feature, RGB, &left_bright);
        let b = encode(feature, RGB, &dimmer);
        assert!((a[0] - 0.5).abs() < 1e-5 && (a[1] + 0.5).abs() < 1e-5, "{a:?}");
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5);
        }
        let flat = encode(feature, RGB, &[90; 8 * 6 * 3]);
        assert!(flat.iter().all(|v| v.abs() < 1e-6));
    }

    #[test]
    fn a_histogram_counts_each_colour_in_its_cell() {
        let feature = VideoFeature::ColourHistogram { bins: 2 };
        // 4 of 48 pixels white (cell 7), the rest pure red (cell 4: red high, green and blue low).
        let histogram = encode(feature, RGB, &frame_with_box([255, 0, 0], 0, 0, 2, 2));
        assert_eq!(histogram.len(), 8);
        assert!((histogram[7] - 4.0 / 48.0).abs() < 1e-6 && (histogram[4] - 44.0 / 48.0).abs() < 1e-6);
        assert!((histogram.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let grey = VideoFrameFormat {
            layout: PixelLayout::Gray,
            ..RGB
        };
        let mid_grey = encode(feature, grey, &[200; 48]);
        assert!((mid_grey[7] - 1.0).abs() < 1e-6, "{mid_grey:?}");
    }

    #[test]
    fn motion_shows_where_the_picture_changed_and_joins_batches() {
        let feature = VideoFeature::MotionEnergy { grid: 2 };
        let mut pixels = frame_with_box([0, 0, 0], 0, 0, 2, 2);
        pixels.extend(frame_with_box([0, 0, 0], 5, 4, 2, 2));
        let motion = encode(feature, RGB, &pixels);
        assert_eq!(motion.len(), 8);
        assert!(motion[..4].iter().all(|&v| v == 0.0), "first frame: {motion:?}");
        // The box left the top-left quarter and entered the bottom-right one (4 of 12 pixels).
        assert!((motion[4] - 4.0 / 12.0).abs() < 1e-5 && (motion[7] - 4.0 / 12.0).abs() < 1e-5);
        assert!(motion[5].abs() < 1e-6 && motion[6].abs() < 1e-6);
        let mut encoder = VideoFeatureEncoder::new(feature, RGB, Device::Cpu).unwrap();
        let mut split = Vec::new();
        encoder.encode(&pixels[..RGB.frame_bytes()], &mut split).unwrap();
        encoder.encode(&pixels[RGB.frame_bytes()..], &mut split).unwrap();
        assert_eq!(split, motion);
    }

    #[test]
    fn names_parse_and_bad_input_is_refused() {
        assert_eq!(
            "thumbnail".parse::<VideoFeature>().unwrap(),
            VideoFeature::LumaThumbnail { side: 16 }
        );
        assert_eq!(
            "histogram:8".parse::<VideoFeature>().unwrap(),
            VideoFeature::ColourHistogram { bins: 8 }
        );
        assert_eq!("motion:3".parse::<VideoFeature>().unwrap().to_string(), "motion:3");
        for bad in ["thumb", "motion:0", "histogram:x", "thumbnail:65"] {
            assert!(bad.parse::<VideoFeature>().is_err(), "{bad}");
        }
        let mut encoder = VideoFeatureEncoder::new(VideoFeature::MotionEnergy { grid: 2 }, RGB, Device::Cpu).unwrap();
        let error = encoder.encode(&[0; 10], &mut Vec::new()).unwrap_err().to_string();
        assert!(error.contains("144"), "{error}");
    }
}
