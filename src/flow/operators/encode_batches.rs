//! `encode_batches`: runs an encoder over everything that arrived under one timestamp.
//!
//! Encoders run best on batches (one tensor op for many frames), and the graph's inputs hand
//! over whatever capture delivered since the last step: under load the batches grow by
//! themselves. The encoder's output leaves under the batch's capability. An encoder error is
//! left in the [`FailureSlot`] for the driver, and the batch yields nothing.

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::flow::{FailureSlot, FlowError};

/// Extension trait for running a batch encoder over a stream.
pub trait EncodeBatches<'scope, D> {
    /// Calls `encode` with all records of each timestamp; it appends its results to the
    /// second vector, which are sent on at that timestamp.
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
}

impl<'scope, D: Clone + 'static> EncodeBatches<'scope, D> for StreamVec<'scope, u64, D> {
    fn encode_batches<R, F>(self, name: &str, failures: FailureSlot, mut encode: F) -> StreamVec<'scope, u64, R>
    where
        R: Clone + 'static,
        F: FnMut(&mut Vec<D>, &mut Vec<R>) -> Result<(), FlowError> + 'static,
    {
        let mut batch = Vec::new();
        let mut encoded = Vec::new();
        self.unary(Pipeline, name, move |_, _| {
            move |input, output| {
                input.for_each_stamp(|cap, containers| {
                    batch.clear();
                    for container in containers {
                        batch.append(container);
                    }
                    encoded.clear();
                    match encode(&mut batch, &mut encoded) {
                        Ok(()) if !encoded.is_empty() => output.session(&cap).give_container(&mut encoded),
                        Ok(()) => {}
                        Err(error) => failures.record(error),
                    }
                });
            }
        })
    }
}
