//! `follow_reference`: where each live feature frame sits in the reference.
//!
//! Frames go through a [`Follower`] (the local online time warper, plus relocation) in time
//! order; each yields a provisional `position` event (`"final": false`, every
//! `emit_every_frames`-th frame, or all with 1): the tracker's best answer now, which never goes
//! back. When the follower finds positions final (the optimal path through them can no longer
//! change, about a band behind the live edge, and the rest when the input ends), the same
//! frames get a second `position` event with `"final": true`, whose reference time may differ
//! from the provisional one. When the follower relocates after a jump, a `match` event reports
//! the live span and the reference span that matched, before the position that follows it.
//! Cues (`--cues`) are announced with `cue` events as the provisional positions pass them (after
//! a relocation, only the cue in force at the new place).
//! Reference frame indices become reference times with the reference's own framing; live
//! indices become the times the frames arrived with. A step of several hops between live
//! frames (the source was lost and came back, or data was lost) tells the follower how many
//! frames never came, so it goes on where the performance would be.
//!
//! The per-frame work is [`StreamFollower`]'s, a plain struct tested without timely; this
//! operator feeds it the frames in time order and gives out what it returns. On a worker that
//! does not hold the stream there is no follower (`None`): the operator is there because every
//! worker builds the same dataflow, and records never reach it.

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::align::Follower;
use crate::config::Cue;
use crate::engine_metrics::AlignerMetrics;
use crate::flow::{FailureSlot, FeatureFrame, FlowError, StreamEvent};

use super::held_capability::hold_until;

mod follow_streams;
mod scan_budget;
mod stream_follower;

pub use follow_streams::{FollowStreams, FollowedStreams, SharedFrame};
pub use scan_budget::ScanBudgetPolicy;

use stream_follower::StreamFollower;

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
        self.time_at_ns(index as f64)
    }

    /// Reference time of a fractional frame position.
    pub fn time_at_ns(&self, position: f64) -> u64 {
        (self.first_frame_ns + position * self.hop_ns).round().max(0.0) as u64
    }
}

/// What the events of a followed stream say besides positions: their stream, how often,
/// the reference's name, and the cues to announce.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowEvents {
    /// Every this many live frames a provisional position (relocations always).
    pub emit_every_frames: usize,
    /// The stream's name.
    pub stream: String,
    /// The reference's name in `match` events.
    pub reference: String,
    /// Cues sorted by reference time, announced as the positions pass them.
    pub cues: Vec<Cue>,
}

/// Extension trait for following a reference with a stream of live feature frames.
pub trait FollowReference<'scope> {
    /// Aligns each frame with `follower` and emits `position` (and `match` and `cue`) events as
    /// `events` says; `follower` is `None` on workers that do not hold the stream.
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Instant;
    /// use timely::dataflow::operators::{Inspect, ToStream};
    /// use warpflow::align::{FeatureMatrix, Follower, FollowerConfig, OltwConfig};
    /// use warpflow::engine_metrics::AlignerMetrics;
    /// use warpflow::flow::{FailureSlot, FeatureFrame};
    /// use warpflow::flow::operators::{FollowEvents, FollowReference, ReferenceTiming};
    ///
    /// let positions = Arc::new(AtomicUsize::new(0));
    /// let counted = positions.clone();
    /// timely::example(move |scope| {
    ///     let reference = Arc::new(FeatureMatrix::new(2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap());
    ///     let config = FollowerConfig { oltw: OltwConfig { band_frames: 4, ..Default::default() }, relocation: None, ..Default::default() };
    ///     let follower = Follower::new(reference, config).unwrap();
    ///     let timing = ReferenceTiming { hop_ns: 20e6, first_frame_ns: 0.0 };
    ///     let frames = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]].into_iter().enumerate()
    ///         .map(|(i, values)| FeatureFrame { time_ns: i as u64 * 20_000_000, values, captured_at: Instant::now() });
    ///     let events = FollowEvents { emit_every_frames: 1, stream: "live0".into(), reference: "song".into(), cues: Vec::new() };
    ///     frames.to_stream(scope).container::<Vec<_>>()
    ///         .follow_reference(Some(follower), timing, events, AlignerMetrics::detached(), FailureSlot::default())
    ///         .inspect(move |_| { counted.fetch_add(1, Ordering::Relaxed); });
    /// });
    /// // Three provisional positions, and three final ones when the input ends.
    /// assert_eq!(positions.load(Ordering::Relaxed), 6);
    /// ```
    fn follow_reference(
        self,
        follower: Option<Follower>,
        timing: ReferenceTiming,
        events: FollowEvents,
        metrics: AlignerMetrics,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent>;
}

impl<'scope> FollowReference<'scope> for StreamVec<'scope, u64, FeatureFrame> {
    fn follow_reference(
        self,
        follower: Option<Follower>,
        timing: ReferenceTiming,
        events: FollowEvents,
        metrics: AlignerMetrics,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent> {
        let stream = events.stream.clone();
        let mut follower = follower.map(|follower| StreamFollower::new(follower, timing, events));
        let mut frames = Vec::new();
        self.unary_frontier(Pipeline, "FollowReference", move |initial, _| {
            // Held at the input frontier, for the final positions given when the input ends.
            let mut capability = Some(initial);
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, containers| {
                    // Held no earlier than the latest input, so the final positions given at the
                    // end come after every event before them.
                    if let Some(held) = capability.as_mut() {
                        if let Some(&time) = cap.least() {
                            if held.time() < &time {
                                held.downgrade(&time);
                            }
                        }
                    }
                    frames.clear();
                    for container in containers {
                        frames.append(container);
                    }
                    let Some(follower) = follower.as_mut() else {
                        failures.record(FlowError::NotHeld {
                            operator: "FollowReference",
                        });
                        frames.clear();
                        return;
                    };
                    frames.sort_by_key(|f: &FeatureFrame| f.time_ns);
                    let mut session = output.session(&cap);
                    for frame in frames.drain(..) {
                        match follower.push_frame(&frame, &metrics) {
                            Ok(bodies) => {
                                for body in bodies {
                                    session.give(StreamEvent {
                                        stream: stream.clone(),
                                        body,
                                    });
                                }
                            }
                            Err(error) => {
                                failures.record(error);
                                return;
                            }
                        }
                    }
                });
                let Some(cap) = hold_until(&mut capability, frontier.frontier().first().copied()) else {
                    return;
                };
                let Some(follower) = follower.as_mut() else { return };
                let mut session = output.session(&cap);
                for body in follower.finish() {
                    session.give(StreamEvent {
                        stream: stream.clone(),
                        body,
                    });
                }
            }
        })
    }
}
