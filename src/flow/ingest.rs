//! Moving records from capture rings into the graph's inputs.
//!
//! Each medium has its own timely input, advanced just past the running time of its latest
//! record, so the graph's frontier is the earliest of them: a stalled medium holds progress
//! back instead of letting the other run ahead of it. Advancing past the record at once (not
//! when the next one comes) lets the events it causes leave without waiting a buffer's
//! duration for the frontier. A record whose time is behind its input's (a timestamp glitch, or
//! two records at one time) enters at the input's current time. When a ring's stream has ended
//! and the ring is empty, its input is closed.
//!
//! A third input carries the source's health (`lost`, `recovered`) as events, and the capture's
//! counters (records in and dropped) for the `progress` events of the worker that holds the
//! stream, which may be another one, in another process. It follows the media inputs — never
//! ahead of the latest of them, never holding them back — and closes with them.

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::{InputHandle, StreamVec};

use crate::events::{DiscontKind, EventBody};
use crate::media::{CaptureStats, DiscontinuityKind, RecordReceiver, SourceStatus};

use super::records::{StatusRecord, StreamEvent, Timestamped};

/// Running time between reports of the capture's counters, while they change.
const COUNTS_EVERY_NS: u64 = 100_000_000;

/// A timely input carrying vectors of `D` at running times in ns.
pub(crate) type RecordInput<D> = InputHandle<u64, CapacityContainerBuilder<Vec<D>>>;

/// One ring feeding one input.
pub(crate) struct Feed<D: Clone + 'static> {
    receiver: RecordReceiver<D>,
    input: RecordInput<D>,
}

impl<D: Timestamped + Clone + 'static> Feed<D> {
    /// Connects `receiver` to `input`.
    pub(crate) fn new(receiver: RecordReceiver<D>, input: RecordInput<D>) -> Self {
        Self { receiver, input }
    }

    /// Moves up to `max_records` records; returns how many moved and whether the feed is done.
    fn pump(&mut self, max_records: usize) -> (usize, bool) {
        let mut moved = 0;
        while moved < max_records {
            let Some(record) = self.receiver.pop() else {
                break;
            };
            let time = record.pts_ns().max(*self.input.time());
            self.input.advance_to(time);
            self.input.send(record);
            self.input.advance_to(time.saturating_add(1));
            moved += 1;
        }
        (moved, self.receiver.is_finished())
    }
}

/// The input of a stream's health events and capture counters.
pub(crate) struct StatusFeed {
    stream: String,
    input: RecordInput<StatusRecord>,
    stats: CaptureStats,
    /// The counts last sent, and the input time they were sent at.
    sent_counts: Option<((u64, u64), u64)>,
}

impl StatusFeed {
    /// Health events of `stream`, and the counters of `stats`, enter through `input`.
    pub(crate) fn new(stream: String, input: RecordInput<StatusRecord>, stats: CaptureStats) -> Self {
        Self {
            stream,
            input,
            stats,
            sent_counts: None,
        }
    }

    /// Sends the counters if they changed and the last report is `COUNTS_EVERY_NS` old (or
    /// at once with `now`).
    fn report_counts(&mut self, now: bool) {
        let counts = (self.stats.frames_in(), self.stats.frames_dropped());
        let time = *self.input.time();
        let due = match self.sent_counts {
            None => true,
            Some((sent, at)) => sent != counts && (now || time >= at.saturating_add(COUNTS_EVERY_NS)),
        };
        if due {
            self.input.send(StatusRecord::Counts {
                frames_in: counts.0,
                frames_dropped: counts.1,
            });
            self.sent_counts = Some((counts, time));
        }
    }
}

/// The holder's end of a status input: health records as events; the capture's counters go to
/// `stats`, which the holder's `progress` events read.
pub(crate) fn health_events<'scope>(
    status: StreamVec<'scope, u64, StatusRecord>,
    stats: CaptureStats,
) -> StreamVec<'scope, u64, StreamEvent> {
    status.flat_map(move |record| match record {
        StatusRecord::Health(event) => Some(event),
        StatusRecord::Counts {
            frames_in,
            frames_dropped,
        } => {
            stats.mirror(frames_in, frames_dropped);
            None
        }
    })
}

/// All feeds of one capture.
pub(crate) struct Ingest<A: Clone + 'static, V: Clone + 'static> {
    audio: Option<Feed<A>>,
    video: Option<Feed<V>>,
    status: Option<StatusFeed>,
}

