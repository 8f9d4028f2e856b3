//! The `follow` job: where a live stream is in a reference recording.
//!
//! ```text
//! reference file ─ decode ─ features ─────────────────┐ (before the run)
//! live audio ─ features (log-mel or chroma, 20 ms) ─┬─ follow reference (OLTW + relocation) ─ write events
//! live video ─ features ─ join (with --video-features) ┘
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use timely::dataflow::StreamVec;
use timely::worker::Worker;

use crate::align::{frames_in_time, Follower, FollowerConfig, RelocatorConfig, TRANSPOSITION_SETTLE_FRAMES};
use crate::config::Cue;
use crate::config::{Pace, SourceSpec};
use crate::encode::{AudioFeatureKind, AudioFrameParams, DeviceChoice};
use crate::engine_metrics::{AlignerMetrics, EngineMetrics};
use crate::events::{EventWriter, RunKind, RunSummary};
use crate::media::SupervisionConfig;

use super::live_audio::{build_live_audio, FeatureStage, LiveAudioRun};
use super::DEFAULT_PROGRESS_EVERY_NS;
use crate::flow::driver::{local_worker, BuiltStream};
use crate::flow::encoder_pool::EncoderPools;
use crate::flow::follow_features::{
    fit_follower_to_features, follow_audio_encoder, FollowEncoders, Transposition, VideoComparison,
};
use crate::flow::operators::{Batching, FollowEvents, FollowReference, ReferenceTiming};
use crate::flow::placement::StreamSite;
use crate::flow::{
    follow_audio_features, load_shared_reference, FailureSlot, FeatureFrame, FlowError, ReferenceProgress,
    ReferenceStep, StopSignal, StreamEvent,
};

/// Framing of the features: 93 ms windows every 20 ms at 22.05 kHz.
pub const FOLLOW_FRAMES: AudioFrameParams = AudioFrameParams {
    rate_hz: 22_050,
    frame_len: 2048,
    hop_len: 441,
    history_len: 0,
};

/// Whole frames of [`FOLLOW_FRAMES`] (one every 20 ms) in `seconds`, rounded: how the command
/// line and the element turn seconds into the aligner's frame counts.
pub fn follow_frames_in(seconds: f64) -> usize {
    (seconds * 1e9 / FOLLOW_FRAMES.hop_ns()).round() as usize
}

/// Relocation that looks for the last `window_s` seconds of live audio in the whole reference;
/// `None` (no relocation) below two frames, so that 0 turns it off.
pub fn relocation_for_window_s(window_s: f64) -> Option<RelocatorConfig> {
    let query_frames = follow_frames_in(window_s);
    (query_frames >= 2).then(|| RelocatorConfig {
        query_frames,
        ..RelocatorConfig::default()
    })
}

/// Seconds in `frames` frames of [`FOLLOW_FRAMES`]: the inverse of [`follow_frames_in`].
pub fn follow_seconds_in(frames: usize) -> f64 {
    frames as f64 * FOLLOW_FRAMES.hop_ns() / 1e9
}

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
    /// Which built-in audio features are compared.
    pub features: AudioFeatureKind,
    /// How the encoders gather batches.
    pub batching: Batching,
    /// How a live source is supervised (stall timeout, retry delays).
    pub supervision: SupervisionConfig,
    /// A TorchScript audio model whose output is compared instead.
    pub audio_model: Option<PathBuf>,
    /// TorchScript models run in half precision (on CUDA; ignored on the CPU).
    pub half_precision: bool,
    /// Video features compared beside them, if any.
    pub video: Option<VideoComparison>,
    /// Settings of the tracker and of relocation (the key estimate is `transposition`'s).
    pub follower: FollowerConfig,
    /// Whether the live stream's key is estimated and undone.
    pub transposition: Transposition,
    /// Emit a position for every n-th live frame, counted in frames of 20 ms (a model's frames
    /// of another length take as long).
    pub emit_every_frames: usize,
    /// Cues to announce as the live stream reaches them (`--cues`), sorted by time.
    pub cues: Vec<Cue>,
    /// The stream's name in events.
    pub stream: String,
    /// The process of a cluster run that captures the source (`--captured-by`), when the
    /// stream is pinned to one; else the process that holds the stream captures it.
    pub captured_by: Option<usize>,
    /// Running time between progress events.
    pub progress_every_ns: u64,
    /// Told how far a media reference has been encoded, before the run starts.
    pub reference_progress: Option<ReferenceProgress>,
    /// Ends the run early and cleanly when requested.
    pub stop: StopSignal,
    /// Where the engine records its timings and queue depths (for `GET /metrics`).
    pub metrics: Arc<EngineMetrics>,
}

