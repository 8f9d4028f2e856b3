//! `encode_pooled`: audio chunks to feature frames through an encoder the worker may share
//! with the other streams it holds (see `flow::encoder_pool`).
//!
//! The operator frames its stream's audio and leaves the frames at its seat in the pool; the
//! worker's driver encodes all seats' frames in one batch after the step, and wakes the
//! operator, which sends each row on as a feature frame under the time its audio came in at.
//! Until then the operator holds a capability no later than its oldest waiting frame, so the
//! frontier after it waits for the batch. An encoder error is left in the [`FailureSlot`].
//!
//! On a worker that does not hold the stream there is no stage (`None`): the operator is there
//! because every worker builds the same dataflow, and records never reach it.

use std::collections::VecDeque;
use std::time::Instant;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;

use crate::encode::AudioFramer;
use crate::flow::encoder_pool::PoolSeat;
use crate::flow::{FailureSlot, FeatureFrame, FlowError};
use crate::media::AudioChunk;

/// A stream's framing and its seat at an encoder pool.
pub(crate) struct PooledAudio {
    /// Frames the stream's audio as the encoder expects.
    pub framer: AudioFramer,
    /// Where the frames are encoded.
    pub seat: PoolSeat,
}

/// A frame left at the pool, waiting for its row.
struct Waiting {
    time_ns: u64,
    captured_at: Instant,
    /// The time its audio came in at, which its feature frame leaves at.
    stamp: u64,
}

/// Extension trait for encoding a stream's audio at a shared encoder.
pub(crate) trait EncodePooled<'scope> {
    /// Feature frames of the audio, encoded at `stage`'s seat; `None` on workers that do not
    /// hold the stream.
    fn encode_pooled(self, stage: Option<PooledAudio>, failures: FailureSlot) -> StreamVec<'scope, u64, FeatureFrame>;
}

impl<'scope> EncodePooled<'scope> for StreamVec<'scope, u64, AudioChunk> {
    fn encode_pooled(
        self,
        mut stage: Option<PooledAudio>,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, FeatureFrame> {
        let scope = self.scope();
        self.unary_frontier(Pipeline, "AudioFeatures", move |initial, info| {
            if let Some(stage) = stage.as_ref() {
                stage.seat.wake(scope.activator_for(info.address));
            }
            let mut capability = Some(initial);
            let mut waiting: VecDeque<Waiting> = VecDeque::new();
            let (mut frames, mut times, mut captured, mut rows) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, containers| {
                    let Some(stage) = stage.as_mut() else {
                        failures.record(FlowError::NotHeld {
                            operator: "AudioFeatures",
                        });
                        containers.for_each(|c| c.clear());
                        return;
                    };
                    let Some(&stamp) = cap.least() else { return };
                    frames.clear();
                    times.clear();
                    captured.clear();
                    for chunk in containers.flat_map(|c| c.drain(..)) {
                        stage.framer.push(chunk.pts_ns, &chunk.samples, &mut frames, &mut times);
                        // Each frame keeps the capture time of the chunk that completed it.
                        captured.resize(times.len(), chunk.captured_at);
                    }
                    stage.seat.leave(&frames);
                    waiting.extend(times.iter().zip(&captured).map(|(&time_ns, &captured_at)| Waiting {
                        time_ns,
                        captured_at,
                        stamp,
                    }));
                });
                if let Some(stage) = stage.as_ref() {
                    rows.clear();
                    match stage.seat.take(&mut rows) {
                        Ok(()) => send_rows(&rows, stage.seat.dim(), &mut waiting, capability.as_ref(), output),
                        Err(error) => {
                            failures.record(error);
                            waiting.clear();
                        }
                    }
                }
                // Held no later than the input frontier and the oldest frame still waiting.
                let input_ns = frontier.frontier().first().copied();
                let waiting_ns = waiting.front().map(|w| w.stamp);
                match input_ns.into_iter().chain(waiting_ns).min() {
                    Some(time) => {
                        if let Some(cap) = capability.as_mut().filter(|cap| cap.time() < &time) {
                            cap.downgrade(&time);
                        }
                    }
                    None => capability = None,
                }
            }
        })
    }
}

