//! `encode_pooled`: a stream's records to feature frames through an encoder the worker may
//! share with the other streams it holds (see `flow::encoder_pool`).
//!
//! The operator turns its stream's records into frames (audio by its framer, pictures as they
//! are) and leaves them at its seat in the pool; the worker's driver encodes all seats' frames
//! in one batch after the step, and wakes the operator, which sends each row on as a feature
//! frame under the time its record came in at. Until then the operator holds a capability no
//! later than its oldest waiting frame, so the frontier after it waits for the batch. An
//! encoder error is left in the [`FailureSlot`].
//!
//! On a worker that does not hold the stream there is no stage (`None`): the operator is there
//! because every worker builds the same dataflow, and records never reach it.

use std::collections::VecDeque;
use std::time::Instant;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::{Operator, OutputBuilderSession};
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;

use crate::encode::{AudioFramer, EncodeError, StreamRows};
use crate::flow::encoder_pool::PoolSeat;
use crate::flow::{FailureSlot, FeatureFrame, FlowError};
use crate::media::{AudioChunk, VideoFrame};

use super::held_capability::hold_until;

/// How one stream's records become frames of its encoder's input.
pub(crate) trait Framing<R>: 'static {
    /// One sample of a frame.
    type Sample: Copy + 'static;
    /// Appends the frames of `records` to `frames` (`frame_len` samples each), and each
    /// frame's time and capture instant to `stamps`.
    fn frame(
        &mut self,
        records: &mut Vec<R>,
        frame_len: usize,
        frames: &mut Vec<Self::Sample>,
        stamps: &mut Vec<(u64, Instant)>,
    ) -> Result<(), FlowError>;
}

impl Framing<AudioChunk> for AudioFramer {
    type Sample = f32;

    fn frame(
        &mut self,
        chunks: &mut Vec<AudioChunk>,
        _frame_len: usize,
        frames: &mut Vec<f32>,
        stamps: &mut Vec<(u64, Instant)>,
    ) -> Result<(), FlowError> {
        let mut times = Vec::new();
        for chunk in chunks.drain(..) {
            self.push(chunk.pts_ns, &chunk.samples, frames, &mut times);
            // Each frame keeps the capture time of the chunk that completed it.
            stamps.extend(times.drain(..).map(|time_ns| (time_ns, chunk.captured_at)));
        }
        Ok(())
    }
}

/// Pictures are frames as they come, in time order, each of the encoder's size.
pub(crate) struct Pictures;

impl Framing<VideoFrame> for Pictures {
    type Sample = u8;

    fn frame(
        &mut self,
        pictures: &mut Vec<VideoFrame>,
        frame_len: usize,
        frames: &mut Vec<u8>,
        stamps: &mut Vec<(u64, Instant)>,
    ) -> Result<(), FlowError> {
        pictures.sort_by_key(|picture| picture.pts_ns);
        for picture in pictures.drain(..) {
            if picture.pixels.len() != frame_len {
                return Err(EncodeError::BadInputSize {
                    what: "video frame bytes",
                    expected: frame_len,
                    actual: picture.pixels.len(),
                }
                .into());
            }
            frames.extend_from_slice(&picture.pixels);
            stamps.push((picture.pts_ns, picture.captured_at));
        }
        Ok(())
    }
}

/// A stream's framing, its seat at an encoder pool and what it does to the pool's rows.
pub(crate) struct PooledStage<F, S> {
    /// Turns the stream's records into frames.
    pub framing: F,
    /// Where the frames are encoded.
    pub seat: PoolSeat<S>,
    /// The part of the stream's encoder that remembers the stream, after the shared part;
    /// `None` when the pool's rows are the features.
    pub per_stream: Option<Box<dyn StreamRows>>,
}

/// A frame left at the pool, waiting for its row.
struct Waiting {
    time_ns: u64,
    captured_at: Instant,
    /// The time its record came in at, which its feature frame leaves at.
    stamp: u64,
}

/// Extension trait for encoding a stream's records at a shared encoder.
pub(crate) trait EncodePooled<'scope, R> {
    /// Feature frames of the records, encoded at `stage`'s seat; `None` on workers that do not
    /// hold the stream.
    fn encode_pooled<F: Framing<R>>(
        self,
        name: &'static str,
        stage: Option<PooledStage<F, F::Sample>>,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, FeatureFrame>;
}

