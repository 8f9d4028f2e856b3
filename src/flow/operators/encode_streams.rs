//! `encode_streams`: many streams' records to feature frames in one operator, so that a stream
//! joins or leaves without a new dataflow.
//!
//! Each stream in the [`EncodedStreams`] table has what `encode_pooled` gives a stream of its
//! own: its framing, its seat at one of the worker's encoder pools (whose batch encodes the
//! frames of every stream that shares the encoder in one call), and the rows it takes on
//! itself. Its frames wait at its seat until the pool's rows come back; its notes and its end
//! wait behind them, so that they pass on in its order. A stream whose framing or encoder
//! fails is dropped with a [`StreamNote::Failed`]; the others go on. Records of a key not in
//! the table are passed over, its notes passed on.
//!
//! Time here is the service's (see [`crate::flow::Keyed`]): the operator holds a capability no
//! later than the oldest record still waiting, so the frontier after it waits for the batch.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Instant;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;
use timely::scheduling::Activator;

use crate::flow::keyed::{Keyed, StreamKey, StreamNote};
use crate::flow::FeatureFrame;

use super::encode_pooled::{Framing, PooledStage};
use super::held_capability::hold_until;

/// What waits for a stream's rows, in its order.
enum Waiting {
    /// A frame left at the seat.
    Frame { time_ns: u64, captured_at: Instant },
    /// A note or the end, which passes on once the frames before it have.
    Passing(Keyed<FeatureFrame>),
}

/// One stream's encoding, and what of it waits, each with the service time it came in at.
struct Encoding<F, S> {
    stage: PooledStage<F, S>,
    waiting: VecDeque<(u64, Waiting)>,
}

/// The streams one worker's `encode_streams` operator encodes, by key; shared between the
/// worker's driver, which adds them, and the operator, which drops them at their end.
pub(crate) struct EncodedStreams<F, S> {
    inner: Rc<RefCell<Table<F, S>>>,
}

struct Table<F, S> {
    streams: HashMap<StreamKey, Encoding<F, S>>,
    /// Wakes the operator when a seat's rows are ready; given to every seat.
    activator: Option<Activator>,
}

impl<F, S> Clone for EncodedStreams<F, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<F, S> Default for EncodedStreams<F, S> {
    fn default() -> Self {
        Self {
            inner: Rc::new(RefCell::new(Table {
                streams: HashMap::new(),
                activator: None,
            })),
        }
    }
}

impl<F, S: Copy> EncodedStreams<F, S> {
    /// Encodes stream `key` with `stage`; false (and nothing changes) when `key` is already
    /// encoded.
    pub(crate) fn add(&self, key: StreamKey, stage: PooledStage<F, S>) -> bool {
        let mut table = self.inner.borrow_mut();
        if table.streams.contains_key(&key) {
            return false;
        }
        if let Some(activator) = table.activator.clone() {
            stage.seat.wake(activator);
        }
        let waiting = VecDeque::new();
        table.streams.insert(key, Encoding { stage, waiting });
        true
    }

    /// Streams encoded now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.borrow().streams.len()
    }
}

/// Extension trait for encoding many streams' records in one operator.
pub(crate) trait EncodeStreams<'scope, R> {
    /// Each stream's feature frames, encoded as its entry in `streams` says, keyed by the
    /// stream, with its notes and end passed on behind them.
    fn encode_streams<F: Framing<R>>(
        self,
        name: &'static str,
        streams: EncodedStreams<F, F::Sample>,
    ) -> StreamVec<'scope, u64, Keyed<FeatureFrame>>;
}

