//! What `follow` and `locate` share: live audio captured, framed and encoded into feature
//! frames (joined with video features when they are compared too), a job-specific stage turning
//! them into events, and the event sink.
//!
//! ```text
//! live audio ─ exchange ─ features (log-mel or chroma, 20 ms) ─┬─ job stage ─ write events
//! live video ─ exchange ─ features (thumbnail, motion…) ─ join ┘   (video only when compared)
//! (both encoders shared with the worker's other streams where they keep no state; `logmel-flux`
//! shares its log-mel bands, and each stream takes their rise itself)
//! health ─── exchange ───────────────────────────────────────────────────────┘
//! ```
//!
//! The exchanges send every record to the worker that holds the stream (see
//! [`crate::flow::placement`]): the capturing worker only feeds the inputs.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use timely::dataflow::operators::{Concat, Exchange, Input};
use timely::dataflow::StreamVec;
use timely::worker::Worker;

use crate::config::{Pace, SourceSpec};
use crate::encode::{AudioEncoder, AudioFramer};
use crate::engine_metrics::EngineMetrics;
use crate::events::{EventWriter, RunKind, RunSummary};
use crate::media::{AudioChunk, AudioNeeds, CaptureStats, MediaNeeds, SupervisionConfig, VideoFrame};

use crate::flow::driver::{local_worker, open_capture, BuiltStream, StreamInputs};
use crate::flow::encoder_pool::EncoderPools;
use crate::flow::follow_features::FollowEncoders;
use crate::flow::held::held_writer;
use crate::flow::ingest::health_events;
use crate::flow::operators::{
    Batching, EncodePooled, EventSink, JoinVideo, Pictures, PooledStage, WriteEvents, LIVE_VIDEO_WAIT_NS,
};
use crate::flow::placement::StreamSite;
use crate::flow::{FailureSlot, FeatureFrame, FlowError, StatusRecord, StopSignal, StreamEvent};

/// The job-specific part of the graph: feature frames in, events out.
pub(crate) trait FeatureStage: Sized {
    /// Adds the stage's operators after `frames`. `stage` is `None` on workers that do not hold
    /// the stream: they add the same operators, with nothing to do.
    fn attach<'scope>(
        stage: Option<Self>,
        frames: StreamVec<'scope, u64, FeatureFrame>,
        failures: &FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent>;
}

/// The settings of a live-audio run that are not the stage's.
pub(crate) struct LiveAudioRun<'a> {
    /// What the run does (its summary says it).
    pub kind: RunKind,
    pub live: &'a SourceSpec,
    pub pace: Pace,
    pub stream: String,
    pub progress_every_ns: u64,
    /// For `progress.ref_fraction`, when there is one reference.
    pub reference_duration_ns: Option<u64>,
    pub batching: Batching,
    pub supervision: SupervisionConfig,
    pub stop: &'a StopSignal,
    pub metrics: Arc<EngineMetrics>,
    /// Video features are compared beside the audio (the same on every worker, which all
    /// build the same dataflow).
    pub video_compared: bool,
}

/// Captures `run.live`'s audio (and video, when `encoders` compare it), encodes it with
/// `encoders` and runs `stage` on the frames until the source ends, writing events to `writer`.
pub(crate) fn run_live_audio<S: FeatureStage>(
    run: LiveAudioRun<'_>,
    encoders: FollowEncoders,
    stage: S,
    writer: Box<dyn EventWriter + Send>,
) -> Result<RunSummary, FlowError> {
    let mut worker = local_worker();
    let pools = EncoderPools::default();
    let at = StreamSite::alone();
    let built = build_live_audio(&mut worker, at, &pools, run, Some(encoders), Some(stage), writer)?;
    built.run_alone(&mut worker, &pools)
}

/// `stream`'s audio framing and its seat at `pools`' encoder like `audio`: an encoder that
/// remembers its stream shares what of it does not, and keeps the rest for the stream.
pub(crate) fn pooled_audio_stage(
    audio: Box<dyn AudioEncoder>,
    pools: &EncoderPools,
    batching: Batching,
    metrics: &EngineMetrics,
    stream: &str,
) -> Result<PooledStage<AudioFramer, f32>, FlowError> {
    let framing = AudioFramer::new(audio.params())?;
    let (audio, per_stream) = match audio.split_for_sharing()? {
        Some(split) => (split.shared, Some(split.per_stream)),
        None => (audio, None),
    };
    Ok(PooledStage {
        framing,
        seat: pools.seat(audio, batching, metrics, stream, "AudioFeatures"),
        per_stream,
    })
}

