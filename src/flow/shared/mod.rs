//! Dataflows that many streams of one kind share on a worker: a stream joins and leaves
//! without a dataflow being built, its records keyed ([`super::Keyed`]) and each operator
//! keeping its state in a table by key.
//!
//! `follows` holds `follow` streams on audio, `syncs` `sync` streams; `keyed_feeds` moves each
//! stream's capture into its dataflow's one input, with its watermark. The service's workers
//! build them when their first stream of the kind comes; a run of many streams builds them on
//! every worker at its start, for the streams each worker captures and holds.
//!
//! This module owns the dataflows and their feeding; who adds streams, and when, is the
//! caller's.

mod follows;
mod keyed_feeds;
mod syncs;

use timely::worker::Worker;

use crate::events::RunSummary;
use crate::flow::encoder_pool::EncoderPools;
use crate::flow::jobs::many_streams::SharedWriter;
use crate::flow::operators::{EndedStream, StreamSinks};
use crate::flow::{FlowError, StreamJob};
use crate::media::MediaError;

use follows::SharedFollows;
use syncs::SharedSyncs;

/// A worker's shared dataflows and the streams it feeds into them.
#[derive(Default)]
pub(crate) struct SharedStreams {
    follows: Option<SharedFollows>,
    syncs: Option<SharedSyncs>,
}

impl SharedStreams {
    /// Builds on `worker`, before any stream comes, the dataflows `follows` and `syncs` ask for:
    /// every worker of a run must build the same.
    pub(crate) fn build(worker: &mut Worker, follows: bool, syncs: bool) -> Self {
        Self {
            follows: follows.then(|| SharedFollows::build(worker)),
            syncs: syncs.then(|| SharedSyncs::build(worker)),
        }
    }

    /// Adds `job`'s stream (one that [`StreamJob::shares_a_dataflow`]) to the dataflow of its
    /// job, built on `worker` if it is the first of its kind there; its capture starts at once.
    pub(crate) fn add(
        &mut self,
        worker: &mut Worker,
        job: &StreamJob,
        pools: &EncoderPools,
        writer: &SharedWriter,
    ) -> Result<(), FlowError> {
        match job {
            StreamJob::Follow(job) => self
                .follows
                .get_or_insert_with(|| SharedFollows::build(worker))
                .add(job, pools, writer),
            StreamJob::Sync(job) => self
                .syncs
                .get_or_insert_with(|| SharedSyncs::build(worker))
                .add(job, writer),
        }
    }

    /// One round of every capture feeding them; records moved.
    pub(crate) fn feed_once(&mut self) -> usize {
        self.follows.as_mut().map_or(0, |f| f.fed.feed_once()) + self.syncs.as_mut().map_or(0, |s| s.fed.feed_once())
    }

    /// Whether a capture still feeds them.
    pub(crate) fn is_feeding(&self) -> bool {
        self.follows.as_ref().is_some_and(|f| f.fed.is_feeding())
            || self.syncs.as_ref().is_some_and(|s| s.fed.is_feeding())
    }

    /// Whether no stream is captured or still in their graphs.
    pub(crate) fn is_empty(&self) -> bool {
        self.follows.as_ref().is_none_or(|f| f.fed.is_empty()) && self.syncs.as_ref().is_none_or(|s| s.fed.is_empty())
    }

    /// The streams whose `eos` was written since the last call.
    pub(crate) fn take_ended(&self) -> Vec<EndedStream> {
        let follows = self.follows.iter().flat_map(|f| f.fed.take_ended());
        follows
            .chain(self.syncs.iter().flat_map(|s| s.fed.take_ended()))
            .collect()
    }

    /// Closes their inputs once no capture feeds them, so that the dataflows can complete.
    pub(crate) fn close(self) -> ClosedStreams {
        let follows = self.follows.map(|f| f.fed.close());
        let mut closed = ClosedStreams::default();
        for (sinks, failures) in follows.into_iter().chain(self.syncs.map(|s| s.fed.close())) {
            closed.sinks.push(sinks);
            closed.failures.extend(failures);
        }
        closed
    }
}
/// A stream of a shared dataflow that has ended: its name, and its summary or its error.
pub(crate) type EndedShared = (String, Result<RunSummary, FlowError>);

/// What is left of the shared dataflows once their inputs have closed: their sinks, which list
/// their streams as they end, and the errors of the captures that failed.
#[derive(Default)]
pub(crate) struct ClosedStreams {
    sinks: Vec<StreamSinks>,
    failures: Vec<(String, MediaError)>,
}

impl ClosedStreams {
    /// Each stream that has ended, with its summary or its error: the capture's own where the
    /// capture failed.
    pub(crate) fn take_ended(mut self) -> Vec<EndedShared> {
        let ended: Vec<EndedStream> = self.sinks.iter().flat_map(StreamSinks::take_ended).collect();
        ended
            .into_iter()
            .map(|ended| {
                let result = ended.outcome.map_err(|reason| {
                    match self.failures.iter().position(|(stream, _)| *stream == ended.name) {
                        Some(at) => FlowError::Media(self.failures.swap_remove(at).1),
                        None => FlowError::SharedStream { reason },
                    }
                });
                (ended.name, result)
            })
            .collect()
    }
}
