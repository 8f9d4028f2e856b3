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

pub(crate) use follows::SharedFollows;
pub(crate) use syncs::SharedSyncs;

use timely::worker::Worker;

use crate::events::RunSummary;
use crate::flow::operators::{EndedStream, StreamSinks};
use crate::flow::FlowError;
use crate::media::MediaError;

/// The shared dataflows a run of many streams built on one worker, and the streams it feeds
/// into them.
#[derive(Default)]
pub(crate) struct SharedStreams {
    pub follows: Option<SharedFollows>,
    pub syncs: Option<SharedSyncs>,
}

impl SharedStreams {
    /// Builds on `worker` the dataflows `follows` and `syncs` ask for; every worker of a run
    /// must build the same.
    pub(crate) fn build(worker: &mut Worker, follows: bool, syncs: bool) -> Self {
        Self {
            follows: follows.then(|| SharedFollows::build(worker)),
            syncs: syncs.then(|| SharedSyncs::build(worker)),
        }
    }

    /// One round of every capture feeding them; records moved.
    pub(crate) fn feed_once(&mut self) -> usize {
        self.follows.as_mut().map_or(0, SharedFollows::feed_once)
            + self.syncs.as_mut().map_or(0, SharedSyncs::feed_once)
    }

    /// Whether a capture still feeds them.
    pub(crate) fn is_feeding(&self) -> bool {
        self.follows.as_ref().is_some_and(SharedFollows::is_feeding)
            || self.syncs.as_ref().is_some_and(SharedSyncs::is_feeding)
    }

    /// Closes their inputs once no capture feeds them, so that the dataflows can complete.
    pub(crate) fn close(self) -> ClosedStreams {
        let follows = self.follows.map(SharedFollows::close);
        let mut closed = ClosedStreams::default();
        for (sinks, failures) in follows.into_iter().chain(self.syncs.map(SharedSyncs::close)) {
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
