//! Many streams in one run, on timely's own workers: `--workers N` threads of one process, or
//! the processes of a cluster (`-n/-p/-h`), each with its threads.
//!
//! [`crate::flow::placement`] says which worker holds a stream (by a hash of its id) and which
//! captures it (the holder, or a worker of the process the stream is pinned to). A stream
//! captured by its holder joins the holder's shared dataflow for its job
//! ([`crate::flow::shared`]), which every worker builds: its records never leave the worker,
//! and its watermark travels in them. A stream pinned to another process's capture (or a
//! `follow` stream comparing video) keeps a dataflow of its own, which every worker builds, as
//! timely wants: the capturer feeds its inputs, whose exchange pacts carry every record to the
//! holder, which encodes, aligns and writes the stream's events. Either way a stream's
//! progress is its own, and a stream that fails ends alone. Events
//! of all streams go to one writer per process, each carrying its stream's id and numbered per
//! stream.

use std::io;
use std::sync::{Arc, Mutex};

use timely::worker::Worker;

use crate::events::{Event, EventWriter, RunSummary};

use super::follow::build_follow;
use super::sync::build_sync;
use crate::flow::driver::{drive_streams, BuiltStream};
use crate::flow::encoder_pool::EncoderPools;
use crate::flow::placement::{Placement, StreamSite};
use crate::flow::shared::SharedStreams;
use crate::flow::{FlowError, FollowJob, SyncJob};

/// One stream's job.
#[derive(Debug, Clone)]
pub enum StreamJob {
    /// Measure the stream's A/V offset.
    Sync(Box<SyncJob>),
    /// Follow the stream along a reference.
    Follow(Box<FollowJob>),
}

impl StreamJob {
    /// The stream's id.
    pub fn stream(&self) -> &str {
        match self {
            StreamJob::Sync(job) => &job.stream,
            StreamJob::Follow(job) => &job.stream,
        }
    }

    /// The process its source must be captured in, if it is pinned to one.
    pub fn captured_by(&self) -> Option<usize> {
        match self {
            StreamJob::Sync(job) => job.captured_by,
            StreamJob::Follow(job) => job.captured_by,
        }
    }

    /// Whether its stream can join a dataflow that streams of its job share on the worker
    /// that holds it (all but `follow` streams that compare video).
    pub(crate) fn shares_a_dataflow(&self) -> bool {
        match self {
            StreamJob::Sync(_) => true,
            StreamJob::Follow(job) => job.video.is_none(),
        }
    }

    /// Adds the job's dataflow to `worker`, with the part `at` gives this worker.
    pub(crate) fn build(
        &self,
        worker: &mut Worker,
        at: StreamSite,
        pools: &EncoderPools,
        writer: &SharedWriter,
    ) -> Result<BuiltStream, FlowError> {
        let writer = Box::new(writer.clone());
        match self {
            StreamJob::Sync(job) => build_sync(worker, at, pools, job, writer),
            StreamJob::Follow(job) => build_follow(worker, at, pools, job, writer),
        }
    }
}

/// How one stream's run ended.
#[derive(Debug)]
pub struct StreamOutcome {
    /// The stream's id.
    pub stream: String,
    /// Its summary, or why it stopped.
    pub result: Result<RunSummary, FlowError>,
}

/// One writer shared by the streams of a run.
#[derive(Clone)]
pub struct SharedWriter(Arc<Mutex<Box<dyn EventWriter + Send>>>);

impl SharedWriter {
    /// Shares `writer`.
    pub fn new(writer: Box<dyn EventWriter + Send>) -> Self {
        Self(Arc::new(Mutex::new(writer)))
    }
}

impl EventWriter for SharedWriter {
    fn write_event(&mut self, event: &Event) -> io::Result<()> {
        let mut writer = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        writer.write_event(event)
    }

    fn write_summary(&mut self, summary: &RunSummary) -> io::Result<()> {
        let mut writer = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        writer.write_summary(summary)
    }

    fn forget_stream(&mut self, stream: &str) {
        let mut writer = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        writer.forget_stream(stream);
    }
}

/// How the workers of a run are laid out.
#[derive(Debug, Clone, Copy)]
struct Layout {
    threads: usize,
    processes: usize,
}

