//! Running a worker: pump each stream's capture into the graph, step it, watch the buses,
//! until every stream has ended. Streams on one worker share its thread; one that fails ends
//! alone.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use timely::communication::allocator::Thread;
use timely::communication::Allocator;
use timely::worker::Worker;
use timely::WorkerConfig;

use std::sync::Arc;

use crate::config::{Pace, SourceSpec};
use crate::engine_metrics::{EngineMetrics, Gauge};
use crate::events::RunSummary;
use crate::media::{
    AudioChunk, Capture, CaptureState, MediaError, MediaNeeds, RecordReceiver, StoppingPipelines, SupervisionConfig,
    VideoFrame,
};

use super::encoder_pool::EncoderPools;
use super::ingest::{Feed, Ingest, RecordInput, StatusFeed};
use super::operators::EventSink;
use super::shared::{EndedShared, SharedStreams};
use super::{FailureSlot, FlowError, StatusRecord, StopSignal};

/// Records moved from a ring per pump: bounds how much enters the graph between steps.
const PUMP_RECORDS: usize = 64;
/// How long an idle worker sleeps before looking at the rings again.
pub(crate) const IDLE_PARK: Duration = Duration::from_millis(1);

/// A single timely worker on the calling thread.
pub(crate) fn local_worker() -> Worker {
    Worker::new(
        WorkerConfig::default(),
        Allocator::Thread(Thread::default()),
        Some(Instant::now()),
    )
}

/// The gauges of a stream's capture rings.
pub(crate) struct QueueDepths {
    audio: Arc<Gauge>,
    video: Arc<Gauge>,
}

impl QueueDepths {
    /// `stream`'s gauges in `metrics`.
    pub(crate) fn new(metrics: &EngineMetrics, stream: &str) -> Self {
        Self {
            audio: metrics.queue_depth(stream, "audio"),
            video: metrics.queue_depth(stream, "video"),
        }
    }
}

/// One stream's way into a worker's graph: its capture, the inputs it feeds, the slot its
/// operators leave errors in, and what it reports.
pub(crate) struct StreamFeed {
    pub capture: Capture,
    pub ingest: Ingest<AudioChunk, VideoFrame>,
    pub failures: FailureSlot,
    pub depths: QueueDepths,
    pub stop: StopSignal,
}

/// A source opened for capture, with the rings of the media `needs` asked for.
pub(crate) struct OpenedCapture {
    pub capture: Capture,
    pub audio: Option<RecordReceiver<AudioChunk>>,
    pub video: Option<RecordReceiver<VideoFrame>>,
}

/// The inputs of one stream's dataflow, as the worker that captures the stream feeds them.
pub(crate) struct StreamInputs {
    pub audio: RecordInput<AudioChunk>,
    /// Absent when the stream's video is not used.
    pub video: Option<RecordInput<VideoFrame>>,
    pub status: RecordInput<StatusRecord>,
}

impl OpenedCapture {
    /// This capture's way into `inputs`: each ring into its medium's input (an input without
    /// a ring is closed at once), the source's health and counters into the status input.
    pub(crate) fn into_feed(
        self,
        inputs: StreamInputs,
        stream: &str,
        failures: &FailureSlot,
        metrics: &EngineMetrics,
        stop: &StopSignal,
    ) -> StreamFeed {
        let ingest = Ingest::new(
            self.audio.map(|rx| Feed::new(rx, inputs.audio)),
            self.video.zip(inputs.video).map(|(rx, input)| Feed::new(rx, input)),
            StatusFeed::new(stream.to_owned(), inputs.status, self.capture.stats()),
        );
        StreamFeed {
            capture: self.capture,
            ingest,
            failures: failures.clone(),
            depths: QueueDepths::new(metrics, stream),
            stop: stop.clone(),
        }
    }
}

/// Opens `source` for the media in `needs`; a source that lacks one of them is refused.
pub(crate) fn open_capture(
    source: &SourceSpec,
    needs: MediaNeeds,
    pace: Pace,
    supervision: SupervisionConfig,
) -> Result<OpenedCapture, FlowError> {
    let mut capture = Capture::open(source, needs, pace)?;
    capture.set_supervision(supervision);
    let missing = |kind| MediaError::MissingStream {
        source_name: source.display_name(),
        kind,
    };
    let audio = match needs.audio {
        Some(_) => Some(capture.take_audio().ok_or_else(|| missing("audio"))?),
        None => None,
    };
    let video = match needs.video {
        Some(_) => Some(capture.take_video().ok_or_else(|| missing("video"))?),
        None => None,
    };
    Ok(OpenedCapture { capture, audio, video })
}

/// One stream's part on one worker, as built: its feed where it is captured, its sink where it
/// is held, and the slot this worker's operators leave errors in.
pub(crate) struct BuiltStream {
    pub feed: Option<StreamFeed>,
    pub sink: Option<Rc<RefCell<EventSink>>>,
    pub failures: FailureSlot,
}

impl BuiltStream {
    /// Drives the stream on `worker`, its only worker, with the encoders of `pools`, and
    /// finishes its sink.
    pub(crate) fn run_alone(self, worker: &mut Worker, pools: &EncoderPools) -> Result<RunSummary, FlowError> {
        let (driven, _) = drive_streams(worker, self.feed.into_iter().collect(), SharedStreams::default(), pools);
        driven.into_iter().try_for_each(|outcome| outcome)?;
        if let Some(error) = self.failures.take() {
            return Err(error);
        }
        match self.sink {
            Some(sink) => Ok(sink.borrow_mut().finish()?),
            None => Ok(RunSummary::default()),
        }
    }
}

