//! The records capture hands to the graph.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// A buffer of mono audio samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AudioChunk {
    /// Running time of the first sample.
    pub pts_ns: u64,
    /// Samples in [-1, 1] at the rate asked for in [`AudioNeeds`](super::AudioNeeds).
    pub samples: Vec<f32>,
    /// When the appsink received it, for capture-to-event latency.
    #[serde(with = "super::capture_time")]
    pub captured_at: Instant,
}

/// One video frame, greyscale or RGB as asked for in [`VideoNeeds`](super::VideoNeeds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VideoFrame {
    /// Running time of the frame.
    pub pts_ns: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes per pixel: 1 (luma) or 3 (red, green, blue).
    pub channels: u8,
    /// `width · height · channels` bytes, row by row without padding.
    pub pixels: Vec<u8>,
    /// When the appsink received it, for capture-to-event latency.
    #[serde(with = "super::capture_time")]
    pub captured_at: Instant,
}
