//! `follow_reference`: where each live feature frame sits in the reference.
//!
//! Frames go through an [`OnlineTimeWarper`] in time order; each yields a `position` event
//! (every `emit_every_frames`-th frame, or all with 1). Dixon's aligner never revises an
//! answer once given, so positions are final. Reference frame indices become reference times
//! with the reference's own framing.

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::align::OnlineTimeWarper;
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
    /// Aligns each frame with `warper` and emits `position` events for `stream`.
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Instant;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use timely::dataflow::operators::{Inspect, ToStream};
    /// use warpflow::align::{FeatureMatrix, OltwConfig, OnlineTimeWarper};
    /// use warpflow::flow::{FailureSlot, FeatureFrame};
    /// use warpflow::flow::operators::{FollowReference, ReferenceTiming};
    ///
    /// let positions = Arc::new(AtomicUsize::new(0));
    /// let counted = positions.clone();
    /// timely::example(move |scope| {
    ///     let reference = Arc::new(FeatureMatrix::new(2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap());
    ///     let warper = OnlineTimeWarper::new(reference, OltwConfig { band_frames: 4, ..Default::default() }).unwrap();
    ///     let timing = ReferenceTiming { hop_ns: 20e6, first_frame_ns: 0.0 };
    ///     let frames = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]].into_iter().enumerate()
    ///         .map(|(i, values)| FeatureFrame { time_ns: i as u64 * 20_000_000, values, captured_at: Instant::now() });
    ///     frames.to_stream(scope).container::<Vec<_>>()
    ///         .follow_reference(warper, timing, 1, "live0".into(), FailureSlot::default())
    ///         .inspect(move |_| { counted.fetch_add(1, Ordering::Relaxed); });
    /// });
    /// assert_eq!(positions.load(Ordering::Relaxed), 3);
    /// ```
    fn follow_reference(
        self,
        warper: OnlineTimeWarper,
        timing: ReferenceTiming,
        emit_every_frames: usize,
        stream: String,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent>;
}

impl<'scope> FollowReference<'scope> for StreamVec<'scope, u64, FeatureFrame> {
    fn follow_reference(
        self,
        mut warper: OnlineTimeWarper,
        timing: ReferenceTiming,
        emit_every_frames: usize,
        stream: String,
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
                        let tracked = match warper.push_frame(&frame.values) {
                            Ok(tracked) => tracked,
                            Err(error) => {
                                failures.record(error);
                                return;
                            }
                        };
                        if !tracked.live_index.is_multiple_of(emit_every_frames) {
                            continue;
                        }
                        let body = EventBody::Position {
                            live_ns: frame.time_ns,
                            ref_ns: timing.time_ns(tracked.ref_index),
                            tempo: tracked.tempo,
                            confidence: tracked.confidence,
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
