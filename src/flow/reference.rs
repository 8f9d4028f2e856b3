//! Encoding a reference recording into the feature matrix `follow` aligns against.
//!
//! The audio is decoded, framed and encoded as it comes, in batches, so memory holds the
//! features and one batch of frames, never the whole recording's samples. A reference encoded
//! once can be kept in a `.wfr` file ([`write_reference_file`]) and loaded instead
//! ([`load_reference`]), after checking it was made as the run would make it.

use std::path::Path;
use std::sync::Arc;

use crate::align::FeatureMatrix;
use crate::encode::{AudioFeatureEncoder, AudioFramer, MappedFile, ReferenceFile, SampleFormat};
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
    encode_reference_file_with_progress(path, encoder, |_, _| {})
}

/// [`encode_reference_file`], telling `on_progress` how much audio (ns) is done so far and,
/// once known, how long the recording is.
pub fn encode_reference_file_with_progress(
    path: &Path,
    encoder: &mut AudioFeatureEncoder,
    mut on_progress: impl FnMut(u64, Option<u64>),
) -> Result<EncodedReference, FlowError> {
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
    decode_audio_file(path, params.rate_hz, |samples, total_ns| -> Result<(), FlowError> {
        // Times count decoded samples: a reference's own time starts at 0 and has no gaps.
        let start_ns = (samples_seen as f64 * 1e9 / rate).round() as u64;
        samples_seen += samples.len() as u64;
        on_progress((samples_seen as f64 * 1e9 / rate).round() as u64, total_ns);
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

/// Whether `path` names a reference file (`.wfr`) rather than a media file.
pub fn is_reference_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("wfr"))
}

/// The reference at `path`: read from a `.wfr` file made with `encoder`'s settings (memory-mapped;
/// f32 features are read in place), or decoded and encoded from a media file.
pub fn load_reference(path: &Path, encoder: &mut AudioFeatureEncoder) -> Result<EncodedReference, FlowError> {
    if !is_reference_file(path) {
        return encode_reference_file(path, encoder);
    }
    let in_file = |source| FlowError::ReferenceFile {
        path: path.to_path_buf(),
        source,
    };
    let mapped = MappedFile::open(path).map_err(|source| FlowError::ReferenceFileIo {
        path: path.to_path_buf(),
        source,
    })?;
    let file = ReferenceFile::from_mapped(Arc::new(mapped)).map_err(in_file)?;
    let params = encoder.params();
    file.check_made_like(&encoder.kind().to_string(), params, encoder.dim())
        .map_err(in_file)?;
    Ok(EncodedReference {
        features: file.features,
        timing: ReferenceTiming {
            hop_ns: params.hop_ns(),
            first_frame_ns: params.centre_offset_ns(),
        },
        duration_ns: file.duration_ns,
    })
}

/// Encodes the media file `reference` with `encoder` and writes it to `output` as a `.wfr` file
/// with values stored as `format`, telling `on_progress` as
/// [`encode_reference_file_with_progress`] does; returns what was written.
pub fn write_reference_file(
    reference: &Path,
    output: &Path,
    encoder: &mut AudioFeatureEncoder,
    format: SampleFormat,
    on_progress: impl FnMut(u64, Option<u64>),
) -> Result<ReferenceFile, FlowError> {
    let encoded = encode_reference_file_with_progress(reference, encoder, on_progress)?;
    let file = ReferenceFile {
        encoder: encoder.kind().to_string(),
        params: encoder.params(),
        duration_ns: encoded.duration_ns,
        format,
        features: encoded.features,
    };
    let bytes = file.to_bytes().map_err(|source| FlowError::ReferenceFile {
        path: output.to_path_buf(),
        source,
    })?;
    std::fs::write(output, bytes).map_err(|source| FlowError::ReferenceFileIo {
        path: output.to_path_buf(),
        source,
    })?;
    Ok(file)
}