impl FollowJob {
    /// A job following `live` along `reference`, its events named `stream`, with every other
    /// setting at its default: paced as if live, encoders where [`DeviceChoice::Auto`] puts
    /// them, the audio features a `.wfr` reference was made with (else the built-in default),
    /// no video, the tracker's and relocation's own defaults, the key estimated wherever the
    /// features lay out pitch, a position every frame (20 ms), progress every
    /// [`DEFAULT_PROGRESS_EVERY_NS`], no cues. Reads a `.wfr` reference's header, which may
    /// fail; the command line and the `avalign` element start from it.
    pub fn new(reference: impl Into<PathBuf>, live: SourceSpec, stream: impl Into<String>) -> Result<Self, FlowError> {
        let reference = reference.into();
        Ok(Self {
            features: follow_audio_features(None, &reference)?,
            reference,
            live,
            pace: Pace::Realtime,
            device: DeviceChoice::Auto,
            batching: Batching::default(),
            supervision: SupervisionConfig::default(),
            audio_model: None,
            half_precision: false,
            video: None,
            follower: FollowerConfig::default(),
            transposition: Transposition::Auto,
            emit_every_frames: 1,
            cues: Vec::new(),
            stream: stream.into(),
            captured_by: None,
            progress_every_ns: DEFAULT_PROGRESS_EVERY_NS,
            reference_progress: None,
            stop: StopSignal::default(),
            metrics: Arc::default(),
        })
    }
}

/// Runs `job`, writing its events to `writer`; returns the run's summary.
pub fn run_follow(job: FollowJob, writer: Box<dyn EventWriter + Send>) -> Result<RunSummary, FlowError> {
    let mut worker = local_worker();
    let pools = EncoderPools::default();
    build_follow(&mut worker, StreamSite::alone(), &pools, &job, writer)?.run_alone(&mut worker, &pools)
}

/// Adds `job`'s graph to `worker` as `at` says: the capture where the stream is captured, the
/// encoders, the reference, the follower and the sink where it is held.
pub(crate) fn build_follow(
    worker: &mut Worker,
    at: StreamSite,
    pools: &EncoderPools,
    job: &FollowJob,
    writer: Box<dyn EventWriter + Send>,
) -> Result<BuiltStream, FlowError> {
    job.follower.oltw.validate()?;
    let role = at.role;
    // The capturer needs the encoders to know what to capture; the holder runs them.
    let mut encoders = match role.captures || role.holds {
        true => Some(follow_encoders(job)?),
        false => None,
    };
    let mut reference_duration_ns = None;
    let stage = match encoders.as_mut().filter(|_| role.holds) {
        Some(encoders) => {
            let stage = follow_stage(job, encoders)?;
            reference_duration_ns = Some(stage.reference_duration_ns);
            Some(stage)
        }
        None => None,
    };
    let run = LiveAudioRun {
        kind: RunKind::Follow,
        live: &job.live,
        pace: job.pace,
        stream: job.stream.clone(),
        progress_every_ns: job.progress_every_ns,
        reference_duration_ns,
        batching: job.batching,
        supervision: job.supervision,
        stop: &job.stop,
        metrics: job.metrics.clone(),
        video_compared: job.video.is_some(),
    };
    build_live_audio(worker, at, pools, run, encoders, stage, writer)
}

/// `job`'s encoders, on the device it asks for.
pub(crate) fn follow_encoders(job: &FollowJob) -> Result<FollowEncoders, FlowError> {
    let device = job.device.resolve()?;
    let audio = follow_audio_encoder(job.features, job.audio_model.as_deref(), device, job.half_precision)?;
    FollowEncoders::new(audio, job.video.clone(), job.half_precision)
}

