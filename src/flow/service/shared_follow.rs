//! The follow streams of one service worker, all in one dataflow that streams join and leave
//! without it being rebuilt.
//!
//! ```text
//! captures ─ keyed audio chunks ─ encode_streams ─ follow_streams ─ write_stream_events
//!            (and notes: watermark, health, failure, end)
//! ```
//!
//! The dataflow is built once, when the worker's first follow stream comes. Adding a stream
//! opens its capture and puts its state in the operators' tables under a key of its own: its
//! framing and seat at the worker's encoder pools, its follower, its sink. Each round moves
//! what its capture has into the one input, keyed, followed by its watermark (the running time
//! it has reached); when its capture ends, or fails, its end follows and each operator drops
//! it as the end passes. Time in the dataflow is the worker's clock; each stream's own times
//! ride in its records.
//!
//! Follow streams that compare video keep a dataflow of their own (`worker_loop`).

use std::sync::Arc;
use std::time::Instant;

use timely::dataflow::operators::Input;
use timely::worker::Worker;

use crate::encode::AudioFramer;
use crate::engine_metrics::Gauge;
use crate::events::RunKind;
use crate::flow::driver::open_capture;
use crate::flow::encoder_pool::EncoderPools;
use crate::flow::ingest::{health_event, RecordInput};
use crate::flow::jobs::follow::{follow_encoders, follow_stage};
use crate::flow::jobs::live_audio::pooled_audio_stage;
use crate::flow::jobs::many_streams::SharedWriter;
use crate::flow::operators::{
    EncodeStreams, EncodedStreams, EndedStream, EventSink, FollowStreams, FollowedStreams, StreamSinks,
    WriteStreamEvents,
};
use crate::flow::{FlowError, FollowJob, Keyed, StopSignal, StreamKey, StreamNote};
use crate::media::{
    AudioChunk, AudioNeeds, Capture, CaptureState, MediaError, MediaNeeds, RecordReceiver, SourceStatus,
};

/// Chunks moved from one stream's ring per round: bounds how much of one stream enters the
/// graph between steps, so that a stream read fast from a file does not starve the others.
const PUMP_CHUNKS: usize = 64;

/// The worker's follow streams and their one dataflow.
pub(super) struct SharedFollows {
    input: RecordInput<Keyed<AudioChunk>>,
    encoded: EncodedStreams<AudioFramer, f32>,
    followed: FollowedStreams,
    sinks: StreamSinks,
    feeds: Vec<KeyedFeed>,
    next_key: StreamKey,
    clock: Instant,
}

/// One stream's capture, feeding the shared input under its key.
struct KeyedFeed {
    key: StreamKey,
    capture: Capture,
    audio: RecordReceiver<AudioChunk>,
    stop: StopSignal,
    eos_sent: bool,
    /// The running time just past its latest chunk: its watermark, once sent.
    reached_ns: u64,
    depth: Arc<Gauge>,
}

/// How a feed's round went.
enum Fed {
    /// It goes on, having moved this many chunks.
    Moved(usize),
    /// Its end has been sent.
    Ended,
}

