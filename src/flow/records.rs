//! Records that travel between the graph's operators.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::align::SpeechWindow;
use crate::events::EventBody;
use crate::media::{AudioChunk, VideoFrame};

/// One value of an audio envelope (onset strength or level) at a point in time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvelopeSample {
    /// Running time the value belongs to.
    pub time_ns: u64,
    /// Envelope value.
    pub value: f32,
    /// When the media it was computed from was captured.
    pub captured_at: Instant,
}

/// What `sync` reads from one picture.
#[derive(Debug, Clone, PartialEq)]
pub struct PictureSample {
    /// Running time of the frame.
    pub time_ns: u64,
    /// How much the picture brightened since the previous frame (luma in [0, 1]).
    pub rise: f32,
    /// The mean brightness of each block of the picture's grid, row by row.
    pub blocks: Vec<f32>,
    /// What a face model (`--face-model`) found: `[x, y, width, height, score]`, the box in
    /// fractions of the picture from its top left and the model's score in [0, 1].
    pub face: Option<[f32; FACE_OUTPUTS]>,
    /// A sync model's video embedding (`--sync-model`) of the pictures up to this one, with
    /// the time it stands for (the middle of those pictures); once enough pictures have come.
    pub embedding: Option<(u64, Vec<f32>)>,
    /// When the frame was captured.
    pub captured_at: Instant,
}

/// Values a face model gives per frame: a box and a score.
pub const FACE_OUTPUTS: usize = 5;

/// What the audio side of `sync` gives the offset estimator.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioEvidence {
    /// A sample of the onset envelope.
    Onset(EnvelopeSample),
    /// The level of one hop of audio, in natural-log power.
    Level(EnvelopeSample),
    /// The probability of speech over a span, from a voice-activity model.
    Speech(SpeechWindow),
    /// A sync model's audio embedding of the window centred at `time_ns`.
    Embedding {
        /// Running time of the window's centre.
        time_ns: u64,
        /// The embedding.
        values: Vec<f32>,
    },
    /// The source came back after an outage at this time: estimates start afresh there.
    Restart {
        /// Running time of the first record after the outage.
        time_ns: u64,
    },
}

/// One frame's feature vector.
#[derive(Debug, Clone)]
pub struct FeatureFrame {
    /// Running time of the frame's centre.
    pub time_ns: u64,
    /// The features.
    pub values: Vec<f32>,
    /// When the newest audio in the frame was captured, for latency.
    pub captured_at: Instant,
}

/// An event on its way to the sink, before it gets its sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEvent {
    /// The stream it is about.
    pub stream: String,
    /// What it says.
    pub body: EventBody,
}

/// What a stream's status input carries from the worker that captures the stream to the one
/// that holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum StatusRecord {
    /// A change in the source's health (`lost`, `recovered`, `discont`), as an event.
    Health(StreamEvent),
    /// The capture's counters so far, for the holder's `progress` events.
    Counts {
        /// Records handed to the graph or dropped.
        frames_in: u64,
        /// Records dropped because a ring was full.
        frames_dropped: u64,
    },
}

/// Records that know their running time, so they can enter the graph at it.
pub(crate) trait Timestamped {
    /// Running time in nanoseconds.
    fn pts_ns(&self) -> u64;
}

impl Timestamped for AudioChunk {
    fn pts_ns(&self) -> u64 {
        self.pts_ns
    }
}

impl Timestamped for VideoFrame {
    fn pts_ns(&self) -> u64 {
        self.pts_ns
    }
}