impl<'scope, R: Clone + 'static> EncodeStreams<'scope, R> for StreamVec<'scope, u64, Keyed<R>> {
    fn encode_streams<F: Framing<R>>(
        self,
        name: &'static str,
        streams: EncodedStreams<F, F::Sample>,
    ) -> StreamVec<'scope, u64, Keyed<FeatureFrame>> {
        let scope = self.scope();
        self.unary_frontier(Pipeline, name, move |initial, info| {
            {
                let activator = scope.activator_for(info.address);
                let mut table = streams.inner.borrow_mut();
                for encoding in table.streams.values() {
                    encoding.stage.seat.wake(activator.clone());
                }
                table.activator = Some(activator);
            }
            let mut capability = Some(initial);
            let mut ready: Vec<Keyed<FeatureFrame>> = Vec::new();
            let (mut one, mut frames, mut stamps) = (Vec::new(), Vec::new(), Vec::new());
            let (mut rows, mut stream_rows) = (Vec::new(), Vec::new());
            move |(input, frontier), output| {
                let mut table = streams.inner.borrow_mut();
                input.for_each_stamp(|cap, containers| {
                    let Some(&stamp) = cap.least() else { return };
                    for record in containers.flat_map(|c| c.drain(..)) {
                        let (key, record) = match record.pass_on() {
                            Ok(passing) => {
                                match table.streams.get_mut(&passing.stream()) {
                                    Some(encoding) => encoding.waiting.push_back((stamp, Waiting::Passing(passing))),
                                    None => ready.push(passing),
                                }
                                continue;
                            }
                            Err(data) => data,
                        };
                        let Some(encoding) = table.streams.get_mut(&key) else {
                            continue;
                        };
                        frames.clear();
                        stamps.clear();
                        one.push(record);
                        let frame_len = encoding.stage.seat.frame_len();
                        match encoding
                            .stage
                            .framing
                            .frame(&mut one, frame_len, &mut frames, &mut stamps)
                        {
                            Ok(()) => {
                                encoding.stage.seat.leave(&frames);
                                let framed = stamps
                                    .drain(..)
                                    .map(|(time_ns, captured_at)| (stamp, Waiting::Frame { time_ns, captured_at }));
                                encoding.waiting.extend(framed);
                            }
                            Err(error) => {
                                one.clear();
                                fail(&mut table.streams, key, error.to_string(), &mut ready);
                            }
                        }
                    }
                });
                let keys: Vec<StreamKey> = table
                    .streams
                    .iter()
                    .filter(|(_, encoding)| !encoding.waiting.is_empty())
                    .map(|(&key, _)| key)
                    .collect();
                for key in keys {
                    let Some(encoding) = table.streams.get_mut(&key) else {
                        continue;
                    };
                    rows.clear();
                    if let Err(error) = encoding.stage.seat.take(&mut rows) {
                        fail(&mut table.streams, key, error.to_string(), &mut ready);
                        continue;
                    }
                    let (rows, dim) = match encoding.stage.per_stream.as_mut() {
                        Some(per_stream) => {
                            stream_rows.clear();
                            per_stream.push_rows(&rows, &mut stream_rows);
                            (&stream_rows, per_stream.dim())
                        }
                        None => (&rows, encoding.stage.seat.dim()),
                    };
                    let mut rows = rows.chunks_exact(dim.max(1));
                    let ended = release(key, &mut encoding.waiting, &mut rows, &mut ready);
                    if ended {
                        table.streams.remove(&key);
                    }
                }
                if let Some(capability) = capability.as_ref() {
                    output.session(capability).give_iterator(ready.drain(..));
                }
                // Held no later than the input frontier and the oldest record still waiting.
                let input_ns = frontier.frontier().first().copied();
                let waiting_ns = table
                    .streams
                    .values()
                    .filter_map(|e| e.waiting.front().map(|w| w.0))
                    .min();
                hold_until(&mut capability, input_ns.into_iter().chain(waiting_ns).min());
            }
        })
    }
}

