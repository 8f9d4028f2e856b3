//! Encoding a reference recording into the feature matrix `follow` aligns against.
//!
//! The audio is decoded, framed and encoded as it comes, in batches, so memory holds the
//! features and one batch of frames, never the whole recording's samples.

use std::path::Path;

use crate::align::FeatureMatrix;
use crate::encode::{AudioFeatureEncoder, AudioFramer};
use crate::media::decode_audio_file;

use super::operators::ReferenceTiming;
use super::FlowError;

/// Frames encoded together.
const BATCH_FRAMES: usize = 256;

/// A reference's features and how its frames map to time.
#[derive(Debug)]
pub struct EncodedReference {
    /// One feature row per frame.
    pub features: FeatureMatrix,
    /// Reference time of each frame index.
    pub timing: ReferenceTiming,
    /// Length of the reference's audio.
    pub duration_ns: u64,
}

/// Decodes `path`'s audio and encodes it with `encoder`, which is left reset for the next
/// recording.
pub fn encode_reference_file(path: &Path, encoder: &mut AudioFeatureEncoder) -> Result<EncodedReference, FlowError> {
    encoder.reset();
    let params = encoder.params();
    let rate = f64::from(params.rate_hz);
    let mut framer = AudioFramer::new(params)?;
    let mut features = FeatureMatrix::new(encoder.dim(), Vec::new())?;
    let (mut frames, mut times, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    let mut samples_seen = 0u64;
    let mut encode_frames = |frames: &mut Vec<f32>, features: &mut FeatureMatrix| -> Result<(), FlowError> {
        rows.clear();
        encoder.encode(frames, &mut rows)?;
        features.extend_from_rows(&rows)?;
        frames.clear();
        Ok(())
    };
    decode_audio_file(path, params.rate_hz, |samples| -> Result<(), FlowError> {
        // Times count decoded samples: a reference's own time starts at 0 and has no gaps.
        let start_ns = (samples_seen as f64 * 1e9 / rate).round() as u64;
        samples_seen += samples.len() as u64;
        framer.push(start_ns, samples, &mut frames, &mut times);
        times.clear();
        if frames.len() >= BATCH_FRAMES * params.frame_len {
            encode_frames(&mut frames, &mut features)?;
        }
        Ok(())
    })?;
    encode_frames(&mut frames, &mut features)?;
    encoder.reset();
    let timing = ReferenceTiming {
        hop_ns: params.hop_ns(),
        first_frame_ns: params.centre_offset_ns(),
    };
    let duration_ns = (samples_seen as f64 * 1e9 / rate).round() as u64;
    Ok(EncodedReference {
        features,
        timing,
        duration_ns,
    })
}
