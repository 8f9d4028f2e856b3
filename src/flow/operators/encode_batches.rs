//! `encode_batches`: runs an encoder over batches of records, within a bound on the latency
//! the batching adds.
//!
//! Encoders run best on batches (one tensor op for many frames, which a GPU needs to be busy).
//! Whatever has arrived when the operator runs goes into one batch, so under load batches grow
//! by themselves; with [`Batching::max_wait`] above zero the operator also holds records back,
//! up to that long, until [`Batching::max_records`] have gathered. The batch's output leaves
//! under a capability held at its earliest record's time, so the frontier after the encoder
//! waits for the batch: that wait is the added latency. An encoder error is left in the
//! [`FailureSlot`] for the driver, and the batch yields nothing. Each batch's size and encoding
//! time go to the stage's [`EncoderMetrics`].

use std::time::{Duration, Instant};

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::engine_metrics::EncoderMetrics;
use crate::flow::{FailureSlot, FlowError};

use super::held_capability::hold_until;

/// How records are gathered into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// A batch is encoded once it holds this many records, and never holds more: more records
    /// at once go in several batches of this size.
    pub max_records: usize,
    /// ... or once its first record has waited this long (zero: whatever is there, at once).
    pub max_wait: Duration,
}

impl Default for Batching {
    /// No waiting: each run of the operator encodes what has arrived.
    fn default() -> Self {
        Self {
            max_records: usize::MAX,
            max_wait: Duration::ZERO,
        }
    }
}

/// Extension trait for running a batch encoder over a stream.
pub trait EncodeBatches<'scope, D> {
    /// Calls `encode` with the records that have arrived, as one batch; it appends its
    /// results to the second vector, which are sent on.
    ///
    /// # Examples
    /// ```
    /// use timely::dataflow::operators::{Inspect, ToStream};
    /// use warpflow::flow::FailureSlot;
    /// use warpflow::flow::operators::EncodeBatches;
    ///
    /// timely::example(|scope| {
    ///     (0u64..4)
    ///         .to_stream(scope)
    ///         .container::<Vec<_>>()
    ///         .encode_batches("Double", FailureSlot::default(), |batch: &mut Vec<u64>, out: &mut Vec<u64>| {
    ///             out.extend(batch.drain(..).map(|x| 2 * x));
    ///             Ok(())
    ///         })
    ///         .inspect(|x| assert_eq!(x % 2, 0));
    /// });
    /// ```
    fn encode_batches<R, F>(self, name: &str, failures: FailureSlot, encode: F) -> StreamVec<'scope, u64, R>
    where
        R: Clone + 'static,
        F: FnMut(&mut Vec<D>, &mut Vec<R>) -> Result<(), FlowError> + 'static;

    /// [`EncodeBatches::encode_batches`], gathering records as `batching` says and recording
    /// each batch in `metrics`.
    fn encode_batches_with<R, F>(
        self,
        name: &str,
        failures: FailureSlot,
        batching: Batching,
        metrics: EncoderMetrics,
        encode: F,
    ) -> StreamVec<'scope, u64, R>
    where
        R: Clone + 'static,
        F: FnMut(&mut Vec<D>, &mut Vec<R>) -> Result<(), FlowError> + 'static;
}

impl<'scope, D: Clone + 'static> EncodeBatches<'scope, D> for StreamVec<'scope, u64, D> {
    fn encode_batches<R, F>(self, name: &str, failures: FailureSlot, encode: F) -> StreamVec<'scope, u64, R>
    where
        R: Clone + 'static,
        F: FnMut(&mut Vec<D>, &mut Vec<R>) -> Result<(), FlowError> + 'static,
    {
        self.encode_batches_with(name, failures, Batching::default(), EncoderMetrics::detached(), encode)
    }