/// Runs every job on `workers` timely workers (threads of this process) until all have ended;
/// outcomes in the order of `jobs`.
pub fn run_streams(jobs: Vec<StreamJob>, writer: Box<dyn EventWriter + Send>, workers: usize) -> Vec<StreamOutcome> {
    let threads = workers.clamp(1, jobs.len().max(1));
    let layout = Layout { threads, processes: 1 };
    let order: Vec<String> = jobs.iter().map(|job| job.stream().to_owned()).collect();
    let run = run_on_workers(timely::Config::process(threads), jobs, writer, layout);
    let mut outcomes = match run {
        Ok(outcomes) => outcomes,
        Err(error) => {
            let reason = error.to_string();
            order
                .iter()
                .map(|stream| StreamOutcome {
                    stream: stream.clone(),
                    result: Err(FlowError::Output(io::Error::other(reason.clone()))),
                })
                .collect()
        }
    };
    outcomes.sort_by_key(|outcome| order.iter().position(|s| *s == outcome.stream));
    outcomes
}

/// This process's part of a cluster run (timely's `-n/-p/-h`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPart {
    /// Worker threads in each process.
    pub threads: usize,
    /// This process's index.
    pub process: usize,
    /// Every process's `host:port`, in index order.
    pub addresses: Vec<String>,
}

/// Runs every job across the processes of a cluster: each process captures the streams placed
/// on its workers for capture and holds those placed on them to hold, writing the events of the
/// streams it holds to its own `writer`. Outcomes are this process's streams'.
pub fn run_streams_in_cluster(
    jobs: Vec<StreamJob>,
    writer: Box<dyn EventWriter + Send>,
    part: ClusterPart,
) -> Result<Vec<StreamOutcome>, FlowError> {
    let layout = Layout {
        threads: part.threads.max(1),
        processes: part.addresses.len().max(1),
    };
    let config = timely::Config {
        communication: timely::CommunicationConfig::Cluster {
            threads: layout.threads,
            process: part.process,
            addresses: part.addresses,
            report: false,
            zerocopy: false,
        },
        worker: timely::WorkerConfig::default(),
    };
    run_on_workers(config, jobs, writer, layout)
}

/// Starts the workers `config` describes in this process and runs every job on them.
fn run_on_workers(
    config: timely::Config,
    jobs: Vec<StreamJob>,
    writer: Box<dyn EventWriter + Send>,
    layout: Layout,
) -> Result<Vec<StreamOutcome>, FlowError> {
    let mut refused = Vec::new();
    let mut placed = Vec::new();
    for job in jobs {
        match Placement::of(job.stream(), job.captured_by(), layout.threads, layout.processes) {
            Ok(placement) => placed.push((job, placement)),
            Err(error) => refused.push(StreamOutcome {
                stream: job.stream().to_owned(),
                result: Err(error.into()),
            }),
        }
    }
    let writer = SharedWriter::new(writer);
    let placed = Arc::new(placed);
    let clustered = matches!(config.communication, timely::CommunicationConfig::Cluster { .. });
    // Standard output carries the events: timely's "awaiting connections" lines go to
    // standard error while the processes connect, and the workers start writing only once
    // standard output is theirs again.
    let redirect = clustered.then(|| gag::Redirect::stdout(io::stderr()).ok()).flatten();
    let stdout_back = Arc::new(std::sync::Barrier::new(layout.threads + 1));
    let gate = stdout_back.clone();
    let guards = timely::execute(config, move |worker| {
        gate.wait();
        run_on_worker(worker, &placed, &writer)
    });
    drop(redirect);
    if guards.is_ok() {
        stdout_back.wait();
    }
    let guards =
        guards.map_err(|reason| FlowError::Output(io::Error::other(format!("the workers did not start: {reason}"))))?;
    let mut parts = Vec::new();
    for joined in guards.join() {
        match joined {
            Ok(worker_parts) => parts.extend(worker_parts),
            Err(reason) => return Err(FlowError::Output(io::Error::other(reason))),
        }
    }
    let mut outcomes = merge_parts(parts);
    outcomes.extend(refused);
    Ok(outcomes)
}

/// What one worker did for one stream: `Some` summary where it held the stream.
struct StreamPart {
    stream: String,
    result: Result<Option<RunSummary>, FlowError>,
}

