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
use crate::flow::operators::{EventSink, StreamSinks, SyncRecord, SyncStreams, SyncedStreams, WriteStreamEvents};
use crate::flow::{FlowError, Keyed, SyncJob};

use super::keyed_feeds::FedDataflow;

/// The worker's `sync` streams and their one dataflow.
pub(super) struct SharedSyncs {
    pub(super) fed: FedDataflow<SyncRecord>,
    synced: SyncedStreams,
}

impl SharedSyncs {
    /// Builds the dataflow on `worker`, with no stream yet.
    pub(super) fn build(worker: &mut Worker) -> Self {
        let synced = SyncedStreams::default();
        let sinks = StreamSinks::default();
        let input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, records) = scope.new_input::<Vec<Keyed<SyncRecord>>>();
            records.sync_streams(synced.clone()).write_stream_events(sinks.clone());
            input
        });
        Self {
            fed: FedDataflow::new(input, sinks),
            synced,
        }
    }

    /// Adds `job`'s stream: its encoders, estimation and capture are made ready and its capture
    /// started. A capture that cannot start ends the stream at once, its events saying why.
    pub(super) fn add(&mut self, job: &SyncJob, writer: &SharedWriter) -> Result<(), FlowError> {
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
        let key = self.fed.new_key();
        self.synced.add(key, encoding, estimation);
        self.fed
            .start(key, sink, opened, job.stop.clone(), &job.metrics, &job.stream);
        Ok(())
    }
}
