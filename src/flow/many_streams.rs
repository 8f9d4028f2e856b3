//! Many streams in one run: each stream's graph goes to one of `workers` timely workers,
//! chosen by a hash of the stream's id, and each worker runs on a thread of its own, driving
//! the captures and graphs of all the streams it holds.
//!
//! A stream's media never leave the worker that captures them (its graph is a dataflow of its
//! own on that worker), so streams on different workers never wait on each other, and a
//! stream that fails ends alone. Events of all streams go to one writer, each carrying its
//! stream's id and numbered per stream.

use std::io;
use std::sync::{Arc, Mutex};

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

/// One worker: builds each job's graph, drives them all, finishes their sinks.
fn run_shard(jobs: Vec<StreamJob>, writer: &SharedWriter) -> Vec<StreamOutcome> {
    let mut worker = local_worker();
    let mut outcomes = Vec::new();
    let mut running = Vec::new();
    let mut feeds = Vec::new();
    for job in jobs {
        let stream = job.stream().to_owned();
        let built = match &job {
            StreamJob::Sync(job) => build_sync(&mut worker, job, Box::new(writer.clone())),
            StreamJob::Follow(job) => build_follow(&mut worker, job, Box::new(writer.clone())),
        };
        match built {
            Ok((feed, sink)) => {
                feeds.push(feed);
                running.push((stream, sink));
            }
            Err(error) => outcomes.push(StreamOutcome {
                stream,
                result: Err(error),
            }),
        }
    }
    let driven = drive_streams(&mut worker, feeds);
    for ((stream, sink), driven) in running.into_iter().zip(driven) {
        let result = driven.and_then(|()| sink.borrow_mut().finish().map_err(FlowError::from));
        outcomes.push(StreamOutcome { stream, result });
    }
    outcomes
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