    fn encode_batches_with<R, F>(
        self,
        name: &str,
        failures: FailureSlot,
        batching: Batching,
        metrics: EncoderMetrics,
        mut encode: F,
    ) -> StreamVec<'scope, u64, R>
    where
        R: Clone + 'static,
        F: FnMut(&mut Vec<D>, &mut Vec<R>) -> Result<(), FlowError> + 'static,
    {
        let scope = self.scope();
        let mut batch = Vec::new();
        let mut encoded = Vec::new();
        self.unary_frontier(Pipeline, name, move |initial, info| {
            let activator = scope.activator_for(info.address);
            // Held at or before the earliest record of the batch being gathered.
            let mut capability = Some(initial);
            let mut first_arrival: Option<Instant> = None;
            let mut earliest_time: Option<u64> = None;
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, containers| {
                    for container in containers {
                        batch.append(container);
                    }
                    first_arrival.get_or_insert_with(Instant::now);
                    if let Some(&time) = cap.least() {
                        earliest_time = Some(earliest_time.map_or(time, |earliest| earliest.min(time)));
                    }
                });
                let closed = frontier.frontier().is_empty();
                let waited = first_arrival.map_or(Duration::ZERO, |first| first.elapsed());
                let due = batch.len() >= batching.max_records || waited >= batching.max_wait || closed;
                if !batch.is_empty() {
                    if !due {
                        activator.activate_after(batching.max_wait - waited);
                        return;
                    }
                    // The batch leaves at its earliest record's time, as if all of it had
                    // arrived then.
                    let batch_cap = match (capability.as_ref(), earliest_time.take()) {
                        (Some(cap), Some(time)) => Some(cap.delayed(&time)),
                        (Some(cap), None) => Some(cap.clone()),
                        (None, _) => None,
                    };
                    let size = batching.max_records.max(1);
                    let mut rest = std::mem::take(&mut batch);
                    while !rest.is_empty() {
                        let mut part: Vec<D> = rest.drain(..size.min(rest.len())).collect();
                        encoded.clear();
                        metrics.batch_records.observe(part.len() as f64);
                        let started = Instant::now();
                        let result = encode(&mut part, &mut encoded);
                        metrics.batch_seconds.observe_duration(started.elapsed());
                        match result {
                            Ok(()) if !encoded.is_empty() => {
                                if let Some(cap) = batch_cap.as_ref() {
                                    output.session(cap).give_container(&mut encoded);
                                }
                            }
                            Ok(()) => {}
                            Err(error) => failures.record(error),
                        }
                    }
                    batch = rest;
                    first_arrival = None;
                }
                hold_until(&mut capability, frontier.frontier().first().copied());
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use timely::dataflow::operators::{Input, Probe, ToStream};

    use super::*;

    /// The sizes of the batches `encode` saw for 7 records at once; the stage's metrics count
    /// the same batches and records.
    fn batch_sizes(batching: Batching) -> Vec<usize> {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let metrics = EncoderMetrics::detached();
        let recorded = metrics.clone();
        timely::example(move |scope| {
            (0u64..7).to_stream(scope).container::<Vec<_>>().encode_batches_with(
                "Count",
                FailureSlot::default(),
                batching,
                recorded,
                move |batch: &mut Vec<u64>, out: &mut Vec<u64>| {
                    seen.lock().expect("no other holder panics").push(batch.len());
                    out.append(batch);
                    Ok(())
                },
            );
        });
        let sizes = sizes.lock().expect("the dataflow has ended").clone();
        assert_eq!(metrics.batch_records.count(), sizes.len() as u64);
        assert_eq!(metrics.batch_seconds.count(), sizes.len() as u64);
        sizes
    }

    #[test]
    fn batches_hold_at_most_max_records_and_flush_when_the_input_ends() {
        assert_eq!(batch_sizes(Batching::default()), vec![7]);
        let capped = Batching {
            max_records: 3,
            max_wait: Duration::ZERO,
        };
        assert_eq!(batch_sizes(capped), vec![3, 3, 1]);
        // Waiting for a fuller batch ends when the input does.
        let waiting = Batching {
            max_records: 100,
            max_wait: Duration::from_secs(60),
        };
        assert_eq!(batch_sizes(waiting), vec![7]);
    }

    #[test]
    fn a_waiting_batch_holds_the_frontier_until_it_is_full() {
        timely::execute_directly(|worker| {
            let sizes = Arc::new(Mutex::new(Vec::new()));
            let seen = sizes.clone();
            let batching = Batching {
                max_records: 3,
                max_wait: Duration::from_secs(60),
            };
            let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
                let (input, stream) = scope.new_input::<Vec<u64>>();
                let (probe, _) = stream
                    .encode_batches_with(
                        "Count",
                        FailureSlot::default(),
                        batching,
                        EncoderMetrics::detached(),
                        move |batch: &mut Vec<u64>, out: &mut Vec<u64>| {
                            seen.lock().expect("no other holder panics").push(batch.len());
                            out.append(batch);
                            Ok(())
                        },
                    )
                    .probe();
                (input, probe)
            });
            input.send(0);
            input.send(1);
            input.advance_to(1);
            for _ in 0..10 {
                worker.step();
            }
            assert!(sizes.lock().expect("no other holder panics").is_empty());
            assert!(probe.less_than(&1), "the frontier waits for the batch");
            input.send(2);
            input.advance_to(2);
            worker.step_while(|| probe.less_than(&2));
            assert_eq!(*sizes.lock().expect("no other holder panics"), vec![3]);
        });
    }

    #[test]
    fn a_waiting_batch_leaves_after_max_wait_while_the_input_stays_open() {
        timely::execute_directly(|worker| {
            let sizes = Arc::new(Mutex::new(Vec::new()));
            let seen = sizes.clone();
            let batching = Batching {
                max_records: 100,
                max_wait: Duration::from_millis(20),
            };
            let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
                let (input, stream) = scope.new_input::<Vec<u64>>();
                let (probe, _) = stream
                    .encode_batches_with(
                        "Count",
                        FailureSlot::default(),
                        batching,
                        EncoderMetrics::detached(),
                        move |batch: &mut Vec<u64>, out: &mut Vec<u64>| {
                            seen.lock().expect("no other holder panics").push(batch.len());
                            out.append(batch);
                            Ok(())
                        },
                    )
                    .probe();
                (input, probe)
            });
            input.send(0);
            input.send(1);
            input.advance_to(1);
            // Only the operator's own timer can wake it: nothing else arrives.
            let give_up = Instant::now() + Duration::from_secs(10);
            while probe.less_than(&1) && Instant::now() < give_up {
                worker.step_or_park(Some(Duration::from_millis(5)));
            }
            assert_eq!(*sizes.lock().expect("no other holder panics"), vec![2]);
        });
    }
}