/// Sends on what waits at the front of a stream's queue: frames as long as `rows` has theirs,
/// and the notes behind them. True when the stream's end or failure passed (it is done here,
/// and what notes waited behind it have passed too).
fn release<'a>(
    stream: StreamKey,
    waiting: &mut VecDeque<(u64, Waiting)>,
    rows: &mut impl Iterator<Item = &'a [f32]>,
    ready: &mut Vec<Keyed<FeatureFrame>>,
) -> bool {
    while let Some((_, front)) = waiting.front() {
        let passing = match front {
            Waiting::Frame { time_ns, captured_at } => {
                let Some(values) = rows.next() else { return false };
                let frame = FeatureFrame {
                    time_ns: *time_ns,
                    values: values.to_vec(),
                    captured_at: *captured_at,
                };
                Keyed::Data { stream, data: frame }
            }
            Waiting::Passing(passing) => passing.clone(),
        };
        waiting.pop_front();
        let done = matches!(
            passing,
            Keyed::End { .. }
                | Keyed::Note {
                    note: StreamNote::Failed { .. },
                    ..
                }
        );
        ready.push(passing);
        if done {
            // Nothing of the stream is encoded after its end or failure; its notes still pass.
            ready.extend(waiting.drain(..).filter_map(|(_, waiting)| match waiting {
                Waiting::Passing(passing) => Some(passing),
                Waiting::Frame { .. } => None,
            }));
            return true;
        }
    }
    false
}