/// A stream being driven, and how it ended once it has.
pub(crate) struct Driven {
    feed: StreamFeed,
    eos_sent: bool,
    outcome: Option<Result<(), FlowError>>,
    /// Its capture's pipeline once its inputs ended, still stopping: the worker's other streams
    /// go on meanwhile.
    stopping: StoppingPipelines,
}

impl Driven {
    /// Starts `feed`'s capture; a capture that cannot start ends the stream with its error.
    pub(crate) fn start(feed: StreamFeed) -> Self {
        let mut driven = Self {
            feed,
            eos_sent: false,
            outcome: None,
            stopping: StoppingPipelines::default(),
        };
        if let Err(error) = driven.feed.capture.start() {
            driven.end(Err(error.into()));
        }
        driven
    }

    /// Whether the stream's inputs have ended (its graph may still be draining).
    pub(crate) fn has_ended(&self) -> bool {
        self.outcome.is_some()
    }

    /// The error its inputs ended with, if they did.
    pub(crate) fn failure(&self) -> Option<&FlowError> {
        match &self.outcome {
            Some(Err(error)) => Some(error),
            _ => None,
        }
    }

    /// How the stream ended: its own error, else one its operators left behind. Its pipeline,
    /// if still stopping, joins `stopping`, which the worker waits on where it ends.
    pub(crate) fn into_outcome(mut self, stopping: &mut StoppingPipelines) -> Result<(), FlowError> {
        stopping.append(std::mem::take(&mut self.stopping));
        let late = self.feed.failures.take();
        match (self.outcome, late) {
            (Some(Err(error)), _) => Err(error),
            (_, Some(error)) => Err(error),
            _ => Ok(()),
        }
    }

    /// One round: moves records in, watches the bus, and ends the stream when its inputs are
    /// done or it failed (with the error, for the caller to report). The records moved.
    pub(crate) fn drive_once(&mut self) -> Result<usize, &FlowError> {
        match self.feed_once() {
            Ok(Some(moved)) => Ok(moved),
            Ok(None) => {
                self.end(Ok(()));
                Ok(0)
            }
            Err(error) => {
                self.end(Err(error));
                self.failure().map_or(Ok(0), Err)
            }
        }
    }

    /// One round: moves records in, watches the bus. `Some(moved)` while the stream goes on.
    fn feed_once(&mut self) -> Result<Option<usize>, FlowError> {
        let feed = &mut self.feed;
        if feed.stop.is_requested() && !self.eos_sent {
            feed.capture.send_eos();
            self.eos_sent = true;
        }
        let moved = feed.ingest.pump(PUMP_RECORDS);
        let (audio_waiting, video_waiting) = feed.ingest.waiting();
        feed.depths.audio.set(audio_waiting as u64);
        feed.depths.video.set(video_waiting as u64);
        let state = feed.capture.poll()?;
        for status in feed.capture.take_statuses() {
            feed.ingest.send_status(status);
        }
        if let Some(error) = feed.failures.take() {
            return Err(error);
        }
        if feed.ingest.is_finished() {
            return Ok(None);
        }
        if state == CaptureState::Finished && moved == 0 {
            // End-of-stream reached the bus: whatever the appsinks had is in the rings.
            feed.ingest.pump(usize::MAX);
            return Ok(None);
        }
        Ok(Some(moved))
    }

    /// The stream's inputs are done (ended, or failed with `outcome`): close them so that its
    /// graph drains and finishes.
    fn end(&mut self, outcome: Result<(), FlowError>) {
        if outcome.is_err() {
            self.feed.failures.mark_failed();
        }
        self.feed.ingest.close();
        self.stopping.append(self.feed.capture.stop_without_waiting());
        self.outcome = Some(outcome);
    }
}

/// Starts every stream's capture and runs the worker until each stream's inputs have ended and
/// the dataflows are done, encoding what waits in `pools` after every step; the captures that
/// feed the `shared` dataflows run alongside. A stream that fails ends alone, with its error
/// as its outcome; the others go on. Outcomes come in the order of `feeds`, then the shared
/// dataflows' streams, as their sinks ended them.
pub(crate) fn drive_streams(
    worker: &mut Worker,
    feeds: Vec<StreamFeed>,
    mut shared: SharedStreams,
    pools: &EncoderPools,
) -> (Vec<Result<(), FlowError>>, Vec<EndedShared>) {
    let mut driven: Vec<Driven> = feeds.into_iter().map(Driven::start).collect();
    // How long until a batch waiting in the pools is due.
    let mut batch_due = IDLE_PARK;
    loop {
        let mut moved = shared.feed_once();
        let mut feeding = shared.is_feeding();
        for stream in driven.iter_mut().filter(|s| s.outcome.is_none()) {
            match stream.feed_once() {
                Ok(Some(records)) => {
                    moved += records;
                    feeding = true;
                }
                Ok(None) => stream.end(Ok(())),
                Err(error) => stream.end(Err(error)),
            }
        }
        if !feeding {
            break;
        }
        let park = if moved > 0 { Duration::ZERO } else { IDLE_PARK };
        worker.step_or_park(Some(park.min(batch_due)));
        batch_due = pools.flush().unwrap_or(IDLE_PARK);
    }
    let closed = shared.close();
    while worker.step_or_park(Some(batch_due)) {
        batch_due = pools.flush().unwrap_or(IDLE_PARK);
        for stream in &mut driven {
            if let Some(error) = stream.feed.failures.take() {
                stream.outcome = Some(Err(error));
            }
        }
    }
    let mut stopping = StoppingPipelines::default();
    let outcomes = driven
        .into_iter()
        .map(|stream| stream.into_outcome(&mut stopping))
        .collect();
    (outcomes, closed.take_ended())
}
