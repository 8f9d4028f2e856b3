//! Encoding a reference recording into the feature matrix `follow` aligns against.
//!
//! The audio is decoded, framed and encoded as it comes, in batches, so memory holds the
//! features and one batch of frames, never the whole recording's samples. A reference encoded
//! once can be kept in a `.wfr` file ([`write_reference_file`]) and loaded instead
//! ([`load_reference`]), after checking it was made as the run would make it.

use std::path::Path;
use std::sync::Arc;

use crate::align::FeatureMatrix;
use crate::encode::{AudioEncoder, AudioFeatureKind, AudioFramer, MappedFile, ReferenceFile, SampleFormat};
use crate::encode::{PixelLayout, VideoEncoder};
use crate::media::{decode_media_file, VideoNeeds};

use super::follow_features::FollowEncoders;
use super::operators::ReferenceTiming;
use super::FlowError;

/// Audio frames encoded together.
const BATCH_FRAMES: usize = 256;
/// Video frames encoded together.
const BATCH_PICTURES: usize = 64;

/// A video frame's features and its time (ns).
type TimedFeatures = (u64, Vec<f32>);

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
pub fn encode_reference_file(path: &Path, encoder: &mut dyn AudioEncoder) -> Result<EncodedReference, FlowError> {
    encode_reference_file_with_progress(path, encoder, |_, _| {})
}

/// [`encode_reference_file`], telling `on_progress` how much audio (ns) is done so far and,
/// once known, how long the recording is.
pub fn encode_reference_file_with_progress(
    path: &Path,
    encoder: &mut dyn AudioEncoder,
    on_progress: impl FnMut(u64, Option<u64>),
) -> Result<EncodedReference, FlowError> {
    encode_audio_and_video(path, encoder, None, on_progress).map(|(reference, _)| reference)
}

/// The reference `follow` compares with `encoders`: audio features, or audio features joined
/// with video features on the audio frames' times (see `flow::follow_features`); progress
/// as `encode_reference_file_with_progress`.
pub fn encode_followed_reference(
    path: &Path,
    encoders: &mut FollowEncoders,
    on_progress: impl FnMut(u64, Option<u64>),
) -> Result<EncodedReference, FlowError> {
    let Some(mut joiner) = encoders.joiner() else {
        return encode_reference_file_with_progress(path, encoders.audio.as_mut(), on_progress);
    };
    let dim = encoders.dim();
    let video: Option<&mut dyn VideoEncoder> = match encoders.video.as_mut() {
        Some((encoder, _)) => Some(encoder.as_mut()),
        None => None,
    };
    let (audio, video_rows) = encode_audio_and_video(path, encoders.audio.as_mut(), video, on_progress)?;
    for (time_ns, values) in video_rows {
        joiner.push_video(time_ns, values)?;
    }
    let mut joined = Vec::with_capacity(audio.features.len() * dim);
    for k in 0..audio.features.len() {
        let time_ns = audio.timing.time_ns(k);
        joiner.join(time_ns, &audio.features.frame(k), &mut joined)?;
    }
    Ok(EncodedReference {
        features: FeatureMatrix::new(dim, joined)?,
        ..audio
    })
}

