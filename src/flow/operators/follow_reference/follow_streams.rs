//! `follow_streams`: one operator follows many streams, each along its own reference, so that a
//! stream joins or leaves without a new dataflow.
//!
//! Records carry their stream's key ([`Keyed`]). The followers live in a [`FollowedStreams`]
//! table on the worker: whoever starts a stream there adds its follower, and the operator
//! drops it when the stream's [`Keyed::End`] passes, after giving its final positions. A
//! stream's records keep their order through the operator (one input, pipelined), so its
//! positions come out as [`FollowReference`](super::FollowReference) gives them, and its notes
//! (watermark, health) pass on behind them. A stream whose follower fails is dropped with a
//! [`StreamNote::Failed`]; the others go on. The operator times its streams' steps and, when
//! they would take more of the core in real time than the table's [`ScanBudgetPolicy`] allows,
//! slows every stream's relocation scan down (see [`super::scan_budget`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::align::Follower;
use crate::engine_metrics::AlignerMetrics;
use crate::events::EventBody;
use crate::flow::keyed::{Keyed, StreamKey, StreamNote};
use crate::flow::FeatureFrame;

use super::scan_budget::{real_time_rate, ScanBudget, ScanBudgetPolicy};
use super::stream_follower::StreamFollower;
use super::{FollowEvents, ReferenceTiming};

/// One record of a follow dataflow shared by many streams: a live feature frame, timed in its
/// stream's own running time, or a note.
pub type SharedFrame = Keyed<FeatureFrame>;

/// A stream in the table: its follower, where its step times go, and the frames it brought
/// since the scan budget last measured the load.
struct Followed {
    follower: StreamFollower,
    metrics: AlignerMetrics,
    frames_in_window: u64,
}

impl Followed {
    /// Lets the stream's scan spend `share` of its budget, and says so in its metrics.
    fn set_relocation_budget_share(&mut self, share: f64) {
        self.follower.set_relocation_budget_share(share);
        self.metrics.relocation_budget_share.set(share);
    }
}

/// The streams one worker's `follow_streams` operator follows, by key; shared between the
/// worker's driver, which adds them, and the operator, which drops them at their end.
#[derive(Clone)]
pub struct FollowedStreams {
    streams: Rc<RefCell<HashMap<StreamKey, Followed>>>,
    /// The share of their relocation budget the streams may spend; `None` spends it all.
    scan_budget: Option<Rc<RefCell<ScanBudget>>>,
}

impl Default for FollowedStreams {
    /// A table whose scans yield to the trackers as [`ScanBudgetPolicy::default`] says.
    fn default() -> Self {
        Self::new(Some(ScanBudgetPolicy::default()))
    }
}

impl FollowedStreams {
    /// An empty table whose streams' scans yield to their trackers as `scan_budget` says, or
    /// always spend their whole budget (`None`).
    pub fn new(scan_budget: Option<ScanBudgetPolicy>) -> Self {
        Self {
            streams: Rc::default(),
            scan_budget: scan_budget.map(|policy| Rc::new(RefCell::new(ScanBudget::new(policy)))),
        }
    }

    /// The share of its relocation budget each stream may spend now (1: all of it).
    pub fn scan_budget_share(&self) -> f64 {
        self.scan_budget.as_ref().map_or(1.0, |budget| budget.borrow().share())
    }

    /// Follows stream `key` with `follower`, timed by `timing`, its events as `events` says;
    /// false (and nothing changes) when `key` is already followed.
    pub fn add(
        &self,
        key: StreamKey,
        follower: Follower,
        timing: ReferenceTiming,
        events: FollowEvents,
        metrics: AlignerMetrics,
    ) -> bool {
        let mut streams = self.streams.borrow_mut();
        if streams.contains_key(&key) {
            return false;
        }
        let mut followed = Followed {
            follower: StreamFollower::new(follower, timing, events),
            metrics,
            frames_in_window: 0,
        };
        followed.set_relocation_budget_share(self.scan_budget_share());
        streams.insert(key, followed);
        true
    }

    /// Streams followed now.
    pub fn len(&self) -> usize {
        self.streams.borrow().len()
    }

    /// Whether no stream is followed.
    pub fn is_empty(&self) -> bool {
        self.streams.borrow().is_empty()
    }

    /// Whether stream `key` is followed.
    pub fn contains(&self, key: StreamKey) -> bool {
        self.streams.borrow().contains_key(&key)
    }
}