/// Builds every job's dataflow on `worker`, drives the captures this worker runs until they
/// end, and finishes the sinks of the streams it holds.
fn run_on_worker(worker: &mut Worker, placed: &[(StreamJob, Placement)], writer: &SharedWriter) -> Vec<StreamPart> {
    let index = worker.index();
    // The streams this worker holds share its encoders.
    let pools = EncoderPools::default();
    let mut parts = Vec::new();
    let mut captured = Vec::new();
    let mut held = Vec::new();
    // A stream captured where it is held joins that worker's shared dataflow for its job; the
    // others (pinned to another process's capture, or comparing video) keep a dataflow each.
    let shared_by =
        |job: &StreamJob, placement: &Placement| placement.capturer == placement.holder && job.shares_a_dataflow();
    let any = |sync: bool| {
        placed
            .iter()
            .any(|(job, placement)| shared_by(job, placement) && matches!(job, StreamJob::Sync(_)) == sync)
    };
    // Every worker builds the same shared dataflows, whichever streams it holds.
    let mut shared = SharedStreams::build(worker, any(false), any(true));
    for (job, placement) in placed {
        let stream = job.stream().to_owned();
        if shared_by(job, placement) {
            if placement.holder == index {
                if let Err(error) = shared.add(worker, job, &pools, writer) {
                    parts.push(StreamPart {
                        stream,
                        result: Err(error),
                    });
                }
            }
            continue;
        }
        let at = StreamSite::new(*placement, index);
        let built = job.build(worker, at, &pools, writer).or_else(|error| {
            // The dataflow must exist on every worker all the same.
            let bystander = job.build(worker, at.bystander(), &pools, writer);
            parts.push(StreamPart {
                stream: stream.clone(),
                result: Err(error),
            });
            bystander
        });
        match built {
            Ok(built) => {
                if let Some(feed) = built.feed {
                    captured.push((stream.clone(), feed));
                }
                if let Some(sink) = built.sink {
                    held.push((stream, sink, built.failures));
                }
            }
            Err(error) => parts.push(StreamPart {
                stream,
                result: Err(error),
            }),
        }
    }
    let (streams, feeds): (Vec<String>, Vec<_>) = captured.into_iter().unzip();
    let (driven, ended) = drive_streams(worker, feeds, shared, &pools);
    for (stream, result) in ended {
        parts.push(StreamPart {
            stream,
            result: result.map(Some),
        });
    }
    let mut failed_captures = Vec::new();
    for (stream, driven) in streams.into_iter().zip(driven) {
        match driven {
            Ok(()) => parts.push(StreamPart {
                stream,
                result: Ok(None),
            }),
            Err(error) => {
                failed_captures.push(stream.clone());
                parts.push(StreamPart {
                    stream,
                    result: Err(error),
                });
            }
        }
    }
    for (stream, sink, failures) in held {
        let result = match failures.take() {
            Some(error) => Err(error),
            // A stream whose capture failed here has said so; it gets no summary.
            None if failed_captures.contains(&stream) => Ok(None),
            None => sink.borrow_mut().finish().map(Some).map_err(FlowError::from),
        };
        parts.push(StreamPart { stream, result });
    }
    parts
}

/// One outcome per stream from the parts of this process's workers: the first failure, else
/// the holder's summary (or an empty one where the stream is held in another process).
fn merge_parts(parts: Vec<StreamPart>) -> Vec<StreamOutcome> {
    let mut outcomes: Vec<StreamOutcome> = Vec::new();
    for part in parts {
        let index = match outcomes.iter().position(|o| o.stream == part.stream) {
            Some(index) => index,
            None => {
                outcomes.push(StreamOutcome {
                    stream: part.stream.clone(),
                    result: Ok(RunSummary::default()),
                });
                outcomes.len() - 1
            }
        };
        let outcome = &mut outcomes[index];
        match (&outcome.result, part.result) {
            (Err(_), _) => {}
            (Ok(_), Err(error)) => outcome.result = Err(error),
            (Ok(_), Ok(Some(summary))) => outcome.result = Ok(summary),
            (Ok(_), Ok(None)) => {}
        }
    }
    outcomes
}