/// Decodes `path`'s audio, and its video when `video` is given, and encodes them as they come:
/// the audio features, and each video frame's features with its time.
fn encode_audio_and_video(
    path: &Path,
    encoder: &mut dyn AudioEncoder,
    mut video: Option<&mut dyn VideoEncoder>,
    mut on_progress: impl FnMut(u64, Option<u64>),
) -> Result<(EncodedReference, Vec<TimedFeatures>), FlowError> {
    encoder.reset()?;
    if let Some(video) = video.as_mut() {
        video.reset();
    }
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
    let video_needs = video.as_ref().map(|encoder| {
        let format = encoder.format();
        VideoNeeds {
            width: format.width as u32,
            height: format.height as u32,
            colour: format.layout == PixelLayout::Rgb,
        }
    });
    let mut video_rows = Vec::new();
    let (mut pixels, mut pixel_times, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let mut encode_pictures =
        |pixels: &mut Vec<u8>, pixel_times: &mut Vec<u64>, video_rows: &mut Vec<TimedFeatures>| {
            let Some(video) = video.as_mut() else {
                return Ok::<(), FlowError>(());
            };
            values.clear();
            video.encode(pixels, &mut values)?;
            let dim = video.dim();
            video_rows.extend(pixel_times.drain(..).zip(values.chunks_exact(dim).map(<[f32]>::to_vec)));
            pixels.clear();
            Ok(())
        };
    decode_media_file(
        path,
        params.rate_hz,
        video_needs,
        |samples, total_ns| -> Result<(), FlowError> {
            // Times count decoded samples: a reference's own time starts at 0 and has no gaps.
            let start_ns = (samples_seen as f64 * 1e9 / rate).round() as u64;
            samples_seen += samples.len() as u64;
            on_progress((samples_seen as f64 * 1e9 / rate).round() as u64, total_ns);
            framer.push(start_ns, samples, &mut frames, &mut times);
            times.clear();
            if frames.len() >= BATCH_FRAMES * params.span_len() {
                encode_frames(&mut frames, &mut features)?;
            }
            Ok(())
        },
        |frame| -> Result<(), FlowError> {
            pixels.extend_from_slice(&frame.pixels);
            pixel_times.push(frame.pts_ns);
            if pixel_times.len() >= BATCH_PICTURES {
                encode_pictures(&mut pixels, &mut pixel_times, &mut video_rows)?;
            }
            Ok(())
        },
    )?;
    encode_frames(&mut frames, &mut features)?;
    encode_pictures(&mut pixels, &mut pixel_times, &mut video_rows)?;
    encoder.reset()?;
    let timing = ReferenceTiming {
        hop_ns: params.hop_ns(),
        first_frame_ns: params.centre_offset_ns(),
    };
    let duration_ns = (samples_seen as f64 * 1e9 / rate).round() as u64;
    let reference = EncodedReference {
        features,
        timing,
        duration_ns,
    };
    Ok((reference, video_rows))
}

/// Whether `path` names a reference file (`.wfr`) rather than a media file.
pub fn is_reference_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("wfr"))
}

/// The audio features a `follow` stream compares: `asked`, else the built-in ones its `.wfr`
/// reference was made with (so that a file made under an earlier default still serves), else
/// the default. Reads the file's header only.
pub fn follow_audio_features(asked: Option<AudioFeatureKind>, reference: &Path) -> Result<AudioFeatureKind, FlowError> {
    match asked {
        Some(features) => Ok(features),
        None => Ok(reference_file_audio_features(reference)?.unwrap_or_default()),
    }
}

/// The built-in audio features the `.wfr` file at `path` was made with (with or without video
/// beside them); `None` for another file, or one made with a model.
fn reference_file_audio_features(path: &Path) -> Result<Option<AudioFeatureKind>, FlowError> {
    if !is_reference_file(path) {
        return Ok(None);
    }
    let mapped = MappedFile::open(path).map_err(|source| FlowError::ReferenceFileIo {
        path: path.to_path_buf(),
        source,
    })?;
    let encoder = ReferenceFile::encoder_in(mapped.bytes()).map_err(|source| FlowError::ReferenceFile {
        path: path.to_path_buf(),
        source,
    })?;
    // Video features follow the audio's name after a '+' (see `FollowEncoders::name`).
    let audio = encoder.split('+').next().unwrap_or_default();
    Ok(audio.parse().ok())
}

/// The reference at `path`: read from a `.wfr` file made with `encoder`'s settings (memory-mapped;
/// f32 features are read in place), or decoded and encoded from a media file.
/// `on_progress` hears how much of a media file's audio is encoded.
pub fn load_reference(
    path: &Path,
    encoders: &mut FollowEncoders,
    on_progress: impl FnMut(u64, Option<u64>),
) -> Result<EncodedReference, FlowError> {
    if !is_reference_file(path) {
        return encode_followed_reference(path, encoders, on_progress);
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
    let params = encoders.audio.params();
    file.check_made_like(encoders.name(), params, encoders.dim())
        .map_err(in_file)?;
    Ok(EncodedReference {
        features: FeatureMatrix::from_values(file.features),
        timing: ReferenceTiming {
            hop_ns: params.hop_ns(),
            first_frame_ns: params.centre_offset_ns(),
        },
        duration_ns: file.duration_ns,
    })
}

/// Encodes the media file `reference` with `encoder` and writes it to `output` as a `.wfr` file
/// with values stored as `format`, telling `on_progress` as
/// `encode_reference_file_with_progress` does; returns what was written.
pub fn write_reference_file(
    reference: &Path,
    output: &Path,
    encoders: &mut FollowEncoders,
    format: SampleFormat,
    on_progress: impl FnMut(u64, Option<u64>),
) -> Result<ReferenceFile, FlowError> {
    let encoded = encode_followed_reference(reference, encoders, on_progress)?;
    let file = ReferenceFile {
        encoder: encoders.name().to_owned(),
        params: encoders.audio.params(),
        duration_ns: encoded.duration_ns,
        format,
        features: encoded.features.into_values(),
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
