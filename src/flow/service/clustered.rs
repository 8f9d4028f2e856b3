//! The service over the processes of a cluster (`warpflow serve -n N -p P --hostfile FILE`):
//! a stream added on any process is held by the worker its id hashes to among all workers of
//! all processes, and removed or listed from any process alike.
//!
//! Each process runs its own [`StreamService`] for the streams its workers hold; a request for
//! a stream held elsewhere travels over the cluster's link (`cluster_link`) to the holding
//! process, whose service answers it. A stream is captured where it is held, so its media
//! never cross the network, and its events are written by the holding process, to its
//! standard output and its feed. `GET /streams` on any process lists the streams of every
//! process that answers.
//!
//! This module only routes; the streams' life is `StreamService`'s.

use std::sync::Arc;
use std::time::Duration;

use crate::engine_metrics::EngineMetrics;
use crate::events::{EventWriter, StreamControl, StreamDescription, StreamRefusal};
use crate::flow::{ClusterPart, FlowError, Placement};

use super::cluster_link::{ClusterLink, Request};
use super::StreamService;

/// How long an add may take on the holding process, where its reference is loaded and its
/// capture opened before it answers; below the 30 s `warpflow streams` waits for an answer.
const ADD_WAIT: Duration = Duration::from_secs(25);
/// A remove waits up to 10 s there for the stream's last events; the way adds the rest.
const REMOVE_WAIT: Duration = Duration::from_secs(15);
/// How long `GET /streams` waits for each other process.
const LIST_WAIT: Duration = Duration::from_secs(5);

/// This process's part of a service that spans a cluster.
pub struct ClusteredService {
    local: Arc<StreamService>,
    link: ClusterLink,
    threads: usize,
    processes: usize,
    process: usize,
}

impl ClusteredService {
    /// Starts this process's service on `part.threads` workers and joins the cluster in the
    /// background; events of the streams this process holds go to `writer`.
    pub fn start(
        writer: Box<dyn EventWriter + Send>,
        metrics: Arc<EngineMetrics>,
        part: ClusterPart,
    ) -> Result<Self, FlowError> {
        let threads = part.threads.max(1);
        let (processes, process) = (part.addresses.len().max(1), part.process);
        let local = Arc::new(StreamService::start(writer, metrics, threads)?);
        let link = ClusterLink::start(part, local.clone())?;
        Ok(Self {
            local,
            link,
            threads,
            processes,
            process,
        })
    }

    /// Leaves the cluster, then ends this process's streams (their last events and `eos` are
    /// written).
    pub fn finish(&self) {
        self.link.finish();
        self.local.finish();
    }

    /// The process whose workers hold the stream with `id`.
    fn holder_of(&self, id: &str) -> usize {
        Placement::of(id, None, self.threads, self.processes).map_or(self.process, |p| p.holder / self.threads)
    }

    /// Asks process `to` and reads its answer as one description.
    fn ask_for_one(
        &self,
        id: &str,
        to: usize,
        request: Request,
        wait: Duration,
    ) -> Result<StreamDescription, StreamRefusal> {
        let away = |reason: String| StreamRefusal::HolderAway {
            id: id.to_owned(),
            process: to,
            reason,
        };
        let described = self.link.ask(to, request, wait).map_err(away)??;
        described
            .into_iter()
            .next()
            .map(|d| held_by(d, to))
            .ok_or_else(|| away("it answered with no description".into()))
    }

    /// Asks this process's own service, whose answers say it holds the stream.
    fn local_one(
        &self,
        call: impl FnOnce(&StreamService) -> Result<StreamDescription, StreamRefusal>,
    ) -> Result<StreamDescription, StreamRefusal> {
        call(&self.local).map(|d| held_by(d, self.process))
    }
}

/// `description`, saying that `process` holds its stream.
fn held_by(description: StreamDescription, process: usize) -> StreamDescription {
    StreamDescription {
        process: Some(process),
        ..description
    }
}

/// The `id` a request names, if it is a JSON object with a string there; anything else is
/// refused by the local service, which says what is wrong.
fn requested_id(body: &[u8]) -> Option<String> {
    let request: serde_json::Value = serde_json::from_slice(body).ok()?;
    request.get("id")?.as_str().map(str::to_owned)
}

impl StreamControl for ClusteredService {
    fn add(&self, body: &[u8]) -> Result<StreamDescription, StreamRefusal> {
        let Some(id) = requested_id(body) else {
            return self.local_one(|local| local.add(body));
        };
        match self.holder_of(&id) {
            holder if holder == self.process => self.local_one(|local| local.add(body)),
            holder => self.ask_for_one(&id, holder, Request::Add(body.to_vec()), ADD_WAIT),
        }
    }

    fn list(&self) -> Vec<StreamDescription> {
        let mut listed = Vec::new();
        for process in 0..self.processes {
            if process == self.process {
                listed.extend(self.local.list().into_iter().map(|d| held_by(d, process)));
                continue;
            }
            match self.link.ask(process, Request::List, LIST_WAIT) {
                Ok(Ok(streams)) => listed.extend(streams.into_iter().map(|d| held_by(d, process))),
                Ok(Err(refusal)) => tracing::warn!("process {process} did not list its streams: {refusal}"),
                Err(reason) => tracing::warn!("process {process} did not list its streams: {reason}"),
            }
        }
        listed
    }

    fn remove(&self, id: &str) -> Result<StreamDescription, StreamRefusal> {
        match self.holder_of(id) {
            holder if holder == self.process => self.local_one(|local| local.remove(id)),
            holder => self.ask_for_one(id, holder, Request::Remove(id.to_owned()), REMOVE_WAIT),
        }
    }
}