/// Sends `rows` (`dim` values each) as the feature frames of the oldest waiting frames.
fn send_rows(
    rows: &[f32],
    dim: usize,
    waiting: &mut VecDeque<Waiting>,
    capability: Option<&Capability<u64>>,
    output: &mut timely::dataflow::operators::generic::OutputBuilderSession<
        '_,
        u64,
        timely::container::CapacityContainerBuilder<Vec<FeatureFrame>>,
    >,
) {
    let Some(capability) = capability else { return };
    for values in rows.chunks_exact(dim.max(1)) {
        let Some(frame) = waiting.pop_front() else { return };
        output.session(&capability.delayed(&frame.stamp)).give(FeatureFrame {
            time_ns: frame.time_ns,
            values: values.to_vec(),
            captured_at: frame.captured_at,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    use timely::dataflow::operators::{Capture, Input};

    use crate::encode::AudioEncoder;
    use crate::engine_metrics::EngineMetrics;
    use crate::flow::encoder_pool::tests::FrameMean;
    use crate::flow::encoder_pool::EncoderPools;
    use crate::flow::operators::Batching;

    use super::*;

    #[test]
    fn two_streams_share_one_encoder_call_and_frames_keep_their_capture_times() {
        timely::execute_directly(|worker| {
            let pools = EncoderPools::default();
            let metrics = EngineMetrics::default();
            let calls = Rc::new(RefCell::new(0));
            let mut streams = Vec::new();
            for name in ["a", "b"] {
                let encoder: Box<dyn AudioEncoder> = Box::new(FrameMean {
                    calls: calls.clone(),
                    stateless: true,
                });
                let framer = AudioFramer::new(encoder.params()).expect("valid framing");
                let seat = pools.seat(encoder, Batching::default(), &metrics, name, "Mean");
                let stage = PooledAudio { framer, seat };
                let (input, captured) = worker.dataflow::<u64, _, _>(|scope| {
                    let (input, chunks) = scope.new_input::<Vec<AudioChunk>>();
                    let captured = chunks.encode_pooled(Some(stage), FailureSlot::default()).capture();
                    (input, captured)
                });
                streams.push((input, captured));
            }
            let early = Instant::now();
            let late = early + Duration::from_millis(500);
            let chunk = |pts_ns, value, captured_at| AudioChunk {
                pts_ns,
                samples: vec![value; 4],
                captured_at,
            };
            // At 1 kHz two samples are 2 ms: each chunk makes two frames.
            streams[0].0.send(chunk(0, 1.0, early));
            streams[0].0.send(chunk(4_000_000, 2.0, late));
            streams[1].0.send(chunk(0, 7.0, early));
            for (input, _) in streams.iter_mut() {
                input.advance_to(1);
            }
            worker.step();
            assert_eq!(*calls.borrow(), 0, "nothing is encoded before the pool flushes");
            pools.flush();
            assert_eq!(*calls.borrow(), 1, "one call for both streams");
            // Dropping the inputs closes them.
            let outputs: Vec<_> = streams.into_iter().map(|(_, captured)| captured).collect();
            while worker.step() {
                pools.flush();
            }
            let seen: Vec<Vec<(f32, Instant)>> = outputs
                .into_iter()
                .map(|captured| {
                    captured
                        .try_iter()
                        .filter_map(|event| match event {
                            timely::dataflow::operators::capture::Event::Messages(_, frames) => Some(frames),
                            timely::dataflow::operators::capture::Event::Progress(_) => None,
                        })
                        .flatten()
                        .map(|frame| (frame.values[0], frame.captured_at))
                        .collect()
                })
                .collect();
            assert_eq!(seen[0], vec![(1.0, early), (1.0, early), (2.0, late), (2.0, late)]);
            assert_eq!(seen[1], vec![(7.0, early), (7.0, early)]);
        });
    }
}
