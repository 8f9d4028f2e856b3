//! The `follow` job: where a live stream is in a reference recording.
//!
//! ```text
//! reference file ─ decode ─ features ───────────────┐ (before the run)
//! live audio ─ features (log-mel or chroma, 20 ms) ─ follow reference (OLTW) ─ write events
//! ```

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use timely::dataflow::operators::Input;

use crate::align::{Follower, FollowerConfig};
use crate::config::{Pace, SourceSpec};
use crate::encode::{AudioFeatureEncoder, AudioFeatureKind, AudioFrameParams, AudioFramer, DeviceChoice};
use crate::media::{AudioChunk, AudioNeeds, Capture, MediaError, MediaNeeds, VideoFrame};
use crate::serve::{EventWriter, RunSummary};

use super::driver::{drive, local_worker};
use super::ingest::{Feed, Ingest};
use super::operators::{EncodeBatches, EventSink, FollowReference, WriteEvents};
use super::stages::feature_stage;
use super::{encode_reference_file, FailureSlot, FlowError, StopSignal};

/// Framing of the features: 93 ms windows every 20 ms at 22.05 kHz.
pub const FOLLOW_FRAMES: AudioFrameParams = AudioFrameParams {
    rate_hz: 22_050,
    frame_len: 2048,
    hop_len: 441,
};

/// Settings of a `follow` run.
#[derive(Debug, Clone)]
pub struct FollowJob {
    /// The reference recording (a media file).
    pub reference: PathBuf,
    /// The live source.
    pub live: SourceSpec,
    /// Pace of a non-live source.
    pub pace: Pace,
    /// Where the encoders run.
    pub device: DeviceChoice,
    /// Which features are compared.
    pub features: AudioFeatureKind,
    /// Settings of the tracker and of relocation.
    pub follower: FollowerConfig,
    /// Emit a position for every n-th live frame.
    pub emit_every_frames: usize,
    /// The stream's name in events.
    pub stream: String,
    /// Running time between progress events.
    pub progress_every_ns: u64,
    /// Ends the run early and cleanly when requested.
    pub stop: StopSignal,
}

/// Runs `job`, writing its events to `writer`; returns the run's summary.
pub fn run_follow(job: FollowJob, writer: Box<dyn EventWriter + Send>) -> Result<RunSummary, FlowError> {
    let device = job.device.resolve()?;
    job.follower.oltw.validate()?;
    let encoder = AudioFeatureEncoder::new(job.features, FOLLOW_FRAMES, device)?;
    let reference = encode_reference_file(&job.reference, &encoder)?;
    let follower = Follower::new(Arc::new(reference.features), job.follower.clone())?;
    let reference_name = job
        .reference
        .file_stem()
        .map_or_else(|| "reference".to_owned(), |s| s.to_string_lossy().into_owned());
    let framer = AudioFramer::new(FOLLOW_FRAMES)?;

    let needs = MediaNeeds {
        audio: Some(AudioNeeds {
            rate_hz: FOLLOW_FRAMES.rate_hz,
        }),
        video: None,
    };
    let mut capture = Capture::open(&job.live, needs, job.pace)?;
    let audio_rx = capture.take_audio().ok_or_else(|| MediaError::MissingStream {
        source_name: job.live.display_name(),
        kind: "audio",
    })?;

    let failures = FailureSlot::default();
    let sink = Rc::new(RefCell::new(EventSink::new(
        writer,
        job.stream.clone(),
        capture.stats(),
        Some(reference.duration_ns),
        job.progress_every_ns,
    )));
    let mut worker = local_worker();
    let audio_in = worker.dataflow::<u64, _, _>(|scope| {
        let (audio_in, audio) = scope.new_input::<Vec<AudioChunk>>();
        audio
            .encode_batches("AudioFeatures", failures.clone(), feature_stage(framer, encoder))
            .follow_reference(
                follower,
                reference.timing,
                job.emit_every_frames,
                job.stream.clone(),
                reference_name,
                failures.clone(),
            )
            .write_events(sink.clone(), failures.clone());
        audio_in
    });
    let mut ingest: Ingest<AudioChunk, VideoFrame> = Ingest::new(Some(Feed::new(audio_rx, audio_in)), None);
    drive(&mut worker, &mut capture, &mut ingest, &failures, &job.stop)?;
    let summary = sink.borrow_mut().finish()?;
    Ok(summary)
}
