//! Decoding a whole media file's audio, as fast as the machine allows, for references.

use std::path::Path;
use std::time::Duration;

use crate::config::{Pace, SourceSpec};

use super::{AudioNeeds, Capture, CaptureState, MediaError, MediaNeeds};

/// How long to sleep when the decoder has nothing new.
const IDLE_WAIT: Duration = Duration::from_millis(1);

/// Decodes all of `path`'s audio as mono F32 at `rate_hz` and hands it to `on_samples` in
/// order, buffer by buffer, so memory does not grow with the file, with the file's length
/// once known (for progress). An error from `on_samples` stops decoding and is returned.
pub fn decode_audio_file<E, F>(path: &Path, rate_hz: u32, mut on_samples: F) -> Result<(), E>
where
    E: From<MediaError>,
    F: FnMut(&[f32], Option<u64>) -> Result<(), E>,
{
    let spec = SourceSpec::File(path.to_path_buf());
    let needs = MediaNeeds {
        audio: Some(AudioNeeds { rate_hz }),
        video: None,
    };
    let mut capture = Capture::open(&spec, needs, Pace::Fast)?;
    let mut receiver = capture.take_audio().ok_or_else(|| MediaError::MissingStream {
        source_name: spec.display_name(),
        kind: "audio",
    })?;
    capture.start()?;
    let mut duration_ns = None;
    loop {
        let mut idle = true;
        while let Some(chunk) = receiver.pop() {
            if duration_ns.is_none() {
                duration_ns = capture.duration_ns();
            }
            on_samples(&chunk.samples, duration_ns)?;
            idle = false;
        }
        let state = capture.poll()?;
        if receiver.is_finished() || (state == CaptureState::Finished && receiver.is_empty()) {
            return Ok(());
        }
        if idle {
            std::thread::sleep(IDLE_WAIT);
        }
    }
}
