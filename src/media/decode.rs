//! Decoding a whole media file's audio at once, for references.

use std::path::Path;
use std::time::Duration;

use crate::config::{Pace, SourceSpec};

use super::{AudioNeeds, Capture, CaptureState, MediaError, MediaNeeds};

/// How long to sleep when the decoder has nothing new.
const IDLE_WAIT: Duration = Duration::from_millis(1);

/// Decodes all of `path`'s audio as mono F32 at `rate_hz`, as fast as the machine allows.
pub fn decode_audio_file(path: &Path, rate_hz: u32) -> Result<Vec<f32>, MediaError> {
    let spec = SourceSpec::File(path.to_path_buf());
    let needs = MediaNeeds {
        audio: Some(AudioNeeds { rate_hz }),
        video: None,
    };
    let mut capture = Capture::open(&spec, needs, Pace::Fast)?;
    let mut receiver = capture
        .take_audio()
        .ok_or_else(|| MediaError::MissingStream {
            source_name: spec.display_name(),
            kind: "audio",
        })?;
    capture.start()?;
    let mut samples = Vec::new();
    loop {
        let mut idle = true;
        while let Some(chunk) = receiver.pop() {
            samples.extend_from_slice(&chunk.samples);
            idle = false;
        }
        let state = capture.poll()?;
        if receiver.is_finished() || (state == CaptureState::Finished && receiver.is_empty()) {
            break;
        }
        if idle {
            std::thread::sleep(IDLE_WAIT);
        }
    }
    Ok(samples)
}