impl<'scope, R: Clone + 'static> EncodePooled<'scope, R> for StreamVec<'scope, u64, R> {
    fn encode_pooled<F: Framing<R>>(
        self,
        name: &'static str,
        mut stage: Option<PooledStage<F, F::Sample>>,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, FeatureFrame> {
        let scope = self.scope();
        self.unary_frontier(Pipeline, name, move |initial, info| {
            if let Some(stage) = stage.as_ref() {
                stage.seat.wake(scope.activator_for(info.address));
            }
            let mut capability = Some(initial);
            let mut waiting: VecDeque<Waiting> = VecDeque::new();
            let (mut records, mut frames, mut stamps) = (Vec::new(), Vec::new(), Vec::new());
            let (mut rows, mut stream_rows) = (Vec::new(), Vec::new());
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, containers| {
                    records.clear();
                    for container in containers {
                        records.append(container);
                    }
                    let Some(stage) = stage.as_mut() else {
                        failures.record(FlowError::NotHeld { operator: name });
                        return;
                    };
                    let Some(&stamp) = cap.least() else { return };
                    frames.clear();
                    stamps.clear();
                    let frame_len = stage.seat.frame_len();
                    if let Err(error) = stage.framing.frame(&mut records, frame_len, &mut frames, &mut stamps) {
                        failures.record(error);
                        return;
                    }
                    stage.seat.leave(&frames);
                    waiting.extend(stamps.iter().map(|&(time_ns, captured_at)| Waiting {
                        time_ns,
                        captured_at,
                        stamp,
                    }));
                });
                if let Some(stage) = stage.as_mut() {
                    rows.clear();
                    match stage.seat.take(&mut rows) {
                        Ok(()) => {
                            let (rows, dim) = match stage.per_stream.as_mut() {
                                Some(per_stream) => {
                                    stream_rows.clear();
                                    per_stream.push_rows(&rows, &mut stream_rows);
                                    (&stream_rows, per_stream.dim())
                                }
                                None => (&rows, stage.seat.dim()),
                            };
                            send_rows(rows, dim, &mut waiting, capability.as_ref(), output)
                        }
                        Err(error) => {
                            failures.record(error);
                            waiting.clear();
                        }
                    }
                }
                // Held no later than the input frontier and the oldest frame still waiting.
                let input_ns = frontier.frontier().first().copied();
                let waiting_ns = waiting.front().map(|w| w.stamp);
                hold_until(&mut capability, input_ns.into_iter().chain(waiting_ns).min());
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
    output: &mut OutputBuilderSession<'_, u64, CapacityContainerBuilder<Vec<FeatureFrame>>>,
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

    /// Each row and the running total of the stream's rows so far: rows that need the stream's
    /// past.
    #[derive(Debug, Default)]
    struct RunningTotal {
        total: f32,
    }

    impl StreamRows for RunningTotal {
        fn dim(&self) -> usize {
            2
        }
        fn push_rows(&mut self, rows: &[f32], out: &mut Vec<f32>) {
            for &value in rows {
                self.total += value;
                out.extend([value, self.total]);
            }
        }
        fn reset(&mut self) {
            self.total = 0.0;
        }
    }

    #[test]
    fn two_streams_share_one_encoder_call_and_frames_keep_their_capture_times() {
        timely::execute_directly(|worker| {
            let pools = EncoderPools::default();
            let metrics = EngineMetrics::default();
            let calls = Rc::new(RefCell::new(0));
            let mut streams = Vec::new();
            // Stream a takes the shared rows on through rows of its own.
            let own_rows: [Option<Box<dyn StreamRows>>; 2] = [Some(Box::new(RunningTotal::default())), None];
            for (name, per_stream) in ["a", "b"].into_iter().zip(own_rows) {
                let encoder: Box<dyn AudioEncoder> = Box::new(FrameMean {
                    calls: calls.clone(),
                    stateless: true,
                });
                let framer = AudioFramer::new(encoder.params()).expect("valid framing");
                let seat = pools.seat(encoder, Batching::default(), &metrics, name, "Mean");
                let stage = PooledStage {
                    framing: framer,
                    seat,
                    per_stream,
                };
                let (input, captured) = worker.dataflow::<u64, _, _>(|scope| {
                    let (input, chunks) = scope.new_input::<Vec<AudioChunk>>();
                    let captured = chunks
                        .encode_pooled("AudioFeatures", Some(stage), FailureSlot::default())
                        .capture();
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
            let seen: Vec<Vec<(Vec<f32>, Instant)>> = outputs
                .into_iter()
                .map(|captured| {
                    captured
                        .try_iter()
                        .filter_map(|event| match event {
                            timely::dataflow::operators::capture::Event::Messages(_, frames) => Some(frames),
                            timely::dataflow::operators::capture::Event::Progress(_) => None,
                        })
                        .flatten()
                        .map(|frame| (frame.values, frame.captured_at))
                        .collect()
                })
                .collect();
            let expected_a = [(1.0, 1.0, early), (1.0, 2.0, early), (2.0, 4.0, late), (2.0, 6.0, late)];
            let expected_a: Vec<_> = expected_a.map(|(row, total, at)| (vec![row, total], at)).into();
            assert_eq!(seen[0], expected_a);
            assert_eq!(seen[1], vec![(vec![7.0], early), (vec![7.0], early)]);
        });
    }

    #[test]
    fn pictures_are_framed_in_time_order_and_a_picture_of_another_size_is_refused() {
        let picture = |pts_ns, pixels: Vec<u8>| VideoFrame {
            pts_ns,
            width: 2,
            height: 1,
            channels: 1,
            pixels,
            captured_at: Instant::now(),
        };
        let (mut frames, mut stamps) = (Vec::new(), Vec::new());
        let mut pictures = vec![picture(40, vec![3, 4]), picture(20, vec![1, 2])];
        Pictures
            .frame(&mut pictures, 2, &mut frames, &mut stamps)
            .expect("pictures of the encoder's size");
        assert_eq!(frames, vec![1, 2, 3, 4]);
        assert_eq!(stamps.iter().map(|s| s.0).collect::<Vec<_>>(), vec![20, 40]);
        let mut odd = vec![picture(60, vec![1, 2, 3])];
        assert!(Pictures.frame(&mut odd, 2, &mut frames, &mut stamps).is_err());
    }
}
