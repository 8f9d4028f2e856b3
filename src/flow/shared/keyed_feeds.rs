//! The captures of a dataflow that many streams share, each feeding the one input under its
//! stream's key.
//!
//! Each round moves what every capture has into the input, keyed, each medium's records in the
//! order they came, followed by the stream's watermark: the running time before which
//! everything it captured has come, the least of its media's. When a capture ends, or fails,
//! the stream's end follows (after a `Failed` note). Time in the dataflow is the worker's
//! clock, moved after each round that sent something; each stream's own times ride in its
//! records.
//!
//! This module only feeds; what the dataflow does with the records is its builder's
//! (`follows`, `syncs`).

use std::sync::Arc;
use std::time::Instant;

use crate::engine_metrics::{EngineMetrics, Gauge};
use crate::flow::driver::OpenedCapture;
use crate::flow::ingest::{health_event, RecordInput};
use crate::flow::operators::{EndedStream, EventSink, StreamSinks, SyncRecord};
use crate::flow::{Keyed, StopSignal, StreamKey, StreamNote};
use crate::media::{
    AudioChunk, Capture, CaptureState, MediaError, RecordReceiver, SourceStatus, StoppingPipelines, VideoFrame,
};

/// Records moved from one ring per round: bounds how much of one stream enters the graph
/// between steps, so that a stream read fast from a file does not starve the others.
const PUMP_RECORDS: usize = 64;

/// A record of a shared dataflow, made from a stream's captured media.
pub(crate) trait SharedRecord: Clone + 'static {
    /// A chunk of the stream's audio.
    fn from_audio(chunk: AudioChunk) -> Self;
    /// A frame of the stream's video; `None` where the dataflow takes none (its streams'
    /// captures open no video).
    fn from_video(frame: VideoFrame) -> Option<Self>;
}

impl SharedRecord for AudioChunk {
    fn from_audio(chunk: AudioChunk) -> Self {
        chunk
    }

    fn from_video(_: VideoFrame) -> Option<Self> {
        None
    }
}

impl SharedRecord for SyncRecord {
    fn from_audio(chunk: AudioChunk) -> Self {
        Self::Audio(chunk)
    }

    fn from_video(frame: VideoFrame) -> Option<Self> {
        Some(Self::Video(frame))
    }
}

/// One medium's ring, with how far its records have reached.
struct Medium<D> {
    ring: RecordReceiver<D>,
    /// The running time just past its latest record.
    reached_ns: u64,
    depth: Arc<Gauge>,
}

impl<D> Medium<D> {
    fn new(ring: RecordReceiver<D>, depth: Arc<Gauge>) -> Self {
        Self {
            ring,
            reached_ns: 0,
            depth,
        }
    }
}

/// One stream's capture.
struct KeyedFeed {
    key: StreamKey,
    /// Its name in events.
    stream: String,
    capture: Capture,
    audio: Option<Medium<AudioChunk>>,
    video: Option<Medium<VideoFrame>>,
    stop: StopSignal,
    eos_sent: bool,
    /// The watermark last sent.
    watermark_ns: u64,
}

impl KeyedFeed {
    /// The least of its media's reach: everything captured before it has been moved.
    fn reached_ns(&self) -> u64 {
        let audio = self.audio.as_ref().map(|m| m.reached_ns);
        let video = self.video.as_ref().map(|m| m.reached_ns);
        audio.into_iter().chain(video).min().unwrap_or(0)
    }

    fn rings_finished(&self) -> bool {
        self.audio.as_ref().is_none_or(|m| m.ring.is_finished())
            && self.video.as_ref().is_none_or(|m| m.ring.is_finished())
    }
}

/// How a feed's round went.
enum Fed {
    /// It goes on, having moved this many records.
    Moved(usize),
    /// Its end has been sent.
    Ended,
}

/// The captures feeding one shared input of records `R`.
struct KeyedFeeds<R: SharedRecord> {
    input: RecordInput<Keyed<R>>,
    feeds: Vec<KeyedFeed>,
    /// The captures that failed, by stream name, with their errors as they were.
    failures: Vec<(String, MediaError)>,
    /// Whether anything was sent since the input's time last moved.
    sent: bool,
    next_key: StreamKey,
    clock: Instant,
    /// The pipelines of ended captures still stopping: the others' feeding does not wait on
    /// them; the worker does, once feeding is over (when this is dropped).
    stopping: StoppingPipelines,
}

