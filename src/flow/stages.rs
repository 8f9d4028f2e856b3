//! The graph's per-stream encoding stages, as batch functions for
//! [`EncodeBatches`](super::operators::EncodeBatches): framing plus an encoder a stream keeps
//! to itself, or what follows a shared encoder (the flux of a stream's log-mel bands).

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use crate::align::SpeechWindow;
use crate::encode::{
    AudioEncoder, AudioFramer, FrameSize, PictureChange, PictureRows, SpectralFlux, SyncModel, VideoEncoder,
};
use crate::engine_metrics::EngineMetrics;
use crate::media::{AudioChunk, VideoFrame};

use super::records::FACE_OUTPUTS;
use super::{AudioEvidence, EnvelopeSample, FeatureFrame, FlowError, PictureSample};

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

/// Audio chunks → one row of `encoder`'s features per window of `framer` (a stream that keeps
/// its encoder to itself, where the dataflow has no pool to share it through).
pub(crate) fn bands_stage(
    mut framer: AudioFramer,
    mut encoder: Box<dyn AudioEncoder>,
) -> impl FnMut(&mut Vec<AudioChunk>, &mut Vec<FeatureFrame>) -> Result<(), FlowError> {
    let (mut windows, mut window_times, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let dim = encoder.dim().max(1);
    move |chunks, out| {
        windows.clear();
        window_times.clear();
        values.clear();
        let mut captured = Vec::new();
        for chunk in chunks.drain(..) {
            let before = window_times.len();
            framer.push(chunk.pts_ns, &chunk.samples, &mut windows, &mut window_times);
            captured.extend(std::iter::repeat_n(chunk.captured_at, window_times.len() - before));
        }
        if window_times.is_empty() {
            return Ok(());
        }
        encoder.encode(&windows, &mut values)?;
        out.extend(window_times.iter().zip(values.chunks_exact(dim)).zip(captured).map(
            |((&time_ns, row), captured_at)| FeatureFrame {
                time_ns,
                values: row.to_vec(),
                captured_at,
            },
        ));
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

/// Audio chunks → the level of each window of `framer` (its centre's time), in natural-log
/// power: `ln(mean(x²))`, with silence at a floor far below any microphone's hiss.
pub(crate) fn level_stage(
    mut framer: AudioFramer,
) -> impl FnMut(&mut Vec<AudioChunk>, &mut Vec<AudioEvidence>) -> Result<(), FlowError> {
    /// Mean square of digital silence, so that its log stays finite (-120 dB).
    const SILENCE: f64 = 1e-12;
    let (mut windows, mut window_times) = (Vec::new(), Vec::new());
    let (span_len, frame_len) = (framer.params().span_len().max(1), framer.params().frame_len.max(1));
    move |chunks, out| {
        windows.clear();
        window_times.clear();
        let mut captured = Vec::new();
        for chunk in chunks.drain(..) {
            let before = window_times.len();
            framer.push(chunk.pts_ns, &chunk.samples, &mut windows, &mut window_times);
            captured.extend(std::iter::repeat_n(chunk.captured_at, window_times.len() - before));
        }
        out.extend(windows.chunks_exact(span_len).zip(&window_times).zip(captured).map(
            |((span, &time_ns), captured_at)| {
                let window = &span[span_len - frame_len..];
                let mean_square = window.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / frame_len as f64;
                AudioEvidence::Level(EnvelopeSample {
                    time_ns,
                    value: (mean_square + SILENCE).ln() as f32,
                    captured_at,
                })
            },
        ));
        Ok(())
    }
}

/// The video side of a sync model: its pictures of the newest frames, stacked into one input.
pub(crate) struct SyncVideo {
    /// The pair of embedders (shared with the audio side).
    pub model: Rc<SyncModel>,
    /// The newest frames' times and pictures, up to the contract's `frames`.
    pub recent: VecDeque<(u64, Vec<f32>)>,
}

/// Audio chunks → a sync model's embedding of each window of `framer` (framed as its contract
/// says).
pub(crate) fn embedding_stage(
    mut framer: AudioFramer,
    model: Rc<SyncModel>,
) -> impl FnMut(&mut Vec<AudioChunk>, &mut Vec<AudioEvidence>) -> Result<(), FlowError> {
    let (mut windows, mut window_times, mut embeddings) = (Vec::new(), Vec::new(), Vec::new());
    let dim = model.contract().output_dim.max(1);
    move |chunks, out| {
        windows.clear();
        window_times.clear();
        embeddings.clear();
        for chunk in chunks.drain(..) {
            framer.push(chunk.pts_ns, &chunk.samples, &mut windows, &mut window_times);
        }
        model.embed_audio(&windows, &mut embeddings)?;
        out.extend(
            window_times
                .iter()
                .zip(embeddings.chunks_exact(dim))
                .map(|(&time_ns, values)| AudioEvidence::Embedding {
                    time_ns,
                    values: values.to_vec(),
                }),
        );
        Ok(())
    }
}

/// Frames → one [`PictureSample`] per frame: its brightening and block brightness, the face box
/// of `face_model` when there is one (a video model of five outputs per frame), and the video
/// embedding of `sync_video` when there is one. Each frame's working-size picture is offered to
/// `pictures` as `stream`'s, for the live page.
pub(crate) fn picture_stage(
    mut change: PictureChange,
    mut face_model: Option<Box<dyn VideoEncoder>>,
    mut sync_video: Option<SyncVideo>,
    pictures: Arc<EngineMetrics>,
    stream: String,
) -> impl FnMut(&mut Vec<VideoFrame>, &mut Vec<PictureSample>) -> Result<(), FlowError> {
    let (mut pixels, mut rows, mut faces) = (Vec::new(), PictureRows::default(), Vec::new());
    let (mut model_pictures, mut stacks, mut embeddings) = (Vec::new(), Vec::new(), Vec::new());
    move |frames, out| {
        frames.sort_by_key(|f| f.pts_ns);
        // Frames of one format go through the encoders together; a change starts a new run.
        let mut start = 0;
        while start < frames.len() {
            let format = |f: &VideoFrame| (f.width, f.height, f.channels);
            let first = format(&frames[start]);
            let end = frames[start..]
                .iter()
                .position(|f| format(f) != first)
                .map_or(frames.len(), |p| start + p);
            pixels.clear();
            rows.clear();
            faces.clear();
            for frame in &frames[start..end] {
                pixels.extend_from_slice(&frame.pixels);
            }
            let size = FrameSize {
                width: first.0 as usize,
                height: first.1 as usize,
                channels: usize::from(first.2),
            };
            change.encode(&pixels, size, &mut rows)?;
            if let Some(model) = face_model.as_mut() {
                model.encode(&pixels, &mut faces)?;
            }
            let embedded = match sync_video.as_mut() {
                Some(video) => {
                    let boxes: Vec<[f32; FACE_OUTPUTS]> = faces
                        .chunks_exact(FACE_OUTPUTS)
                        .filter_map(|face| face.try_into().ok())
                        .collect();
                    model_pictures.clear();
                    let times: Vec<u64> = frames[start..end].iter().map(|f| f.pts_ns).collect();
                    let face_boxes = face_model.is_some().then_some(boxes.as_slice());
                    video.model.pictures(&pixels, size, face_boxes, &mut model_pictures)?;
                    stack_and_embed(video, &times, &model_pictures, &mut stacks, &mut embeddings)?
                }
                None => vec![None; end - start],
            };
            let (width, height) = change.working_size();
            let per_frame = change.blocks().max(1);
            for (i, (frame, embedding)) in frames[start..end].iter().zip(embedded).enumerate() {
                let grey = &rows.grey[i * width * height..(i + 1) * width * height];
                pictures
                    .pictures
                    .offer(&stream, frame.pts_ns, width as u32, height as u32, grey);
                out.push(PictureSample {
                    time_ns: frame.pts_ns,
                    rise: rows.rise[i],
                    blocks: rows.blocks[i * per_frame..(i + 1) * per_frame].to_vec(),
                    face: faces
                        .get(i * FACE_OUTPUTS..(i + 1) * FACE_OUTPUTS)
                        .and_then(|face| <[f32; FACE_OUTPUTS]>::try_from(face).ok()),
                    embedding,
                    captured_at: frame.captured_at,
                });
            }
            start = end;
        }
        frames.clear();
        Ok(())
    }
}

/// A video embedding and the time it stands for.
type TimedEmbedding = (u64, Vec<f32>);

/// Adds each frame's picture (`pictures`, one after another, at `times`) to the newest ones
/// `video` keeps and embeds, for each frame once enough have come, the stack of the newest; the
/// embedding stands for the time of the stack's middle picture.
fn stack_and_embed(
    video: &mut SyncVideo,
    times: &[u64],
    pictures: &[f32],
    stacks: &mut Vec<f32>,
    embeddings: &mut Vec<f32>,
) -> Result<Vec<Option<TimedEmbedding>>, FlowError> {
    let contract = video.model.contract();
    let frames = contract.frames;
    let per_picture = contract.channels.channels() * contract.height * contract.width;
    let dim = contract.output_dim;
    stacks.clear();
    embeddings.clear();
    let mut stacked_at = Vec::with_capacity(times.len());
    for (&time_ns, picture) in times.iter().zip(pictures.chunks_exact(per_picture.max(1))) {
        video.recent.push_back((time_ns, picture.to_vec()));
        while video.recent.len() > frames {
            video.recent.pop_front();
        }
        if video.recent.len() == frames {
            for (_, picture) in &video.recent {
                stacks.extend_from_slice(picture);
            }
            stacked_at.push(Some(video.recent[frames / 2].0));
        } else {
            stacked_at.push(None);
        }
    }
    video.model.embed_video(stacks, embeddings)?;
    let mut rows = embeddings.chunks_exact(dim.max(1));
    Ok(stacked_at
        .into_iter()
        .map(|at| at.and_then(|time_ns| rows.next().map(|row| (time_ns, row.to_vec()))))
        .collect())
}