/// Extension trait for following many streams in one operator.
pub trait FollowStreams<'scope> {
    /// Aligns each stream's frames with its follower in `streams` and gives its `position`
    /// (and `match`, `cue`) event bodies, keyed by the stream; an `End` gives the stream's final
    /// positions and drops it. Frames of a key not in the table (a stream that failed or was
    /// never added here) are passed over; notes and ends always pass on.
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Instant;
    /// use timely::dataflow::operators::{Inspect, ToStream};
    /// use warpflow::align::{FeatureMatrix, Follower, FollowerConfig, OltwConfig};
    /// use warpflow::engine_metrics::AlignerMetrics;
    /// use warpflow::flow::{FeatureFrame, Keyed};
    /// use warpflow::flow::operators::{FollowEvents, FollowStreams, FollowedStreams, ReferenceTiming};
    ///
    /// let positions = Arc::new(AtomicUsize::new(0));
    /// let counted = positions.clone();
    /// timely::example(move |scope| {
    ///     let reference = Arc::new(FeatureMatrix::new(2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap());
    ///     let config = FollowerConfig { oltw: OltwConfig { band_frames: 4, ..Default::default() }, relocation: None, ..Default::default() };
    ///     let timing = ReferenceTiming { hop_ns: 20e6, first_frame_ns: 0.0 };
    ///     let streams = FollowedStreams::default();
    ///     for key in [7, 8] {
    ///         let events = FollowEvents { emit_every_frames: 1, stream: format!("s{key}"), reference: "song".into(), cues: Vec::new() };
    ///         let follower = Follower::new(reference.clone(), config.clone()).unwrap();
    ///         assert!(streams.add(key, follower, timing, events, AlignerMetrics::detached()));
    ///     }
    ///     let frame = |i: usize, values: Vec<f32>| FeatureFrame { time_ns: i as u64 * 20_000_000, values, captured_at: Instant::now() };
    ///     let mut records = Vec::new();
    ///     for (i, values) in [vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]].into_iter().enumerate() {
    ///         for stream in [7, 8] {
    ///             records.push(Keyed::Data { stream, data: frame(i, values.clone()) });
    ///         }
    ///     }
    ///     records.extend([Keyed::End { stream: 7 }, Keyed::End { stream: 8 }]);
    ///     records.to_stream(scope).container::<Vec<_>>()
    ///         .follow_streams(streams)
    ///         .inspect(move |record| {
    ///             if let Keyed::Data { .. } = record { counted.fetch_add(1, Ordering::Relaxed); }
    ///         });
    /// });
    /// // Per stream: three provisional positions, and three final ones at its end.
    /// assert_eq!(positions.load(Ordering::Relaxed), 12);
    /// ```
    fn follow_streams(self, streams: FollowedStreams) -> StreamVec<'scope, u64, Keyed<EventBody>>;
}

impl<'scope> FollowStreams<'scope> for StreamVec<'scope, u64, SharedFrame> {
    fn follow_streams(self, streams: FollowedStreams) -> StreamVec<'scope, u64, Keyed<EventBody>> {
        self.unary(Pipeline, "FollowStreams", move |_, _| {
            move |input, output| {
                let started = Instant::now();
                let mut frames_followed = 0;
                input.for_each(|cap, records| {
                    let mut session = output.session(&cap);
                    let mut table = streams.streams.borrow_mut();
                    for record in records.drain(..) {
                        match record {
                            Keyed::Data { stream, data: frame } => {
                                let Some(followed) = table.get_mut(&stream) else {
                                    continue;
                                };
                                frames_followed += 1;
                                followed.frames_in_window += 1;
                                match followed.follower.push_frame(&frame, &followed.metrics) {
                                    Ok(bodies) => session
                                        .give_iterator(bodies.into_iter().map(|data| Keyed::Data { stream, data })),
                                    Err(error) => {
                                        table.remove(&stream);
                                        let reason = error.to_string();
                                        let note = StreamNote::Failed { reason };
                                        session.give(Keyed::Note { stream, note });
                                    }
                                }
                            }
                            Keyed::Note { stream, note } => {
                                // A stream that failed before the follower has nothing more to follow.
                                if matches!(note, StreamNote::Failed { .. }) {
                                    table.remove(&stream);
                                }
                                session.give(Keyed::Note { stream, note });
                            }
                            Keyed::End { stream } => {
                                if let Some(mut followed) = table.remove(&stream) {
                                    let last = followed.follower.finish();
                                    session.give_iterator(last.into_iter().map(|data| Keyed::Data { stream, data }));
                                }
                                session.give(Keyed::End { stream });
                            }
                        }
                    }
                });
                if frames_followed > 0 {
                    streams.budget_scans(started, frames_followed);
                }
            }
        })
    }
}