impl<R: SharedRecord> KeyedFeeds<R> {
    /// Feeds `input`, with no stream yet.
    fn new(input: RecordInput<Keyed<R>>) -> Self {
        Self {
            input,
            feeds: Vec::new(),
            failures: Vec::new(),
            sent: false,
            next_key: 0,
            clock: Instant::now(),
            stopping: StoppingPipelines::default(),
        }
    }

    /// A key no stream of this input has had.
    fn new_key(&mut self) -> StreamKey {
        let key = self.next_key;
        self.next_key += 1;
        key
    }

    /// Starts `opened`'s capture, feeding its records under `key` until it ends or `stop` is
    /// asked; its rings' depths go to `metrics` under `stream`. A capture that cannot start
    /// ends its stream at once, its failure first.
    fn start(
        &mut self,
        key: StreamKey,
        opened: OpenedCapture,
        stop: StopSignal,
        metrics: &EngineMetrics,
        stream: &str,
    ) {
        let mut feed = KeyedFeed {
            key,
            stream: stream.to_owned(),
            capture: opened.capture,
            audio: opened
                .audio
                .map(|ring| Medium::new(ring, metrics.queue_depth(stream, "audio"))),
            video: opened
                .video
                .map(|ring| Medium::new(ring, metrics.queue_depth(stream, "video"))),
            stop,
            eos_sent: false,
            watermark_ns: 0,
        };
        match feed.capture.start() {
            Ok(()) => self.feeds.push(feed),
            Err(error) => {
                self.stopping.append(feed.capture.stop_without_waiting());
                self.send_failure(key, error.to_string());
                self.failures.push((feed.stream, error));
            }
        }
    }

    /// The captures that failed since the last call: each stream's name and error.
    fn take_failures(&mut self) -> Vec<(String, MediaError)> {
        std::mem::take(&mut self.failures)
    }

    /// One round: moves what every capture has into the graph, each stream's watermark after
    /// its records, and ends the streams whose capture ended or failed. Returns records moved.
    fn feed_once(&mut self) -> usize {
        let mut moved = 0;
        let mut feeds = std::mem::take(&mut self.feeds);
        feeds.retain_mut(|feed| match self.feed(feed) {
            Fed::Moved(records) => {
                moved += records;
                true
            }
            Fed::Ended => false,
        });
        self.feeds = feeds;
        if self.sent || moved > 0 {
            self.sent = false;
            self.advance_clock();
        }
        moved
    }

    /// Whether no capture is running.
    fn is_empty(&self) -> bool {
        self.feeds.is_empty()
    }

    /// Ends stream `key` with `reason`, before its capture started.
    fn send_failure(&mut self, stream: StreamKey, reason: String) {
        self.send_note(stream, StreamNote::Failed { reason });
        self.send_end(stream);
    }

    fn send_end(&mut self, stream: StreamKey) {
        self.sent = true;
        self.input.send(Keyed::End { stream });
    }

