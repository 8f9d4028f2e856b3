//! Decoding a whole media file's audio (and video), as fast as the machine allows, for references.

use std::path::Path;
use std::time::Duration;

use crate::config::{Pace, SourceSpec};

use super::{AudioNeeds, Capture, CaptureState, MediaError, MediaNeeds, VideoFrame, VideoNeeds};

/// How long to sleep when the decoder has nothing new.
const IDLE_WAIT: Duration = Duration::from_millis(1);

/// Decodes all of `path`'s audio as mono F32 at `rate_hz` and hands it to `on_samples` in
/// order, buffer by buffer, so memory does not grow with the file, with the file's length
/// once known (for progress). An error from `on_samples` stops decoding and is returned.
pub fn decode_audio_file<E, F>(path: &Path, rate_hz: u32, on_samples: F) -> Result<(), E>
where
    E: From<MediaError>,
    F: FnMut(&[f32], Option<u64>) -> Result<(), E>,
{
    decode_media_file(path, rate_hz, None, on_samples, |_| Ok(()))
}

/// [`decode_audio_file`], and with `video` also the file's video as greyscale frames of that
/// size, handed to `on_frame` in order (a file without video is refused then). Audio and video
/// are drained together, so that neither holds the other back.
pub fn decode_media_file<E, A, V>(
    path: &Path,
    rate_hz: u32,
    video: Option<VideoNeeds>,
    mut on_samples: A,
    mut on_frame: V,
) -> Result<(), E>
where
    E: From<MediaError>,
    A: FnMut(&[f32], Option<u64>) -> Result<(), E>,
    V: FnMut(&VideoFrame) -> Result<(), E>,
{
    let spec = SourceSpec::File(path.to_path_buf());
    let needs = MediaNeeds {
        audio: Some(AudioNeeds { rate_hz }),
        video,
    };
    let mut capture = Capture::open(&spec, needs, Pace::Fast)?;
    let missing = |kind| MediaError::MissingStream {
        source_name: spec.display_name(),
        kind,
    };
    let mut audio = capture.take_audio().ok_or_else(|| missing("audio"))?;
    let mut frames = match video {
        Some(_) => Some(capture.take_video().ok_or_else(|| missing("video"))?),
        None => None,
    };
    capture.start()?;
    let mut duration_ns = None;
    loop {
        let mut idle = true;
        while let Some(chunk) = audio.pop() {
            if duration_ns.is_none() {
                duration_ns = capture.duration_ns();
            }
            on_samples(&chunk.samples, duration_ns)?;
            idle = false;
        }
        if let Some(frames) = frames.as_mut() {
            while let Some(frame) = frames.pop() {
                on_frame(&frame)?;
                idle = false;
            }
        }
        let state = capture.poll()?;
        let drained = |finished: bool, empty: bool| finished || (state == CaptureState::Finished && empty);
        let video_done = frames
            .as_ref()
            .is_none_or(|frames| drained(frames.is_finished(), frames.is_empty()));
        if drained(audio.is_finished(), audio.is_empty()) && video_done {
            return Ok(());
        }
        if idle {
            std::thread::sleep(IDLE_WAIT);
        }
    }
}
