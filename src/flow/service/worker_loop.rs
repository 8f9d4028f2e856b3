//! The service's worker: takes each stream added while the others run, feeds and steps them
//! all, and lets each go when it has ended.
//!
//! Follow streams on audio join the worker's one follow dataflow, and `sync` streams its one
//! sync dataflow ([`crate::flow::shared`]), each built when the first of its streams comes;
//! each stream carries its own watermark in its records, and one that fails ends alone.
//! Follow streams that compare video are built as a dataflow of their own, whose frontier is
//! their watermark; timely retires it once its frontier is empty, and the worker then finishes
//! the stream's sink. Either way the stream is then marked ended (or failed) in the table.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::Duration;

use timely::worker::Worker;

use crate::events::{EventBody, StreamRefusal, StreamState};
use crate::flow::driver::{local_worker, Driven, IDLE_PARK};
use crate::flow::encoder_pool::EncoderPools;
use crate::flow::jobs::many_streams::SharedWriter;
use crate::flow::operators::EndedStream;
use crate::flow::operators::EventSink;
use crate::flow::{FailureSlot, Placement, StreamJob, StreamSite};
use crate::media::StoppingPipelines;

use super::table::StreamTable;
use crate::flow::shared::SharedStreams;

/// What the service asks of its worker.
pub(super) enum Command {
    /// Build `job`'s stream and start its capture; the reply says whether it was built.
    Add {
        job: StreamJob,
        reply: Sender<Result<(), StreamRefusal>>,
    },
}

/// A stream on the worker.
struct ServedStream {
    id: String,
    /// The dataflows its build made: it has finished when none is installed any more.
    dataflows: std::ops::Range<usize>,
    driven: Driven,
    sink: Option<Rc<RefCell<EventSink>>>,
    failures: FailureSlot,
}

/// Runs the worker until the service is dropped (its command channel closed) and every stream
/// has ended.
pub(super) fn serve_streams(commands: Receiver<Command>, table: &StreamTable, writer: &SharedWriter) {
    let mut worker = local_worker();
    let pools = EncoderPools::default();
    let mut streams: Vec<ServedStream> = Vec::new();
    let mut shared = SharedStreams::default();
    let mut batch_due = IDLE_PARK;
    let mut closed = false;
    // Pipelines of ended streams still stopping; waited on (bounded) when the service ends.
    let mut stopping = StoppingPipelines::default();
    loop {
        let idle = streams.is_empty() && shared.is_empty();
        if closed && idle {
            return;
        }
        // With nothing to run the worker sleeps until a stream comes (an idle service costs
        // nothing); otherwise it looks for new streams between rounds.
        let mut next = if idle {
            match commands.recv() {
                Ok(command) => Some(command),
                Err(_) => return,
            }
        } else {
            None
        };
        loop {
            let command = match next.take().map_or_else(|| commands.try_recv(), Ok) {
                Ok(command) => command,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            };
            let Command::Add { job, reply } = command;
            let answer = match job {
                job if job.shares_a_dataflow() => {
                    shared
                        .add(&mut worker, &job, &pools, writer)
                        .map_err(|e| StreamRefusal::NotStarted {
                            id: job.stream().to_owned(),
                            reason: e.to_string(),
                        })
                }
                job => add_stream(&mut worker, &pools, writer, table, job).map(|stream| streams.push(stream)),
            };
            // The caller may have gone; the stream runs all the same.
            let _ = reply.send(answer);
        }
        let mut moved = shared.feed_once();
        for stream in streams.iter_mut().filter(|s| !s.driven.has_ended()) {
            let failed = match stream.driven.drive_once() {
                Ok(records) => {
                    moved += records;
                    None
                }
                Err(error) => Some(error.to_string()),
            };
            if let Some(reason) = failed {
                report_failure(stream, table, &reason);
            }
        }
        let park = if moved > 0 { Duration::ZERO } else { IDLE_PARK };
        worker.step_or_park(Some(park.min(batch_due)));
        batch_due = pools.flush().unwrap_or(IDLE_PARK);
        for ended in shared.take_ended() {
            finish_shared_stream(ended, table);
        }
        let installed = worker.installed_dataflows();
        let (finished, running): (Vec<_>, Vec<_>) = streams
            .into_iter()
            .partition(|s| s.driven.has_ended() && !s.dataflows.clone().any(|d| installed.contains(&d)));
        streams = running;
        for stream in finished {
            finish_stream(stream, table, &mut stopping);
        }
    }
}

