//! A long-running service: streams added and removed while it runs (`warpflow serve`,
//! `POST /streams`, `DELETE /streams/{id}`).
//!
//! One worker thread holds every stream. A stream added is built as a dataflow of its own on
//! that worker while the others run, and its capture starts at once; a stream removed gets its
//! stop, so its source ends, its last events and `eos` are written, and its dataflow, capture
//! and state are dropped. The table of streams (`table`) is what `GET /streams` lists.
//!
//! This module owns the service's life and its worker's loop; requests are read in `request`,
//! and the HTTP routes that call [`StreamControl`] live in `serve`.

mod request;
mod table;
mod worker_loop;

use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine_metrics::EngineMetrics;
use crate::events::{EventWriter, StreamControl, StreamDescription, StreamRefusal, StreamState};

use super::jobs::many_streams::SharedWriter;
use super::FlowError;
use table::{CountingWriter, StreamTable};
use worker_loop::{serve_streams, Command};

/// How long `remove` waits for a stream's last events before answering with it still ending.
const REMOVE_WAIT: Duration = Duration::from_secs(10);
/// How often `remove` looks whether the stream has ended.
const REMOVE_POLL: Duration = Duration::from_millis(10);

/// A running service's streams, and the worker that holds them.
pub struct StreamService {
    /// `None` once the service is finishing: no more streams.
    commands: Mutex<Option<mpsc::Sender<Command>>>,
    table: Arc<StreamTable>,
    /// The streams' writer, told when a stream is removed for good.
    writer: SharedWriter,
    metrics: Arc<EngineMetrics>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl StreamService {
    /// Starts a service with no streams; their events go to `writer`, their timings and
    /// queue depths to `metrics`.
    pub fn start(writer: Box<dyn EventWriter + Send>, metrics: Arc<EngineMetrics>) -> Result<Self, FlowError> {
        let table = Arc::new(StreamTable::default());
        let writer = SharedWriter::new(Box::new(CountingWriter::new(writer, table.clone())));
        let (commands, received) = mpsc::channel();
        let worker_table = table.clone();
        let worker_writer = writer.clone();
        let worker = std::thread::Builder::new()
            .name("warpflow-service".into())
            .spawn(move || serve_streams(received, &worker_table, &worker_writer))
            .map_err(FlowError::Output)?;
        Ok(Self {
            commands: Mutex::new(Some(commands)),
            table,
            writer,
            metrics,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Ends every stream (their last events and `eos` are written) and the worker; streams
    /// asked for from now on are refused.
    pub fn finish(&self) {
        // The worker ends once its streams have drained and no one can send it more.
        lock(&self.commands).take();
        self.table.request_end_all();
        if let Some(worker) = lock(&self.worker).take() {
            if worker.join().is_err() {
                tracing::error!("the service's worker panicked");
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
        let sent = lock(&self.commands).as_ref().map(|commands| commands.send(command));
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
