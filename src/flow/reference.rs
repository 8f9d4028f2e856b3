//! Encoding a reference recording into the feature matrix `follow` aligns against.

use std::path::Path;

use crate::align::FeatureMatrix;
use crate::encode::{AudioFeatureEncoder, AudioFramer};
use crate::media::decode_audio_file;

use super::operators::ReferenceTiming;
use super::FlowError;

/// Samples handed to the framer at a time, so memory stays bounded by this, not the file.
const CHUNK_SAMPLES: usize = 1 << 16;

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

/// Decodes `path`'s audio and encodes it with `encoder`.
pub fn encode_reference_file(
    path: &Path,
    encoder: &AudioFeatureEncoder,
) -> Result<EncodedReference, FlowError> {
    let params = encoder.params();
    let samples = decode_audio_file(path, params.rate_hz)?;
    let mut framer = AudioFramer::new(params)?;
    let mut features = FeatureMatrix::new(encoder.dim(), Vec::new())?;
    let (mut frames, mut times, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    let rate = f64::from(params.rate_hz);
    for (k, chunk) in samples.chunks(CHUNK_SAMPLES).enumerate() {
        frames.clear();
        rows.clear();
        let start_ns = ((k * CHUNK_SAMPLES) as f64 * 1e9 / rate).round() as u64;
        framer.push(start_ns, chunk, &mut frames, &mut times);
        encoder.encode(&frames, &mut rows)?;
        features.extend_from_rows(&rows)?;
    }
    let timing = ReferenceTiming {
        hop_ns: params.hop_ns(),
        first_frame_ns: params.centre_offset_ns(),
    };
    let duration_ns = (samples.len() as f64 * 1e9 / rate).round() as u64;
    Ok(EncodedReference {
        features,
        timing,
        duration_ns,
    })
}