/// Adds the graph of [`run_live_audio`] to `worker` as `at` says: the capture and the inputs it
/// feeds where the stream is captured, the encoders, `stage` and the sink where it is held.
/// `encoders` are needed on both (they say what to capture), `stage` where it is held; the
/// audio encoder takes a seat in `pools`, the worker's.
pub(crate) fn build_live_audio<S: FeatureStage>(
    worker: &mut Worker,
    at: StreamSite,
    pools: &EncoderPools,
    run: LiveAudioRun<'_>,
    encoders: Option<FollowEncoders>,
    stage: Option<S>,
    writer: Box<dyn EventWriter + Send>,
) -> Result<BuiltStream, FlowError> {
    let role = at.role;
    // Only the capturer opens the source: on another machine it may not exist.
    let opened = match (role.captures, encoders.as_ref()) {
        (true, Some(encoders)) => {
            let needs = MediaNeeds {
                audio: Some(AudioNeeds {
                    rate_hz: encoders.audio.params().rate_hz,
                }),
                video: encoders.video_needs(),
            };
            Some(open_capture(run.live, needs, run.pace, run.supervision)?)
        }
        _ => None,
    };
    let held = match encoders.filter(|_| role.holds) {
        Some(encoders) => {
            let joiner = encoders.joiner();
            let FollowEncoders { audio, video, .. } = encoders;
            let audio = pooled_audio_stage(audio, pools, run.batching, &run.metrics, &run.stream)?;
            let video = video.map(|(encoder, _)| PooledStage {
                framing: Pictures,
                seat: pools.seat(encoder, run.batching, &run.metrics, &run.stream, "VideoFeatures"),
                per_stream: None,
            });
            Some((audio, video, joiner))
        }
        None => None,
    };
    let (audio_stage, video_stage, joiner) = match held {
        Some((audio, video, joiner)) => (Some(audio), video, joiner),
        None => (None, None, None),
    };

    let failures = FailureSlot::default();
    let stats = CaptureStats::default();
    let sink = Rc::new(RefCell::new(EventSink::new(
        held_writer(role, writer),
        run.kind,
        run.stream.clone(),
        stats.clone(),
        run.reference_duration_ns,
        run.progress_every_ns,
    )));
    let holder = at.holder as u64;
    let (audio_in, video_in, status_in) = worker.dataflow::<u64, _, _>(|scope| {
        let (audio_in, audio_chunks) = scope.new_input::<Vec<AudioChunk>>();
        let (status_in, status) = scope.new_input::<Vec<StatusRecord>>();
        let mut frames =
            audio_chunks
                .exchange(move |_| holder)
                .encode_pooled("AudioFeatures", audio_stage, failures.clone());
        let mut video_in = None;
        if run.video_compared {
            let (input, pictures) = scope.new_input::<Vec<VideoFrame>>();
            let video_frames =
                pictures
                    .exchange(move |_| holder)
                    .encode_pooled("VideoFeatures", video_stage, failures.clone());
            let max_wait_ns = match run.pace {
                Pace::Realtime => Some(LIVE_VIDEO_WAIT_NS),
                Pace::Fast => None,
            };
            frames = frames.join_video(video_frames, joiner, max_wait_ns, failures.clone());
            video_in = Some(input);
        }
        S::attach(stage, frames, &failures)
            .concat(health_events(status.exchange(move |_| holder), stats))
            .write_events(sink.clone(), failures.clone());
        (audio_in, video_in, status_in)
    });
    // Dropping the inputs of a worker that does not capture closes them at once.
    let inputs = StreamInputs {
        audio: audio_in,
        video: video_in,
        status: status_in,
    };
    let feed = opened.map(|opened| opened.into_feed(inputs, &run.stream, &failures, &run.metrics, run.stop));
    Ok(BuiltStream {
        feed,
        sink: role.holds.then_some(sink),
        failures,
    })
}
