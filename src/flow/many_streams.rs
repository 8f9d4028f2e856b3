//! Many streams in one run: each stream's graph goes to one of `workers` timely workers,
//! chosen by a hash of the stream's id, and each worker runs on a thread of its own, driving
//! the captures and graphs of all the streams it holds.
//!
//! Across processes (timely's cluster mode) every worker builds every stream's dataflow, as
//! timely wants, but only the worker a stream hashes to captures it and writes its events;
//! the others close their inputs at once.
//!
//! A stream's media never leave the worker that captures them (its graph is a dataflow of its
//! own on that worker), so streams on different workers never wait on each other, and a
//! stream that fails ends alone. Events of all streams go to one writer, each carrying its
//! stream's id and numbered per stream.

use std::io;
use std::sync::{Arc, Mutex};

use timely::worker::Worker;

use crate::events::Event;
use crate::serve::{EventWriter, RunSummary};

use super::driver::{drive_streams, local_worker};
use super::follow_job::build_follow;
use super::sync_job::build_sync;
use super::{FlowError, FollowJob, SyncJob};

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
}

/// The worker (of `workers`) that holds `stream`: FNV-1a of its id, so that a stream lands
/// on the same worker in every run.
pub fn worker_of(stream: &str, workers: usize) -> usize {
    let hash = stream.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % workers.max(1) as u64) as usize
}

/// Runs every job on `workers` workers until all have ended; outcomes in the order of `jobs`.
pub fn run_streams(jobs: Vec<StreamJob>, writer: Box<dyn EventWriter + Send>, workers: usize) -> Vec<StreamOutcome> {
    let writer = SharedWriter::new(writer);
    let workers = workers.clamp(1, jobs.len().max(1));
    let order: Vec<String> = jobs.iter().map(|job| job.stream().to_owned()).collect();
    let mut shards: Vec<Vec<StreamJob>> = (0..workers).map(|_| Vec::new()).collect();
    for job in jobs {
        shards[worker_of(job.stream(), workers)].push(job);
    }
    let threads: Vec<_> = shards
        .into_iter()
        .enumerate()
        .filter(|(_, shard)| !shard.is_empty())
        .map(|(index, shard)| {
            let writer = writer.clone();
            let names: Vec<String> = shard.iter().map(|job| job.stream().to_owned()).collect();
            let thread = std::thread::Builder::new()
                .name(format!("warpflow-worker-{index}"))
                .spawn(move || run_shard(shard, &writer));
            (names, thread)
        })
        .collect();
    let mut outcomes: Vec<StreamOutcome> = Vec::new();
    for (names, thread) in threads {
        let joined = thread
            .map_err(|e| e.to_string())
            .and_then(|t| t.join().map_err(|_| "a worker thread panicked".to_owned()));
        match joined {
            Ok(shard_outcomes) => outcomes.extend(shard_outcomes),
            Err(reason) => outcomes.extend(names.into_iter().map(|stream| StreamOutcome {
                stream,
                result: Err(FlowError::Output(io::Error::other(reason.clone()))),
            })),
        }
    }
    outcomes.sort_by_key(|outcome| order.iter().position(|s| *s == outcome.stream));
    outcomes
}

/// One worker of its own: builds each job's graph, drives them all, finishes their sinks.
fn run_shard(jobs: Vec<StreamJob>, writer: &SharedWriter) -> Vec<StreamOutcome> {
    let mut worker = local_worker();
    run_on_worker(&mut worker, &jobs, writer, |_| true)
}

/// Builds the graph of every job on `worker`; those `owns` accepts are captured and driven
/// here, the others only take part in the graph (their inputs closed, their events unwritten)
/// so that every worker of a cluster builds the same dataflows.
fn run_on_worker(
    worker: &mut Worker,
    jobs: &[StreamJob],
    writer: &SharedWriter,
    owns: impl Fn(&str) -> bool,
) -> Vec<StreamOutcome> {
    let mut outcomes = Vec::new();
    let mut running = Vec::new();
    let mut feeds = Vec::new();
    for job in jobs {
        let stream = job.stream().to_owned();
        let owned = owns(&stream);
        let out: Box<dyn EventWriter + Send> = if owned {
            Box::new(writer.clone())
        } else {
            Box::new(Unwritten)
        };
        let built = match job {
            StreamJob::Sync(job) => build_sync(worker, job, out),
            StreamJob::Follow(job) => build_follow(worker, job, out),
        };
        match (built, owned) {
            (Ok((feed, sink)), true) => {
                feeds.push(feed);
                running.push((stream, sink));
            }
            (Ok((mut feed, _)), false) => feed.ingest.close(),
            (Err(error), _) => outcomes.push(StreamOutcome {
                stream,
                result: Err(error),
            }),
        }
    }
    let driven = drive_streams(worker, feeds);
    for ((stream, sink), driven) in running.into_iter().zip(driven) {
        let result = driven.and_then(|()| sink.borrow_mut().finish().map_err(FlowError::from));
        outcomes.push(StreamOutcome { stream, result });
    }
    outcomes
}

/// Where a stream's events go on the workers that do not hold it: nowhere.
struct Unwritten;

impl EventWriter for Unwritten {
    fn write_event(&mut self, _event: &Event) -> io::Result<()> {
        Ok(())
    }

    fn write_summary(&mut self, _summary: &RunSummary) -> io::Result<()> {
        Ok(())
    }
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

/// Runs every job across the processes of a cluster, each process holding the streams whose
/// ids hash to its workers, and writing their events to its own `writer`. Outcomes are this
/// process's streams'.
pub fn run_streams_in_cluster(
    jobs: Vec<StreamJob>,
    writer: Box<dyn EventWriter + Send>,
    part: ClusterPart,
) -> Result<Vec<StreamOutcome>, FlowError> {
    let writer = SharedWriter::new(writer);
    let threads = part.threads.max(1);
    let config = timely::Config {
        communication: timely::CommunicationConfig::Cluster {
            threads,
            process: part.process,
            addresses: part.addresses,
            report: false,
            zerocopy: false,
        },
        worker: timely::WorkerConfig::default(),
    };
    let jobs = Arc::new(jobs);
    // Standard output carries the events: timely's "awaiting connections" lines go to
    // standard error while the processes connect.
    // The workers start writing only once standard output is theirs again.
    let redirect = gag::Redirect::stdout(io::stderr()).ok();
    let stdout_back = Arc::new(std::sync::Barrier::new(threads + 1));
    let gate = stdout_back.clone();
    let guards = timely::execute(config, move |worker| {
        gate.wait();
        let (index, peers) = (worker.index(), worker.peers());
        run_on_worker(worker, &jobs, &writer, |stream| worker_of(stream, peers) == index)
    });
    drop(redirect);
    if guards.is_ok() {
        stdout_back.wait();
    }
    let guards =
        guards.map_err(|reason| FlowError::Output(io::Error::other(format!("the cluster did not start: {reason}"))))?;
    let mut outcomes = Vec::new();
    for joined in guards.join() {
        match joined {
            Ok(worker_outcomes) => outcomes.extend(worker_outcomes),
            Err(reason) => return Err(FlowError::Output(io::Error::other(reason))),
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_always_lands_on_the_same_worker_and_all_workers_are_used() {
        assert_eq!(worker_of("stage-left", 4), worker_of("stage-left", 4));
        assert_eq!(worker_of("anything", 1), 0);
        let used: std::collections::BTreeSet<usize> = (0..64).map(|i| worker_of(&format!("cam{i}"), 4)).collect();
        assert_eq!(used.len(), 4, "64 streams spread over 4 workers: {used:?}");
    }
}
