//! Capture: GStreamer pipelines built from a [`SourceSpec`](crate::config::SourceSpec), whose
//! appsinks hand timestamped records to the graph through bounded lock-free rings.
//!
//! Records carry GStreamer running time in nanoseconds. An appsink callback never blocks on
//! the graph when the source is live or paced in real time: a full ring drops its oldest record
//! and counts it. With `--pace fast` the callback waits for room instead, which holds the
//! pipeline back and loses nothing. Live sources are supervised: one that fails or stalls is
//! reported lost and rebuilt into the same rings. This module knows GStreamer; it does no
//! encoding or alignment.

mod appsink;
mod branches;
mod capture;
pub mod capture_time;
mod decode;
mod error;
mod needs;
mod pushed;
mod record;
mod ring;
mod source;
mod stats;
mod stopping;
mod supervision;
mod test_pattern;
mod timestamp_watch;

pub use capture::{Capture, CaptureState};
pub use decode::{decode_audio_file, decode_media_file};
pub use error::MediaError;
pub use needs::{AudioNeeds, MediaNeeds, VideoNeeds};
pub use pushed::{Medium, PushedInputs};
pub use record::{AudioChunk, VideoFrame};
pub use ring::RecordReceiver;
pub use stats::CaptureStats;
pub use stopping::{StoppingPipelines, STOP_GRACE};
pub use supervision::{SourceStatus, SupervisionConfig};
pub use timestamp_watch::DiscontinuityKind;

/// Initialises GStreamer once; every entry point that builds pipelines calls it.
pub fn init() -> Result<(), MediaError> {
    gst::init().map_err(|source| MediaError::Init { source })
}
