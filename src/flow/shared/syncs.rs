//! The `sync` streams of one service worker, all in one dataflow that streams join and leave
//! without it being rebuilt.
//!
//! ```text
//! captures ─ keyed audio chunks and video frames ─ sync_streams ─ write_stream_events
//!            (and notes: watermark, health, failure, end)
//! ```
//!
//! The dataflow is built once, when the worker's first `sync` stream comes. Adding a stream
//! opens its capture and puts its state in the operators' tables under a key of its own: its
//! encoders and offset estimation, its sink. Its capture feeds the one input (`keyed_feeds`),
//! its watermark the least running time its audio and its video have reached; when it ends,
//! or fails, each operator drops the stream as its end passes.

use timely::dataflow::operators::Input;
use timely::worker::Worker;

use crate::events::RunKind;
use crate::flow::driver::open_capture;
use crate::flow::jobs::many_streams::SharedWriter;
use crate::flow::jobs::sync::{sync_needs, sync_stream_parts};
use crate::flow::operators::{
    EndedStream, EventSink, StreamSinks, SyncRecord, SyncStreams, SyncedStreams, WriteStreamEvents,
};
use crate::flow::{FlowError, Keyed, SyncJob};
use crate::media::MediaError;

use super::keyed_feeds::KeyedFeeds;

/// The worker's `sync` streams and their one dataflow.
pub(crate) struct SharedSyncs {
    feeds: KeyedFeeds<SyncRecord>,
    synced: SyncedStreams,
    sinks: StreamSinks,
}

impl SharedSyncs {
    /// Builds the dataflow on `worker`, with no stream yet.
    pub(crate) fn build(worker: &mut Worker) -> Self {
        let synced = SyncedStreams::default();
        let sinks = StreamSinks::default();
        let input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, records) = scope.new_input::<Vec<Keyed<SyncRecord>>>();
            records.sync_streams(synced.clone()).write_stream_events(sinks.clone());
            input
        });
        Self {
            feeds: KeyedFeeds::new(input),
            synced,
            sinks,
        }
    }

    /// Adds `job`'s stream: its encoders, estimation and capture are made ready and its capture
    /// started. A capture that cannot start ends the stream at once, its events saying why.
    pub(crate) fn add(&mut self, job: &SyncJob, writer: &SharedWriter) -> Result<(), FlowError> {
        let (encoding, estimation) = sync_stream_parts(job)?;
        let opened = open_capture(&job.source, sync_needs(job)?, job.pace, job.supervision)?;
        let sink = EventSink::new(
            Box::new(writer.clone()),
            RunKind::Sync,
            job.stream.clone(),
            opened.capture.stats(),
            None,
            job.progress_every_ns,
        );
        let key = self.feeds.new_key();
        self.synced.add(key, encoding, estimation);
        self.sinks.add(key, sink);
        self.feeds
            .start(key, opened, job.stop.clone(), &job.metrics, &job.stream);
        Ok(())
    }

    /// One round: moves what every capture has into the graph. Returns records moved.
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

    /// Closes the dataflow's input (no capture may feed it any more); its sinks, which list
    /// its streams as they end, and the errors of the captures that failed, by stream name.
    pub(crate) fn close(mut self) -> (StreamSinks, Vec<(String, MediaError)>) {
        (self.sinks, self.feeds.take_failures())
    }

    /// Whether no stream is captured or still in the graph.
    pub(crate) fn is_empty(&self) -> bool {
        self.feeds.is_empty() && self.sinks.len() == 0 && self.synced.len() == 0
    }
}
