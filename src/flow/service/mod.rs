//! A long-running service: streams added and removed while it runs (`warpflow serve`,
//! `POST /streams`, `DELETE /streams/{id}`).
//!
//! The service's worker threads share out its streams by a hash of their ids ([`worker_of`]);
//! each thread is a timely worker of its own, since a stream is captured and held by the same
//! one. A stream added joins its worker's one dataflow for its job ([`super::shared`]) while
//! the others run; only a `follow` stream that compares video is built as
//! a dataflow of its own. Its capture starts at once; a stream removed gets its stop, so its
//! source ends, its last events and `eos` are written, and its capture and state (its entries
//! in the shared dataflow's tables, or its own dataflow) are dropped. The table of streams (`table`) is what `GET /streams` lists.
//!
//! Over the processes of a cluster, each process runs one such service for the streams its
//! workers hold, and [`ClusteredService`] sends each request to the process that holds its
//! stream (`clustered`, over `cluster_link`).
//!
//! This module owns the service's life and its worker's loop; requests are read in `request`,
//! and the HTTP routes that call [`StreamControl`] live in `serve`.

mod cluster_link;
mod clustered;
mod request;
mod table;
mod worker_loop;

use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine_metrics::EngineMetrics;
use crate::events::{EventWriter, StreamControl, StreamDescription, StreamRefusal, StreamState};

use super::jobs::many_streams::SharedWriter;
use super::{worker_of, FlowError};
use table::{CountingWriter, StreamTable};
use worker_loop::{serve_streams, Command};

pub use clustered::ClusteredService;

/// How long `remove` waits for a stream's last events before answering with it still ending.
const REMOVE_WAIT: Duration = Duration::from_secs(10);
/// How often `remove` looks whether the stream has ended.
const REMOVE_POLL: Duration = Duration::from_millis(10);

/// A running service's streams, and the worker that holds them.
pub struct StreamService {
    /// One per worker; none once the service is finishing: no more streams.
    commands: Mutex<Vec<mpsc::Sender<Command>>>,
    table: Arc<StreamTable>,
    /// The streams' writer, told when a stream is removed for good.
    writer: SharedWriter,
    metrics: Arc<EngineMetrics>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl StreamService {
    /// Starts a service with no streams on `workers` threads (at least one); their events go to
    /// `writer`, their timings and queue depths to `metrics`.
    pub fn start(
        writer: Box<dyn EventWriter + Send>,
        metrics: Arc<EngineMetrics>,
        workers: usize,
    ) -> Result<Self, FlowError> {
        let table = Arc::new(StreamTable::default());
        let writer = SharedWriter::new(Box::new(CountingWriter::new(writer, table.clone())));
        let service = Self {
            commands: Mutex::new(Vec::new()),
            table,
            writer,
            metrics,
            workers: Mutex::new(Vec::new()),
        };
        for index in 0..workers.max(1) {
            let (commands, received) = mpsc::channel();
            let (table, writer) = (service.table.clone(), service.writer.clone());
            let worker = std::thread::Builder::new()
                .name(format!("warpflow-service-{index}"))
                .spawn(move || serve_streams(received, &table, &writer))
                .map_err(FlowError::Output)?;
            lock(&service.commands).push(commands);
            lock(&service.workers).push(worker);
        }
        Ok(service)
    }

    /// Ends every stream (their last events and `eos` are written) and the worker; streams
    /// asked for from now on are refused.
    pub fn finish(&self) {
        // A worker ends once its streams have drained and no one can send it more.
        lock(&self.commands).clear();
        self.table.request_end_all();
        for worker in lock(&self.workers).drain(..) {
            if worker.join().is_err() {
                tracing::error!("a worker of the service panicked");
            }
        }
    }
}

/// A lock whose holder cannot leave its data half-changed (a sender, a handle).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Drop for StreamService {
    fn drop(&mut self) {
        self.finish();
    }
}

impl StreamControl for StreamService {
    fn add(&self, body: &[u8]) -> Result<StreamDescription, StreamRefusal> {
        let request = request::read_request(body, &self.metrics)?;
        let id = request.description.id.clone();
        self.table.insert(request.description, request.stop)?;
        let (reply, built) = mpsc::channel();
        let command = Command::Add {
            job: request.job,
            reply,
        };
        let sent = {
            let commands = lock(&self.commands);
            let worker = worker_of(&id, commands.len());
            commands.get(worker).map(|commands| commands.send(command))
        };
        let outcome = match sent {
            Some(Ok(())) => built.recv().unwrap_or(Err(StreamRefusal::ShuttingDown)),
            _ => Err(StreamRefusal::ShuttingDown),
        };
        match outcome {
            Ok(()) => self.table.describe(&id).ok_or(StreamRefusal::NoSuchStream(id)),
            Err(refusal) => {
                self.table.remove(&id);
                Err(refusal)
            }
        }
    }

    fn list(&self) -> Vec<StreamDescription> {
        self.table.list()
    }

    fn remove(&self, id: &str) -> Result<StreamDescription, StreamRefusal> {
        self.table.request_end(id)?;
        let deadline = Instant::now() + REMOVE_WAIT;
        loop {
            let Some(description) = self.table.describe(id) else {
                return Err(StreamRefusal::NoSuchStream(id.to_owned()));
            };
            if matches!(description.state, StreamState::Ended | StreamState::Failed) {
                let removed = self
                    .table
                    .remove(id)
                    .ok_or_else(|| StreamRefusal::NoSuchStream(id.to_owned()));
                self.writer.clone().forget_stream(id);
                self.metrics.forget_stream(id);
                return removed;
            }
            if Instant::now() >= deadline {
                return Ok(description);
            }
            std::thread::sleep(REMOVE_POLL);
        }
    }
}
