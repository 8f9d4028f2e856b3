//! Moving records from capture rings into the graph's inputs.
//!
//! Each medium has its own timely input, advanced just past the running time of its latest
//! record, so the graph's frontier is the earliest of them: a stalled medium holds progress
//! back instead of letting the other run ahead of it. Advancing past the record at once (not
//! when the next one comes) lets the events it causes leave without waiting a buffer's
//! duration for the frontier. A record whose time is behind its input's (a timestamp glitch, or
//! two records at one time) enters at the input's current time. When a ring's stream has ended
//! and the ring is empty, its input is closed.

use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;

use crate::media::RecordReceiver;

use super::records::Timestamped;

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

/// All feeds of one capture.
pub(crate) struct Ingest<A: Clone + 'static, V: Clone + 'static> {
    audio: Option<Feed<A>>,
    video: Option<Feed<V>>,
}

impl<A: Timestamped + Clone + 'static, V: Timestamped + Clone + 'static> Ingest<A, V> {
    /// Feeds for the media a job captures.
    pub(crate) fn new(audio: Option<Feed<A>>, video: Option<Feed<V>>) -> Self {
        Self { audio, video }
    }

    /// Moves waiting records into the graph (at most `max_records` per medium, so one pump
    /// never floods the graph) and closes inputs whose stream ended. Returns records moved.
    pub(crate) fn pump(&mut self, max_records: usize) -> usize {
        pump_slot(&mut self.audio, max_records) + pump_slot(&mut self.video, max_records)
    }

    /// True once every input is closed.
    pub(crate) fn is_finished(&self) -> bool {
        self.audio.is_none() && self.video.is_none()
    }

    /// Closes every input, e.g. when the run is stopped early.
    pub(crate) fn close(&mut self) {
        self.audio = None;
        self.video = None;
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
