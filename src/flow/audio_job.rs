//! What `follow` and `locate` share: live audio captured, framed and encoded into feature
//! frames (joined with video features when they are compared too), a job-specific stage turning
//! them into events, and the event sink.
//!
//! ```text
//! live audio ─ features (log-mel or chroma, 20 ms) ─┬─ job stage ─ write events
//! live video ─ features (thumbnail, motion…) ─ join ┘   (video only when compared)
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use timely::dataflow::operators::{Concat, Input};
use timely::dataflow::StreamVec;
use timely::worker::Worker;

use crate::config::{Pace, SourceSpec};
use crate::encode::AudioFramer;
use crate::engine_metrics::EngineMetrics;
use crate::media::{AudioChunk, AudioNeeds, Capture, MediaError, MediaNeeds, SupervisionConfig, VideoFrame};

use super::follow_features::FollowEncoders;
use crate::serve::{EventWriter, RunSummary};

use super::driver::{drive, local_worker, QueueDepths, StreamFeed};
use super::ingest::{Feed, Ingest, StatusFeed};
use super::operators::{Batching, EncodeBatches, EventSink, JoinVideo, WriteEvents, LIVE_VIDEO_WAIT_NS};
use super::stages::{feature_stage, video_feature_stage};
use super::{FailureSlot, FeatureFrame, FlowError, StopSignal, StreamEvent};

/// The job-specific part of the graph: feature frames in, events out.
pub(crate) trait FeatureStage {
    /// Adds the stage's operators after `frames`.
    fn attach<'scope>(
        self,
        frames: StreamVec<'scope, u64, FeatureFrame>,
        failures: &FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent>;
}

/// The settings of a live-audio run that are not the stage's.
pub(crate) struct LiveAudioRun<'a> {
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
    let (feed, sink) = build_live_audio(&mut worker, run, encoders, stage, writer)?;
    drive(&mut worker, feed)?;
    let summary = sink.borrow_mut().finish()?;
    Ok(summary)
}

/// Adds the graph of [`run_live_audio`] to `worker`: the stream's feed, and the sink its events
/// go to.
pub(crate) fn build_live_audio<S: FeatureStage>(
    worker: &mut Worker,
    run: LiveAudioRun<'_>,
    encoders: FollowEncoders,
    stage: S,
    writer: Box<dyn EventWriter + Send>,
) -> Result<(StreamFeed, Rc<RefCell<EventSink>>), FlowError> {
    let params = encoders.audio.params();
    let framer = AudioFramer::new(params)?;
    let needs = MediaNeeds {
        audio: Some(AudioNeeds {
            rate_hz: params.rate_hz,
        }),
        video: encoders.video_needs(),
    };
    let mut capture = Capture::open(run.live, needs, run.pace)?;
    capture.set_supervision(run.supervision);
    let missing = |kind| MediaError::MissingStream {
        source_name: run.live.display_name(),
        kind,
    };
    let audio_rx = capture.take_audio().ok_or_else(|| missing("audio"))?;
    let video_rx = match needs.video {
        Some(_) => Some(capture.take_video().ok_or_else(|| missing("video"))?),
        None => None,
    };
    let joiner = encoders.joiner();
    let FollowEncoders { audio, video, .. } = encoders;

    let failures = FailureSlot::default();
    let sink = Rc::new(RefCell::new(EventSink::new(
        writer,
        run.stream.clone(),
        capture.stats(),
        run.reference_duration_ns,
        run.progress_every_ns,
    )));
    let (audio_in, video_in, status_in) = worker.dataflow::<u64, _, _>(|scope| {
        let (audio_in, audio_chunks) = scope.new_input::<Vec<AudioChunk>>();
        let (status_in, status) = scope.new_input::<Vec<StreamEvent>>();
        let mut frames = audio_chunks.encode_batches_with(
            "AudioFeatures",
            failures.clone(),
            run.batching,
            run.metrics.encoder(&run.stream, "AudioFeatures"),
            feature_stage(framer, audio),
        );
        let mut video_in = None;
        if let (Some((encoder, _)), Some(joiner)) = (video, joiner) {
            let (input, pictures) = scope.new_input::<Vec<VideoFrame>>();
            let video_frames = pictures.encode_batches_with(
                "VideoFeatures",
                failures.clone(),
                run.batching,
                run.metrics.encoder(&run.stream, "VideoFeatures"),
                video_feature_stage(encoder),
            );
            let max_wait_ns = match run.pace {
                Pace::Realtime => Some(LIVE_VIDEO_WAIT_NS),
                Pace::Fast => None,
            };
            frames = frames.join_video(video_frames, joiner, max_wait_ns, failures.clone());
            video_in = Some(input);
        }
        stage
            .attach(frames, &failures)
            .concat(status)
            .write_events(sink.clone(), failures.clone());
        (audio_in, video_in, status_in)
    });
    let video_feed = video_rx.zip(video_in).map(|(rx, input)| Feed::new(rx, input));
    let ingest: Ingest<AudioChunk, VideoFrame> = Ingest::new(
        Some(Feed::new(audio_rx, audio_in)),
        video_feed,
        StatusFeed::new(run.stream.clone(), status_in),
    );
    let feed = StreamFeed {
        capture,
        ingest,
        failures,
        depths: QueueDepths::new(&run.metrics, &run.stream),
        stop: run.stop.clone(),
    };
    Ok((feed, sink))
}