impl FollowedStreams {
    /// Counts `frames` followed since `started` into the scan budget's load, and hands a new
    /// share to every stream when the budget changes it. A stream that brought no frames in the
    /// window (a stalled camera) adds nothing to the load.
    fn budget_scans(&self, started: Instant, frames: usize) {
        let Some(budget) = self.scan_budget.as_ref() else {
            return;
        };
        let mut budget = budget.borrow_mut();
        let now = Instant::now();
        budget.record(now.duration_since(started), frames);
        let mut table = self.streams.borrow_mut();
        let frames_per_second = |window| {
            table
                .values_mut()
                .map(|s| {
                    let frames = std::mem::take(&mut s.frames_in_window);
                    real_time_rate(s.follower.frames_per_second(), frames, window)
                })
                .sum()
        };
        if let Some(share) = budget.update(now, frames_per_second) {
            for followed in table.values_mut() {
                followed.set_relocation_budget_share(share);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use timely::dataflow::operators::{Inspect, ToStream};

    use super::*;
    use crate::align::{FeatureMatrix, FollowerConfig, OltwConfig};
    use crate::flow::operators::FollowReference;
    use crate::flow::{FailureSlot, StreamEvent};

    const TIMING: ReferenceTiming = ReferenceTiming {
        hop_ns: 20e6,
        first_frame_ns: 0.0,
    };

    fn reference() -> Arc<FeatureMatrix> {
        let values = (0..60).flat_map(|i| [(i % 5) as f32, (i % 7) as f32, 1.0]).collect();
        Arc::new(FeatureMatrix::new(3, values).expect("whole frames"))
    }

    fn follower() -> Follower {
        let config = FollowerConfig {
            oltw: OltwConfig {
                band_frames: 8,
                ..OltwConfig::default()
            },
            relocation: None,
            ..FollowerConfig::default()
        };
        Follower::new(reference(), config).expect("valid settings")
    }

    fn events(stream: &str) -> FollowEvents {
        FollowEvents {
            emit_every_frames: 1,
            stream: stream.into(),
            reference: "ref".into(),
            cues: Vec::new(),
        }
    }

    /// Stream `k`'s frames: the reference from frame `k`, every other frame held twice.
    fn frames(k: usize) -> Vec<FeatureFrame> {
        let reference = reference();
        (k..40)
            .flat_map(|i| std::iter::repeat_n(i, 1 + i % 2))
            .enumerate()
            .map(|(n, i)| FeatureFrame {
                time_ns: n as u64 * 20_000_000,
                values: reference.frame(i).to_vec(),
                captured_at: Instant::now(),
            })
            .collect()
    }

    /// What an event says, apart from its latency (a wall-clock reading).
    fn said(event: &StreamEvent) -> String {
        match &event.body {
            EventBody::Position {
                live_ns,
                ref_ns,
                is_final,
                ..
            } => format!("{} position {live_ns} {ref_ns} {is_final}", event.stream),
            other => format!("{} {other:?}", event.stream),
        }
    }

    fn alone(stream: &str, k: usize) -> Vec<String> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let (stream, frames) = (stream.to_owned(), frames(k));
        timely::example(move |scope| {
            frames
                .to_stream(scope)
                .container::<Vec<_>>()
                .follow_reference(
                    Some(follower()),
                    TIMING,
                    events(&stream),
                    AlignerMetrics::detached(),
                    FailureSlot::default(),
                )
                .inspect(move |event| kept.lock().unwrap().push(said(event)));
        });
        Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
    }

    /// The events of `records` through one `follow_streams` following `names` by key, and
    /// how many streams its table still held at the end.
    fn shared(records: Vec<SharedFrame>, names: &[(StreamKey, &str)]) -> (Vec<String>, usize) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let left = Arc::new(Mutex::new(usize::MAX));
        let (kept, left_at_end) = (seen.clone(), left.clone());
        let names: Vec<(StreamKey, String)> = names.iter().map(|&(k, n)| (k, n.to_owned())).collect();
        timely::example(move |scope| {
            let streams = FollowedStreams::default();
            for (key, name) in &names {
                assert!(streams.add(*key, follower(), TIMING, events(name), AlignerMetrics::detached()));
                assert!(!streams.add(*key, follower(), TIMING, events(name), AlignerMetrics::detached()));
            }
            let table = streams.clone();
            let name_of: HashMap<StreamKey, String> = names.iter().cloned().collect();
            records
                .to_stream(scope)
                .container::<Vec<_>>()
                .follow_streams(streams)
                .inspect(move |record| {
                    let name = name_of.get(&record.stream()).cloned().unwrap_or_default();
                    let said = match record {
                        Keyed::Data { data, .. } => said(&StreamEvent {
                            stream: name,
                            body: data.clone(),
                        }),
                        Keyed::Note { note, .. } => format!("{name} {note:?}"),
                        Keyed::End { .. } => format!("{name} end"),
                    };
                    kept.lock().unwrap().push(said);
                    *left_at_end.lock().unwrap() = table.len();
                });
        });
        let events = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();
        let left = *left.lock().unwrap();
        (events, left)
    }

    fn interleaved(keys: &[(StreamKey, usize)]) -> Vec<SharedFrame> {
        let per_stream: Vec<Vec<FeatureFrame>> = keys.iter().map(|&(_, k)| frames(k)).collect();
        let longest = per_stream.iter().map(Vec::len).max().unwrap_or(0);
        let mut records = Vec::new();
        for n in 0..longest {
            for (&(stream, _), frames) in keys.iter().zip(&per_stream) {
                if let Some(frame) = frames.get(n) {
                    records.push(Keyed::Data {
                        stream,
                        data: frame.clone(),
                    });
                }
            }
        }
        records.extend(keys.iter().map(|&(stream, _)| Keyed::End { stream }));
        records
    }

    #[test]
    fn each_stream_gets_the_events_an_operator_of_its_own_gives() {
        let mut records = interleaved(&[(1, 0), (2, 9)]);
        // Stream 1's watermark after its first three frames (the first six records).
        let note = StreamNote::Watermark { running_ns: 40_000_000 };
        records.insert(6, Keyed::Note { stream: 1, note });
        let (events, left) = shared(records, &[(1, "a"), (2, "b")]);
        for (name, k) in [("a", 0), ("b", 9)] {
            let mut mine: Vec<String> = events
                .iter()
                .filter(|e| e.starts_with(&format!("{name} ")))
                .cloned()
                .collect();
            assert_eq!(mine.pop(), Some(format!("{name} end")), "the end passes on last");
            if name == "a" {
                // The note passes on behind the positions of the frames before it.
                let at = mine
                    .iter()
                    .position(|e| e.contains("Watermark"))
                    .expect("the note passes on");
                assert_eq!(mine.remove(at), "a Watermark { running_ns: 40000000 }");
                assert!(!mine[..at].iter().any(|e| e.contains("position 60000000 ")), "{mine:?}");
            }
            assert!(mine.len() > 40, "stream {name}: {mine:?}");
            assert_eq!(mine, alone(name, k), "stream {name}");
        }
        assert_eq!(left, 0, "ended streams are dropped");
    }

    #[test]
    fn streams_that_take_more_of_the_core_than_allowed_slow_their_scans() {
        let share_after = |policy: Option<ScanBudgetPolicy>| {
            let share = Arc::new(Mutex::new(f64::NAN));
            let seen = share.clone();
            let metrics = AlignerMetrics::detached();
            let gauge = metrics.relocation_budget_share.clone();
            timely::example(move |scope| {
                let streams = FollowedStreams::new(policy);
                assert!(streams.add(1, follower(), TIMING, events("s"), metrics));
                assert!(streams.add(2, follower(), TIMING, events("t"), AlignerMetrics::detached()));
                let table = streams.clone();
                // Without their ends: the load counts the frames a second of the streams still
                // followed.
                let mut records = interleaved(&[(1, 0), (2, 3)]);
                records.retain(|record| matches!(record, Keyed::Data { .. }));
                records
                    .to_stream(scope)
                    .container::<Vec<_>>()
                    .follow_streams(streams)
                    .inspect(move |_| *seen.lock().unwrap() = table.scan_budget_share());
            });
            let share = *share.lock().unwrap();
            assert_eq!(gauge.get(), Some(share), "the stream's metrics say what it may spend");
            share
        };
        // Any step takes more than a billionth of a core's time in real time.
        let strict = ScanBudgetPolicy {
            target_core_share: 1e-9,
            update_every: std::time::Duration::ZERO,
            ..ScanBudgetPolicy::default()
        };
        let share = share_after(Some(strict));
        assert!((strict.min_budget_share..1.0).contains(&share), "{share}");
        assert_eq!(
            share_after(None),
            1.0,
            "without a policy the scans spend their whole budget"
        );
        assert_eq!(
            share_after(Some(ScanBudgetPolicy::default())),
            1.0,
            "two streams are light"
        );
    }

    #[test]
    fn a_stream_that_fails_says_so_and_the_others_go_on() {
        let mut records = interleaved(&[(2, 0)]);
        let wrong = FeatureFrame {
            time_ns: 0,
            values: vec![1.0; 5],
            captured_at: Instant::now(),
        };
        records.insert(3, Keyed::Data { stream: 1, data: wrong });
        // A key no stream has is passed over.
        records.insert(
            5,
            Keyed::Data {
                stream: 9,
                data: frames(0)[0].clone(),
            },
        );
        let (events, left) = shared(records, &[(1, "a"), (2, "b")]);
        let a: Vec<&String> = events.iter().filter(|e| e.starts_with("a ")).collect();
        assert_eq!(a.len(), 1, "{a:?}");
        assert!(a[0].contains("Failed"), "{a:?}");
        let mut b: Vec<String> = events.iter().filter(|e| e.starts_with("b ")).cloned().collect();
        assert_eq!(b.pop().as_deref(), Some("b end"));
        assert_eq!(b, alone("b", 0));
        assert_eq!(left, 0);
    }
}