/// The holder's part of `job`: its reference encoded with `encoders`, and the follower over it.
pub(crate) fn follow_stage(job: &FollowJob, encoders: &mut FollowEncoders) -> Result<FollowStage, FlowError> {
    let report = |done_ns, total_ns, finished| {
        if let Some(progress) = &job.reference_progress {
            progress.report(ReferenceStep {
                path: &job.reference,
                index: 0,
                count: 1,
                done_ns,
                total_ns,
                finished,
            });
        }
    };
    // Streams of one process that follow the same `.wfr` share its matrix.
    let reference = load_shared_reference(&job.reference, encoders, |done_ns, total_ns| {
        report(done_ns, total_ns, false)
    })?;
    report(reference.duration_ns, Some(reference.duration_ns), true);
    let mut follower = job.follower.clone();
    follower.silence = encoders.silence()?;
    follower.pitch_layout = encoders.pitch_layout();
    let features_name = match &job.audio_model {
        Some(model) => model.display().to_string(),
        None => job.features.to_string(),
    };
    follower.transposition_settle_frames = job
        .transposition
        .layout_for(follower.pitch_layout, &features_name)?
        .map(|_| TRANSPOSITION_SETTLE_FRAMES);
    if job.audio_model.is_none() {
        fit_follower_to_features(&mut follower, job.features);
    }
    // Frame counts are given in frames of 20 ms; a model's windows may be timed otherwise.
    let frames_per_20ms = FOLLOW_FRAMES.hop_ns() / encoders.audio.params().hop_ns();
    let mut follower = follower.scaled_in_time(frames_per_20ms);
    follower.oltw.distance = encoders.distance();
    if let Some(relocation) = follower.relocation.as_mut() {
        relocation.distance = encoders.distance();
    }
    Ok(FollowStage {
        follower: Follower::new(reference.features, follower)?,
        cues: job.cues.clone(),
        timing: reference.timing,
        reference_duration_ns: reference.duration_ns,
        emit_every_frames: frames_in_time(job.emit_every_frames, frames_per_20ms, 1),
        stream: job.stream.clone(),
        reference_name: reference_name(&job.reference),
        metrics: job.metrics.aligner(&job.stream, "position"),
    })
}

/// How a reference is named in events: its file name without extension.
pub(crate) fn reference_name(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "reference".to_owned(), |s| s.to_string_lossy().into_owned())
}

/// What holding a follow stream takes besides its encoders.
pub(crate) struct FollowStage {
    pub follower: Follower,
    pub cues: Vec<Cue>,
    pub timing: ReferenceTiming,
    pub reference_duration_ns: u64,
    pub emit_every_frames: usize,
    pub stream: String,
    pub reference_name: String,
    pub metrics: AlignerMetrics,
}

impl FollowStage {
    /// The follower, and how its events are made.
    pub(crate) fn into_parts(self) -> (Follower, ReferenceTiming, FollowEvents, AlignerMetrics) {
        let events = FollowEvents {
            emit_every_frames: self.emit_every_frames,
            stream: self.stream,
            reference: self.reference_name,
            cues: self.cues,
        };
        (self.follower, self.timing, events, self.metrics)
    }
}

impl FeatureStage for FollowStage {
    fn attach<'scope>(
        stage: Option<Self>,
        frames: StreamVec<'scope, u64, FeatureFrame>,
        failures: &FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent> {
        let Some(stage) = stage else {
            // Never used: no frame reaches a worker that does not hold the stream.
            let timing = ReferenceTiming {
                hop_ns: FOLLOW_FRAMES.hop_ns(),
                first_frame_ns: 0.0,
            };
            let events = FollowEvents {
                emit_every_frames: 1,
                stream: String::new(),
                reference: String::new(),
                cues: Vec::new(),
            };
            return frames.follow_reference(None, timing, events, AlignerMetrics::detached(), failures.clone());
        };
        let (follower, timing, events, metrics) = stage.into_parts();
        frames.follow_reference(Some(follower), timing, events, metrics, failures.clone())
    }
}
