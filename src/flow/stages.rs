//! The graph's per-stream encoding stages, as batch functions for
//! [`EncodeBatches`](super::operators::EncodeBatches): framing plus an encoder a stream keeps
//! to itself, or what follows a shared encoder (the flux of a stream's log-mel bands).

use crate::align::SpeechWindow;
use crate::encode::{AudioEncoder, AudioFramer, BrightnessChange, SpectralFlux};
use crate::media::{AudioChunk, VideoFrame};

use super::{AudioEvidence, EnvelopeSample, FeatureFrame, FlowError};

/// A voice-activity model (one probability of speech per window) and its framing.
#[derive(Debug)]
pub(crate) struct SpeechDetector {
    /// Frames the audio as the model's contract says.
    pub framer: AudioFramer,
    /// The model; its output has one value per window.
    pub model: Box<dyn AudioEncoder>,
}

/// Rows of log-mel bands (one per frame hop) → onset envelope samples, through one stream's
/// `flux`.
pub(crate) fn flux_stage(
    mut flux: SpectralFlux,
) -> impl FnMut(&mut Vec<FeatureFrame>, &mut Vec<AudioEvidence>) -> Result<(), FlowError> {
    move |frames, out| {
        out.extend(frames.drain(..).map(|frame| {
            AudioEvidence::Onset(EnvelopeSample {
                time_ns: frame.time_ns,
                value: flux.push(&frame.values),
                captured_at: frame.captured_at,
            })
        }));
        Ok(())
    }
}

/// Audio chunks → the probability of speech per window of the `detector`'s model.
pub(crate) fn speech_stage(
    mut detector: SpeechDetector,
) -> impl FnMut(&mut Vec<AudioChunk>, &mut Vec<AudioEvidence>) -> Result<(), FlowError> {
    let (mut windows, mut window_times, mut probabilities) = (Vec::new(), Vec::new(), Vec::new());
    move |chunks, out| {
        windows.clear();
        window_times.clear();
        probabilities.clear();
        for chunk in chunks.drain(..) {
            detector
                .framer
                .push(chunk.pts_ns, &chunk.samples, &mut windows, &mut window_times);
        }
        detector.model.encode(&windows, &mut probabilities)?;
        // The framer times a window at its centre; the weights need its span.
        let params = detector.framer.params();
        let half_ns = params.centre_offset_ns().round() as u64;
        let length_ns = (params.frame_len as f64 * 1e9 / f64::from(params.rate_hz)).round() as u64;
        out.extend(
            window_times
                .iter()
                .zip(&probabilities)
                .map(|(&centre_ns, &probability)| {
                    let start_ns = centre_ns.saturating_sub(half_ns);
                    AudioEvidence::Speech(SpeechWindow {
                        start_ns,
                        end_ns: start_ns + length_ns,
                        probability,
                    })
                }),
        );
        Ok(())
    }
}

/// Greyscale frames → video change envelope samples (one per frame).
pub(crate) fn video_change_stage(
    mut change: BrightnessChange,
) -> impl FnMut(&mut Vec<VideoFrame>, &mut Vec<EnvelopeSample>) -> Result<(), FlowError> {
    let (mut pixels, mut values) = (Vec::new(), Vec::new());
    move |frames, out| {
        frames.sort_by_key(|f| f.pts_ns);
        // Frames of one size go through the encoder together; a size change starts a new run.
        let mut start = 0;
        while start < frames.len() {
            let size = frames[start].pixels.len();
            let end = frames[start..]
                .iter()
                .position(|f| f.pixels.len() != size)
                .map_or(frames.len(), |p| start + p);
            pixels.clear();
            values.clear();
            for frame in &frames[start..end] {
                pixels.extend_from_slice(&frame.pixels);
            }
            change.encode(&pixels, size, &mut values)?;
            out.extend(
                frames[start..end]
                    .iter()
                    .zip(&values)
                    .map(|(f, &value)| EnvelopeSample {
                        time_ns: f.pts_ns,
                        value,
                        captured_at: f.captured_at,
                    }),
            );
            start = end;
        }
        frames.clear();
        Ok(())
    }
}
