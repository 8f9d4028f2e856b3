//! `follow_reference`: where each live feature frame sits in the reference.
//!
//! Frames go through a [`Follower`] (the local online time warper, plus relocation) in time
//! order; each yields a `position` event (every `emit_every_frames`-th frame, or all with 1).
//! The tracker never revises an answer once given, so positions are final. When the follower
//! relocates after a jump, a `match` event reports the live span and the reference span that
//! matched, before the position that follows it. Reference frame indices become reference
//! times with the reference's own framing, and live indices live times with the live framing.

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::align::Follower;
use crate::events::EventBody;
use crate::flow::{FailureSlot, FeatureFrame, StreamEvent};

/// How reference frame indices map to reference time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceTiming {
    /// Time between reference frames.
    pub hop_ns: f64,
    /// Time of frame 0 (its centre).
    pub first_frame_ns: f64,
}

impl ReferenceTiming {
    /// Reference time of frame `index`.
    pub fn time_ns(&self, index: usize) -> u64 {
        (self.first_frame_ns + index as f64 * self.hop_ns).round() as u64
    }
}

/// Extension trait for following a reference with a stream of live feature frames.
pub trait FollowReference<'scope> {
    /// Aligns each frame with `follower` and emits `position` (and `match`) events for
    /// `stream`; `reference` names the reference in `match` events.
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Instant;
    /// use timely::dataflow::operators::{Inspect, ToStream};
    /// use warpflow::align::{FeatureMatrix, Follower, FollowerConfig, OltwConfig};
    /// use warpflow::flow::{FailureSlot, FeatureFrame};
    /// use warpflow::flow::operators::{FollowReference, ReferenceTiming};
    ///
    /// let positions = Arc::new(AtomicUsize::new(0));
    /// let counted = positions.clone();
    /// timely::example(move |scope| {
    ///     let reference = Arc::new(FeatureMatrix::new(2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap());
    ///     let config = FollowerConfig { oltw: OltwConfig { band_frames: 4, ..Default::default() }, relocation: None, agreement_frames: 1 };
    ///     let follower = Follower::new(reference, config).unwrap();
    ///     let timing = ReferenceTiming { hop_ns: 20e6, first_frame_ns: 0.0 };
    ///     let frames = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]].into_iter().enumerate()
    ///         .map(|(i, values)| FeatureFrame { time_ns: i as u64 * 20_000_000, values, captured_at: Instant::now() });
    ///     frames.to_stream(scope).container::<Vec<_>>()
    ///         .follow_reference(follower, timing, 1, "live0".into(), "song".into(), FailureSlot::default())
    ///         .inspect(move |_| { counted.fetch_add(1, Ordering::Relaxed); });
    /// });
    /// assert_eq!(positions.load(Ordering::Relaxed), 3);
    /// ```
    fn follow_reference(
        self,
        follower: Follower,
        timing: ReferenceTiming,
        emit_every_frames: usize,
        stream: String,
        reference: String,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent>;
}

impl<'scope> FollowReference<'scope> for StreamVec<'scope, u64, FeatureFrame> {
    fn follow_reference(
        self,
        mut follower: Follower,
        timing: ReferenceTiming,
        emit_every_frames: usize,
        stream: String,
        reference: String,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent> {
        let emit_every_frames = emit_every_frames.max(1);
        let mut frames = Vec::new();
        self.unary(Pipeline, "FollowReference", move |_, _| {
            move |input, output| {
                input.for_each_stamp(|cap, containers| {
                    frames.clear();
                    for container in containers {
                        frames.append(container);
                    }
                    frames.sort_by_key(|f: &FeatureFrame| f.time_ns);
                    let mut session = output.session(&cap);
                    for frame in frames.drain(..) {
                        let step = match follower.push_frame(&frame.values) {
                            Ok(step) => step,
                            Err(error) => {
                                failures.record(error);
                                return;
                            }
                        };
                        if let Some(found) = step.relocation {
                            // Live frames are one hop apart: earlier ones are timed back from this one.
                            let live_ns = |index: usize| {
                                let back_ns = (step.live_index - index) as f64 * timing.hop_ns;
                                (frame.time_ns as f64 - back_ns).max(0.0).round() as u64
                            };
                            let body = EventBody::Match {
                                reference: reference.clone(),
                                ref_start_ns: timing.time_ns(found.ref_start),
                                ref_end_ns: timing.time_ns(found.ref_end),
                                live_start_ns: live_ns(found.live_start),
                                live_end_ns: live_ns(found.live_end),
                                cost: f64::from(found.cost_per_frame),
                            };
                            session.give(StreamEvent {
                                stream: stream.clone(),
                                body,
                            });
                        }
                        if !step.live_index.is_multiple_of(emit_every_frames) && step.relocation.is_none() {
                            continue;
                        }
                        let body = EventBody::Position {
                            live_ns: frame.time_ns,
                            ref_ns: timing.time_ns(step.ref_index),
                            tempo: step.tempo,
                            confidence: step.confidence,
                            latency_ns: frame.captured_at.elapsed().as_nanos() as u64,
                            is_final: true,
                        };
                        session.give(StreamEvent {
                            stream: stream.clone(),
                            body,
                        });
                    }
                });
            }
        })
    }
}