impl SharedFollows {
    /// Builds the dataflow on `worker`, with no stream yet.
    pub(super) fn build(worker: &mut Worker) -> Self {
        let encoded = EncodedStreams::default();
        let followed = FollowedStreams::default();
        let sinks = StreamSinks::default();
        let input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, chunks) = scope.new_input::<Vec<Keyed<AudioChunk>>>();
            chunks
                .encode_streams("AudioFeatures", encoded.clone())
                .follow_streams(followed.clone())
                .write_stream_events(sinks.clone());
            input
        });
        Self {
            input,
            encoded,
            followed,
            sinks,
            feeds: Vec::new(),
            next_key: 0,
            clock: Instant::now(),
        }
    }

    /// Adds `job`'s stream: its reference, encoders and capture are made ready and its capture
    /// started. A capture that cannot start ends the stream at once, its events saying why.
    pub(super) fn add(
        &mut self,
        job: &FollowJob,
        pools: &EncoderPools,
        writer: &SharedWriter,
    ) -> Result<(), FlowError> {
        job.follower.oltw.validate()?;
        let mut encoders = follow_encoders(job)?;
        let stage = follow_stage(job, &mut encoders)?;
        let needs = MediaNeeds {
            audio: Some(AudioNeeds {
                rate_hz: encoders.audio.params().rate_hz,
            }),
            video: None,
        };
        let mut opened = open_capture(&job.live, needs, job.pace, job.supervision)?;
        let Some(audio) = opened.audio.take() else {
            let source_name = job.live.display_name();
            return Err(MediaError::MissingStream {
                source_name,
                kind: "audio",
            }
            .into());
        };
        let encoding = pooled_audio_stage(encoders.audio, pools, job.batching, &job.metrics, &job.stream)?;
        let sink = EventSink::new(
            Box::new(writer.clone()),
            RunKind::Follow,
            job.stream.clone(),
            opened.capture.stats(),
            Some(stage.reference_duration_ns),
            job.progress_every_ns,
        );
        let key = self.next_key;
        self.next_key += 1;
        let (follower, timing, events, metrics) = stage.into_parts();
        self.encoded.add(key, encoding);
        self.followed.add(key, follower, timing, events, metrics);
        self.sinks.add(key, sink);
        let mut feed = KeyedFeed {
            key,
            capture: opened.capture,
            audio,
            stop: job.stop.clone(),
            eos_sent: false,
            reached_ns: 0,
            depth: job.metrics.queue_depth(&job.stream, "audio"),
        };
        match feed.capture.start() {
            Ok(()) => self.feeds.push(feed),
            Err(error) => {
                feed.capture.stop();
                self.advance_clock();
                self.send_failure(key, error.to_string());
            }
        }
        Ok(())
    }

    /// One round: moves what every capture has into the graph, each stream's watermark after
    /// its chunks, and ends the streams whose capture ended or failed. Returns chunks moved.
    pub(super) fn feed_once(&mut self) -> usize {
        self.advance_clock();
        let mut moved = 0;
        let mut feeds = std::mem::take(&mut self.feeds);
        feeds.retain_mut(|feed| match self.feed(feed) {
            Fed::Moved(chunks) => {
                moved += chunks;
                true
            }
            Fed::Ended => false,
        });
        self.feeds = feeds;
        moved
    }

    /// The streams whose `eos` was written since the last call.
    pub(super) fn take_ended(&self) -> Vec<EndedStream> {
        self.sinks.take_ended()
    }

    /// Whether no stream is captured or still in the graph.
    pub(super) fn is_empty(&self) -> bool {
        self.feeds.is_empty() && self.sinks.len() == 0
    }

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
        let mut moved = self.pump(feed, PUMP_CHUNKS);
        feed.depth.set(feed.audio.len() as u64);
        let state = match feed.capture.poll() {
            Ok(state) => state,
            Err(error) => {
                feed.capture.stop();
                self.send_failure(feed.key, error.to_string());
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
        let finished = feed.audio.is_finished() || (state == CaptureState::Finished && moved == 0);
        if finished {
            // End-of-stream reached the bus: whatever the appsink had is in the ring.
            self.pump(feed, usize::MAX);
            feed.capture.stop();
            self.input.send(Keyed::End { stream: feed.key });
            return Fed::Ended;
        }
        Fed::Moved(moved)
    }

    /// Moves up to `max_chunks` of `feed`'s chunks into the graph, then its watermark if it
    /// moved.
    fn pump(&mut self, feed: &mut KeyedFeed, max_chunks: usize) -> usize {
        let mut moved = 0;
        while moved < max_chunks {
            let Some(chunk) = feed.audio.pop() else { break };
            feed.reached_ns = feed.reached_ns.max(chunk.pts_ns.saturating_add(1));
            self.input.send(Keyed::Data {
                stream: feed.key,
                data: chunk,
            });
            moved += 1;
        }
        if moved > 0 {
            let running_ns = feed.reached_ns;
            self.send_note(feed.key, StreamNote::Watermark { running_ns });
        }
        moved
    }

    fn send_note(&mut self, stream: StreamKey, note: StreamNote) {
        self.input.send(Keyed::Note { stream, note });
    }

    /// Ends stream `key` with `reason`.
    fn send_failure(&mut self, stream: StreamKey, reason: String) {
        self.send_note(stream, StreamNote::Failed { reason });
        self.input.send(Keyed::End { stream });
    }
}