    /// Moves the input's time to the worker's clock, which pushes what was sent on. Only a
    /// round that sent something moves it: a time that moved with nothing sent would still be
    /// work for every operator at every step, and the worker would never rest.
    fn advance_clock(&mut self) {
        let now_ns = u64::try_from(self.clock.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if now_ns > *self.input.time() {
            self.input.advance_to(now_ns);
        }
    }

    /// One round of one stream.
    fn feed(&mut self, feed: &mut KeyedFeed) -> Fed {
        if feed.stop.is_requested() && !feed.eos_sent {
            feed.capture.send_eos();
            feed.eos_sent = true;
        }
        let mut moved = self.pump(feed, PUMP_RECORDS);
        let state = match feed.capture.poll() {
            Ok(state) => state,
            Err(error) => {
                self.stopping.append(feed.capture.stop_without_waiting());
                self.send_failure(feed.key, error.to_string());
                self.failures.push((feed.stream.clone(), error));
                return Fed::Ended;
            }
        };
        for status in feed.capture.take_statuses() {
            // A loss is told after everything captured before it.
            if matches!(status, SourceStatus::Lost { .. }) {
                moved += self.pump(feed, usize::MAX);
            }
            let (_, body) = health_event(status);
            self.send_note(feed.key, StreamNote::Health(body));
        }
        let finished = feed.rings_finished() || (state == CaptureState::Finished && moved == 0);
        if finished {
            // End-of-stream reached the bus: whatever the appsinks had is in the rings.
            self.pump(feed, usize::MAX);
            self.stopping.append(feed.capture.stop_without_waiting());
            self.send_end(feed.key);
            return Fed::Ended;
        }
        Fed::Moved(moved)
    }

    /// Moves up to `max_records` of each of `feed`'s media into the graph, then its watermark
    /// if it moved.
    fn pump(&mut self, feed: &mut KeyedFeed, max_records: usize) -> usize {
        let key = feed.key;
        let mut moved = 0;
        if let Some(audio) = feed.audio.as_mut() {
            moved += pump_medium(
                &mut self.input,
                key,
                audio,
                max_records,
                |c| c.pts_ns,
                |c| Some(R::from_audio(c)),
            );
        }
        if let Some(video) = feed.video.as_mut() {
            moved += pump_medium(&mut self.input, key, video, max_records, |f| f.pts_ns, R::from_video);
        }
        let reached_ns = feed.reached_ns();
        if reached_ns > feed.watermark_ns {
            feed.watermark_ns = reached_ns;
            self.send_note(key, StreamNote::Watermark { running_ns: reached_ns });
        }
        moved
    }

    fn send_note(&mut self, stream: StreamKey, note: StreamNote) {
        self.sent = true;
        self.input.send(Keyed::Note { stream, note });
    }
}

/// Moves up to `max_records` of `medium`'s records into `input` under `key`, as `record` makes
/// them.
fn pump_medium<D, R: SharedRecord>(
    input: &mut RecordInput<Keyed<R>>,
    key: StreamKey,
    medium: &mut Medium<D>,
    max_records: usize,
    pts_ns: impl Fn(&D) -> u64,
    record: impl Fn(D) -> Option<R>,
) -> usize {
    let mut moved = 0;
    while moved < max_records {
        let Some(captured) = medium.ring.pop() else { break };
        medium.reached_ns = medium.reached_ns.max(pts_ns(&captured).saturating_add(1));
        if let Some(data) = record(captured) {
            input.send(Keyed::Data { stream: key, data });
        }
        moved += 1;
    }
    medium.depth.set(medium.ring.len() as u64);
    moved
}

/// A shared dataflow's two ends: the captures that feed its input, and the sinks that write its
/// streams' events.
pub(crate) struct FedDataflow<R: SharedRecord> {
    feeds: KeyedFeeds<R>,
    sinks: StreamSinks,
}

impl<R: SharedRecord> FedDataflow<R> {
    /// The ends of a dataflow whose input is `input` and whose events go to `sinks`.
    pub(crate) fn new(input: RecordInput<Keyed<R>>, sinks: StreamSinks) -> Self {
        Self {
            feeds: KeyedFeeds::new(input),
            sinks,
        }
    }

    /// A key no stream of this dataflow has had, for its entries in the operators' tables.
    pub(crate) fn new_key(&mut self) -> StreamKey {
        self.feeds.new_key()
    }

    /// Writes stream `key`'s events to `sink` and starts `opened`'s capture feeding it (see
    /// [`KeyedFeeds::start`]).
    pub(crate) fn start(
        &mut self,
        key: StreamKey,
        sink: EventSink,
        opened: OpenedCapture,
        stop: StopSignal,
        metrics: &EngineMetrics,
        stream: &str,
    ) {
        self.sinks.add(key, sink);
        self.feeds.start(key, opened, stop, metrics, stream);
    }

    /// One round of every capture; records moved.
    pub(crate) fn feed_once(&mut self) -> usize {
        self.feeds.feed_once()
    }

    /// The streams whose `eos` was written since the last call.
    pub(crate) fn take_ended(&self) -> Vec<EndedStream> {
        self.sinks.take_ended()
    }

    /// Whether a capture still feeds the dataflow.
    pub(crate) fn is_feeding(&self) -> bool {
        !self.feeds.is_empty()
    }

    /// Whether no stream is captured or still in the graph.
    pub(crate) fn is_empty(&self) -> bool {
        self.feeds.is_empty() && self.sinks.len() == 0
    }

    /// Closes the dataflow's input (no capture may feed it any more); its sinks, which list
    /// its streams as they end, and the errors of the captures that failed, by stream name.
    pub(crate) fn close(mut self) -> (StreamSinks, Vec<(String, MediaError)>) {
        (self.sinks, self.feeds.take_failures())
    }
}