impl<A: Timestamped + Clone + 'static, V: Timestamped + Clone + 'static> Ingest<A, V> {
    /// Feeds for the media a job captures, and for the source's health.
    pub(crate) fn new(audio: Option<Feed<A>>, video: Option<Feed<V>>, status: StatusFeed) -> Self {
        Self {
            audio,
            video,
            status: Some(status),
        }
    }

    /// Sends a change in the source's health into the graph. A loss is sent after everything
    /// captured before it, and moves every input past it: nothing older can come any more, so
    /// the `lost` event leaves at once instead of waiting for the source to return.
    pub(crate) fn send_status(&mut self, status: SourceStatus) {
        let lost = matches!(status, SourceStatus::Lost { .. });
        if lost {
            self.pump(usize::MAX);
        }
        let latest_input = [
            self.audio.as_ref().map(|f| *f.input.time()),
            self.video.as_ref().map(|f| *f.input.time()),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        let Some(feed) = self.status.as_mut() else { return };
        let (time_ns, body) = health_event(status);
        let time = if lost { time_ns.max(latest_input) } else { time_ns }.max(*feed.input.time());
        feed.input.advance_to(time);
        feed.input.send(StatusRecord::Health(StreamEvent {
            stream: feed.stream.clone(),
            body,
        }));
        if lost {
            let past = time.saturating_add(1);
            advance_feed(&mut self.audio, past);
            advance_feed(&mut self.video, past);
        }
        self.follow_media();
    }

    /// Moves waiting records into the graph (at most `max_records` per medium, so one pump
    /// never floods the graph) and closes inputs whose stream ended. Returns records moved.
    pub(crate) fn pump(&mut self, max_records: usize) -> usize {
        let moved = pump_slot(&mut self.audio, max_records) + pump_slot(&mut self.video, max_records);
        self.follow_media();
        moved
    }

    /// Records waiting in the audio and the video ring.
    pub(crate) fn waiting(&self) -> (usize, usize) {
        (
            self.audio.as_ref().map_or(0, |f| f.receiver.len()),
            self.video.as_ref().map_or(0, |f| f.receiver.len()),
        )
    }

    /// Advances the status input to the earliest media input, or closes it with them.
    fn follow_media(&mut self) {
        let earliest = [
            self.audio.as_ref().map(|f| *f.input.time()),
            self.video.as_ref().map(|f| *f.input.time()),
        ]
        .into_iter()
        .flatten()
        .min();
        match (earliest, self.status.as_mut()) {
            (Some(time), Some(feed)) => {
                if time > *feed.input.time() {
                    feed.input.advance_to(time);
                }
                feed.report_counts(false);
            }
            (None, Some(feed)) => {
                feed.report_counts(true);
                self.status = None;
            }
            (_, None) => {}
        }
    }

    /// True once every input is closed.
    pub(crate) fn is_finished(&self) -> bool {
        self.audio.is_none() && self.video.is_none() && self.status.is_none()
    }

    /// Closes every input, e.g. when the run is stopped early.
    pub(crate) fn close(&mut self) {
        if let Some(feed) = self.status.as_mut() {
            feed.report_counts(true);
        }
        self.audio = None;
        self.video = None;
        self.status = None;
    }
}

/// A change in a source's health as its event, and the running time it happened at.
pub(crate) fn health_event(status: SourceStatus) -> (u64, EventBody) {
    match status {
        SourceStatus::Lost {
            live_ns,
            reason,
            retries,
        } => (
            live_ns,
            EventBody::Lost {
                live_ns,
                reason,
                retries,
            },
        ),
        SourceStatus::Recovered { live_ns, retries } => (live_ns, EventBody::Recovered { live_ns, retries }),
        SourceStatus::Discont { live_ns, kind, reason } => {
            let kind = match kind {
                DiscontinuityKind::Gap => DiscontKind::Gap,
                DiscontinuityKind::Reset => DiscontKind::Reset,
                DiscontinuityKind::Loss => DiscontKind::Loss,
            };
            (live_ns, EventBody::Discont { live_ns, kind, reason })
        }
    }
}

fn advance_feed<D: Timestamped + Clone + 'static>(slot: &mut Option<Feed<D>>, time: u64) {
    if let Some(feed) = slot {
        if time > *feed.input.time() {
            feed.input.advance_to(time);
        }
    }
}

fn pump_slot<D: Timestamped + Clone + 'static>(slot: &mut Option<Feed<D>>, max_records: usize) -> usize {
    let Some(feed) = slot else { return 0 };
    let (moved, done) = feed.pump(max_records);
    if done {
        // Dropping the input handle closes the input.
        *slot = None;
    }
    moved
}
