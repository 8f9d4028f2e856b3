//! Running a worker: pump capture into the graph, step it, watch the bus, until the end.

use std::time::{Duration, Instant};

use timely::communication::allocator::Thread;
use timely::communication::Allocator;
use timely::worker::Worker;
use timely::WorkerConfig;

use std::sync::Arc;

use crate::engine_metrics::{EngineMetrics, Gauge};
use crate::media::{Capture, CaptureState};

use super::ingest::Ingest;
use super::records::Timestamped;
use super::{FailureSlot, FlowError, StopSignal};

/// Records moved from a ring per pump: bounds how much enters the graph between steps.
const PUMP_RECORDS: usize = 64;
/// How long an idle worker sleeps before looking at the rings again.
const IDLE_PARK: Duration = Duration::from_millis(1);

/// A single timely worker on the calling thread.
pub(crate) fn local_worker() -> Worker {
    Worker::new(
        WorkerConfig::default(),
        Allocator::Thread(Thread::default()),
        Some(Instant::now()),
    )
}

/// The gauges of a stream's capture rings.
pub(crate) struct QueueDepths {
    audio: Arc<Gauge>,
    video: Arc<Gauge>,
}

impl QueueDepths {
    /// `stream`'s gauges in `metrics`.
    pub(crate) fn new(metrics: &EngineMetrics, stream: &str) -> Self {
        Self {
            audio: metrics.queue_depth(stream, "audio"),
            video: metrics.queue_depth(stream, "video"),
        }
    }
}

/// Starts `capture` and runs the graph until every input has ended and the dataflow is done,
/// or until capture or an operator fails; `depths` follow the rings as records are moved.
pub(crate) fn drive<A, V>(
    worker: &mut Worker,
    capture: &mut Capture,
    ingest: &mut Ingest<A, V>,
    failures: &FailureSlot,
    stop: &StopSignal,
    depths: &QueueDepths,
) -> Result<(), FlowError>
where
    A: Timestamped + Clone + 'static,
    V: Timestamped + Clone + 'static,
{
    capture.start()?;
    let outcome = feed_until_done(worker, capture, ingest, failures, stop, depths);
    // Closing the inputs lets the graph drain and finish, also after a failure.
    ingest.close();
    capture.stop();
    outcome?;
    while worker.step_or_park(Some(IDLE_PARK)) {
        if let Some(error) = failures.take() {
            return Err(error);
        }
    }
    failures.take().map_or(Ok(()), Err)
}

fn feed_until_done<A, V>(
    worker: &mut Worker,
    capture: &mut Capture,
    ingest: &mut Ingest<A, V>,
    failures: &FailureSlot,
    stop: &StopSignal,
    depths: &QueueDepths,
) -> Result<(), FlowError>
where
    A: Timestamped + Clone + 'static,
    V: Timestamped + Clone + 'static,
{
    let mut eos_sent = false;
    loop {
        if stop.is_requested() && !eos_sent {
            capture.send_eos();
            eos_sent = true;
        }
        let moved = ingest.pump(PUMP_RECORDS);
        let (audio_waiting, video_waiting) = ingest.waiting();
        depths.audio.set(audio_waiting as u64);
        depths.video.set(video_waiting as u64);
        let state = capture.poll()?;
        for status in capture.take_statuses() {
            ingest.send_status(status);
        }
        if let Some(error) = failures.take() {
            return Err(error);
        }
        if ingest.is_finished() {
            return Ok(());
        }
        if state == CaptureState::Finished && moved == 0 {
            // End-of-stream reached the bus: whatever the appsinks had is in the rings.
            ingest.pump(usize::MAX);
            return Ok(());
        }
        worker.step_or_park(Some(if moved > 0 { Duration::ZERO } else { IDLE_PARK }));
    }
}