/// Builds `job`'s dataflow on `worker`, which both captures and holds it, and starts its
/// capture.
fn add_stream(
    worker: &mut Worker,
    pools: &EncoderPools,
    writer: &SharedWriter,
    table: &StreamTable,
    job: StreamJob,
) -> Result<ServedStream, StreamRefusal> {
    let id = job.stream().to_owned();
    let placement = Placement::of(&id, None, 1, 1).map_err(|e| StreamRefusal::NotStarted {
        id: id.clone(),
        reason: e.to_string(),
    })?;
    let first = worker.next_dataflow_index();
    let built = job.build(worker, StreamSite::new(placement, 0), pools, writer);
    let dataflows = first..worker.next_dataflow_index();
    let built = built.map_err(|e| {
        // What was built of it before it failed would wait forever on inputs no one feeds.
        dataflows.clone().for_each(|d| worker.drop_dataflow(d));
        StreamRefusal::NotStarted {
            id: id.clone(),
            reason: e.to_string(),
        }
    })?;
    let Some(feed) = built.feed else {
        dataflows.for_each(|d| worker.drop_dataflow(d));
        return Err(StreamRefusal::NotStarted {
            id,
            reason: "its dataflow has no capture on the service's worker".into(),
        });
    };
    let stream = ServedStream {
        id,
        dataflows,
        driven: Driven::start(feed),
        sink: built.sink,
        failures: built.failures,
    };
    // A capture that cannot start (a missing file, a camera in use) ends its stream, which
    // says why in its events; the service goes on.
    if let Some(error) = stream.driven.failure() {
        report_failure(&stream, table, &error.to_string());
    }
    Ok(stream)
}

/// Says in the stream's events and in the table why it failed.
fn report_failure(stream: &ServedStream, table: &StreamTable, reason: &str) {
    if let Some(sink) = &stream.sink {
        let written = sink.borrow_mut().emit(
            &stream.id,
            EventBody::Error {
                reason: reason.to_owned(),
            },
        );
        if let Err(error) = written {
            tracing::warn!("stream '{}': its error event could not be written: {error}", stream.id);
        }
    }
    table.update(&stream.id, |d| {
        d.error.get_or_insert_with(|| reason.to_owned());
    });
}

/// The stream's dataflow has finished: its summary is written and its state dropped; its
/// pipeline, if still stopping, joins `stopping`.
fn finish_stream(stream: ServedStream, table: &StreamTable, stopping: &mut StoppingPipelines) {
    let late = stream.failures.take().map(|e| e.to_string());
    let outcome = stream.driven.into_outcome(stopping).err().map(|e| e.to_string());
    let summary = stream.sink.map(|sink| sink.borrow_mut().finish());
    let written = match summary {
        Some(Err(error)) => Some(format!("its summary could not be written: {error}")),
        _ => None,
    };
    let error = late.or(outcome).or(written);
    table.update(&stream.id, |d| {
        d.state = if error.is_some() || d.error.is_some() {
            StreamState::Failed
        } else {
            StreamState::Ended
        };
        if d.error.is_none() {
            d.error = error;
        }
    });
}

/// A stream of the shared follow dataflow has written its `eos`.
fn finish_shared_stream(ended: EndedStream, table: &StreamTable) {
    table.update(&ended.name, |d| match ended.outcome {
        Ok(_) => d.state = StreamState::Ended,
        Err(reason) => {
            d.state = StreamState::Failed;
            d.error.get_or_insert(reason);
        }
    });
}