/// Stream `key` failed: its frames are dropped, its failure and then the notes that waited
/// behind them pass on, and it leaves the table.
fn fail<F, S>(
    streams: &mut HashMap<StreamKey, Encoding<F, S>>,
    key: StreamKey,
    reason: String,
    ready: &mut Vec<Keyed<FeatureFrame>>,
) {
    let Some(encoding) = streams.remove(&key) else { return };
    let note = StreamNote::Failed { reason };
    ready.push(Keyed::Note { stream: key, note });
    ready.extend(encoding.waiting.into_iter().filter_map(|(_, waiting)| match waiting {
        Waiting::Passing(passing) => Some(passing),
        Waiting::Frame { .. } => None,
    }));
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use timely::dataflow::operators::capture::Event;
    use timely::dataflow::operators::{Capture, Input};

    use crate::encode::{AudioEncoder, AudioFramer};
    use crate::engine_metrics::EngineMetrics;
    use crate::flow::encoder_pool::tests::FrameMean;
    use crate::flow::encoder_pool::EncoderPools;
    use crate::flow::operators::Batching;
    use crate::media::AudioChunk;

    use super::*;

    fn stage(pools: &EncoderPools, calls: &Rc<RefCell<usize>>, name: &str) -> PooledStage<AudioFramer, f32> {
        let encoder: Box<dyn AudioEncoder> = Box::new(FrameMean {
            calls: calls.clone(),
            stateless: true,
        });
        let framing = AudioFramer::new(encoder.params()).expect("valid framing");
        let seat = pools.seat(encoder, Batching::default(), &EngineMetrics::default(), name, "Mean");
        PooledStage {
            framing,
            seat,
            per_stream: None,
        }
    }

    fn chunk(pts_ns: u64, value: f32) -> AudioChunk {
        AudioChunk {
            pts_ns,
            samples: vec![value; 4],
            captured_at: Instant::now(),
        }
    }

    /// What a record says, for comparison.
    fn said(record: &Keyed<FeatureFrame>) -> String {
        match record {
            Keyed::Data { stream, data } => format!("{stream} {} {:?}", data.time_ns, data.values),
            Keyed::Note { stream, note } => format!("{stream} {note:?}"),
            Keyed::End { stream } => format!("{stream} end"),
        }
    }

    /// What every record the operator gave says, in order.
    fn said_all(captured: &std::sync::mpsc::Receiver<Event<u64, Vec<Keyed<FeatureFrame>>>>) -> Vec<String> {
        captured
            .try_iter()
            .filter_map(|event| match event {
                Event::Messages(_, records) => Some(records),
                Event::Progress(_) => None,
            })
            .flatten()
            .map(|record| said(&record))
            .collect()
    }

    #[test]
    fn streams_share_one_encoder_call_and_notes_wait_behind_their_frames() {
        timely::execute_directly(|worker| {
            let pools = EncoderPools::default();
            let calls = Rc::new(RefCell::new(0));
            let streams = EncodedStreams::default();
            let (mut input, captured) = worker.dataflow::<u64, _, _>(|scope| {
                let (input, chunks) = scope.new_input::<Vec<Keyed<AudioChunk>>>();
                (input, chunks.encode_streams("AudioFeatures", streams.clone()).capture())
            });
            // Added after the operator was built: its seat still wakes it.
            assert!(streams.add(1, stage(&pools, &calls, "a")));
            assert!(streams.add(2, stage(&pools, &calls, "b")));
            assert!(!streams.add(2, stage(&pools, &calls, "b")), "a key in use is refused");
            assert!(streams.add(3, stage(&pools, &calls, "c")));
            let watermark = StreamNote::Watermark { running_ns: 4_000_000 };
            // At 1 kHz two samples are 2 ms: each chunk makes two frames.
            input.send(Keyed::Data {
                stream: 1,
                data: chunk(0, 1.0),
            });
            input.send(Keyed::Note {
                stream: 1,
                note: watermark.clone(),
            });
            input.send(Keyed::Data {
                stream: 2,
                data: chunk(0, 7.0),
            });
            input.send(Keyed::End { stream: 2 });
            // Not encoded here: passed over, its notes passed on at once.
            input.send(Keyed::Data {
                stream: 9,
                data: chunk(0, 3.0),
            });
            input.send(Keyed::End { stream: 9 });
            // A stream that fails before its first frame: its end still passes.
            let failed = StreamNote::Failed { reason: "gone".into() };
            input.send(Keyed::Note {
                stream: 3,
                note: failed,
            });
            input.send(Keyed::End { stream: 3 });
            input.advance_to(1);
            worker.step();
            pools.flush();
            assert_eq!(*calls.borrow(), 1, "one call for both streams");
            input.send(Keyed::End { stream: 1 });
            drop(input);
            while worker.step() {
                pools.flush();
            }
            assert_eq!(streams.len(), 0, "ended streams leave the table");
            let seen = said_all(&captured);
            let of = |stream: &str| -> Vec<String> {
                seen.iter()
                    .filter(|s| s.starts_with(&format!("{stream} ")))
                    .cloned()
                    .collect()
            };
            assert_eq!(
                of("1"),
                [
                    "1 500000 [1.0]",
                    "1 2500000 [1.0]",
                    "1 Watermark { running_ns: 4000000 }",
                    "1 end"
                ]
            );
            assert_eq!(of("2"), ["2 500000 [7.0]", "2 2500000 [7.0]", "2 end"]);
            assert_eq!(of("9"), ["9 end"]);
            assert_eq!(of("3"), ["3 Failed { reason: \"gone\" }", "3 end"]);
        });
    }

    #[test]
    fn a_stream_whose_encoder_fails_ends_alone() {
        timely::execute_directly(|worker| {
            let pools = EncoderPools::default();
            let calls = Rc::new(RefCell::new(0));
            let streams = EncodedStreams::default();
            assert!(streams.add(1, stage(&pools, &calls, "a")));
            assert!(streams.add(2, stage(&pools, &calls, "b")));
            let (mut input, captured) = worker.dataflow::<u64, _, _>(|scope| {
                let (input, chunks) = scope.new_input::<Vec<Keyed<AudioChunk>>>();
                (input, chunks.encode_streams("AudioFeatures", streams.clone()).capture())
            });
            // The encoder fails on a frame of NaNs.
            input.send(Keyed::Data {
                stream: 1,
                data: chunk(0, f32::NAN),
            });
            input.send(Keyed::End { stream: 1 });
            input.send(Keyed::Data {
                stream: 2,
                data: chunk(0, 5.0),
            });
            input.send(Keyed::End { stream: 2 });
            drop(input);
            while worker.step() {
                pools.flush();
            }
            let seen = said_all(&captured);
            assert_eq!(seen.iter().filter(|s| s.starts_with("1 ")).count(), 2, "{seen:?}");
            assert!(seen[..].iter().any(|s| s.starts_with("1 Failed")), "{seen:?}");
            assert!(seen.contains(&"1 end".to_owned()), "{seen:?}");
            let b: Vec<&String> = seen.iter().filter(|s| s.starts_with("2 ")).collect();
            assert_eq!(b, ["2 500000 [5.0]", "2 2500000 [5.0]", "2 end"]);
        });
    }
}
