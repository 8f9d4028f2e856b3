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
//! On a worker that does not hold the stream there is no follower (`None`): the operator is
//! there because every worker builds the same dataflow, and records never reach it.

use std::collections::VecDeque;
use std::time::Instant;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::align::{signed_semitones, FinalPosition, Follower};
use crate::config::Cue;
use crate::engine_metrics::AlignerMetrics;
use crate::events::EventBody;
use crate::flow::cue_cursor::CueCursor;
use crate::flow::{FailureSlot, FeatureFrame, FlowError, StreamEvent};

use super::held_capability::hold_until;

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

/// A step between live frames of this many hops or more means frames were lost.
const MIN_GAP_HOPS: f64 = 2.5;

/// What a final position's event needs of its frame, kept until the position is final.
#[derive(Debug, Clone, Copy)]
struct AwaitingFinal {
    live_index: usize,
    live_ns: u64,
    captured_at: Instant,
    tempo: f64,
    confidence: f64,
    semitones: Option<i32>,
}

impl<'scope> FollowReference<'scope> for StreamVec<'scope, u64, FeatureFrame> {
    fn follow_reference(
        self,
        mut follower: Option<Follower>,
        timing: ReferenceTiming,
        events: FollowEvents,
        metrics: AlignerMetrics,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent> {
        let FollowEvents {
            emit_every_frames,
            stream,
            reference,
            cues,
        } = events;
        let emit_every_frames = emit_every_frames.max(1);
        let mut cues = CueCursor::new(cues);
        let mut frames = Vec::new();
        let mut awaiting: VecDeque<AwaitingFinal> = VecDeque::new();
        let mut finals = Vec::new();
        let mut latest_frame_ns: Option<u64> = None;
        let mut semitones_told = follower.as_ref().and_then(Follower::transposition_semitones);
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
                        // Frames come a hop apart; a longer step is live audio that never came
                        // (an outage, a gap), during which the performance went on.
                        if let Some(previous_ns) = latest_frame_ns {
                            let hops = (frame.time_ns.saturating_sub(previous_ns)) as f64 / timing.hop_ns;
                            if hops >= MIN_GAP_HOPS {
                                follower.skip_live_frames(hops.round() as usize - 1);
                            }
                        }
                        latest_frame_ns = Some(frame.time_ns);
                        let started = Instant::now();
                        let pushed = follower.push_frame(&frame.values);
                        metrics.step_seconds.observe_duration(started.elapsed());
                        let step = match pushed {
                            Ok(step) => step,
                            Err(error) => {
                                failures.record(error);
                                return;
                            }
                        };
                        // The key estimate rides on every position, and is told on the log
                        // (WARPFLOW_LOG=info) when it moves.
                        let semitones = follower.transposition_semitones();
                        if semitones != semitones_told {
                            if let Some(up) = semitones.map(signed_semitones) {
                                tracing::info!(
                                    stream = %stream,
                                    live_ns = frame.time_ns,
                                    "the live stream is estimated {} semitones {} the reference",
                                    up.abs(),
                                    if up >= 0 { "above" } else { "below" }
                                );
                            }
                            semitones_told = semitones;
                        }
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
                                semitones: semitones.map(signed_semitones),
                            };
                            session.give(StreamEvent {
                                stream: stream.clone(),
                                body,
                            });
                        }
                        let position_ns = timing.time_ns(step.ref_index);
                        let reached: Vec<Cue> = match step.relocation {
                            Some(_) => cues.jump_to(position_ns).cloned().into_iter().collect(),
                            None => cues.reach(position_ns).to_vec(),
                        };
                        for cue in reached {
                            session.give(StreamEvent {
                                stream: stream.clone(),
                                body: EventBody::Cue {
                                    cue: cue.id,
                                    ref_ns: cue.ref_ns,
                                    live_ns: frame.time_ns,
                                },
                            });
                        }
                        let emitted = step.live_index.is_multiple_of(emit_every_frames) || step.relocation.is_some();
                        if emitted && follower.settles_positions() {
                            awaiting.push_back(AwaitingFinal {
                                live_index: step.live_index,
                                live_ns: frame.time_ns,
                                captured_at: frame.captured_at,
                                tempo: step.tempo,
                                confidence: step.confidence,
                                semitones: semitones.map(signed_semitones),
                            });
                        }
                        if emitted {
                            let latency = frame.captured_at.elapsed();
                            metrics.event_latency.observe_duration(latency);
                            let body = EventBody::Position {
                                live_ns: frame.time_ns,
                                ref_ns: position_ns,
                                tempo: step.tempo,
                                confidence: step.confidence,
                                latency_ns: latency.as_nanos() as u64,
                                semitones: semitones.map(signed_semitones),
                                is_final: false,
                            };
                            session.give(StreamEvent {
                                stream: stream.clone(),
                                body,
                            });
                        }
                        finals.extend(follower.drain_final_positions());
                        for body in settled_positions(&mut awaiting, &mut finals, timing) {
                            session.give(StreamEvent {
                                stream: stream.clone(),
                                body,
                            });
                        }
                    }
                });
                let Some(cap) = hold_until(&mut capability, frontier.frontier().first().copied()) else {
                    return;
                };
                let Some(follower) = follower.as_mut() else { return };
                follower.finish();
                finals.extend(follower.drain_final_positions());
                let mut session = output.session(&cap);
                for body in settled_positions(&mut awaiting, &mut finals, timing) {
                    session.give(StreamEvent {
                        stream: stream.clone(),
                        body,
                    });
                }
            }
        })
    }
}

/// The final `position` events for the frames awaiting one whose positions are in `finals`;
/// frames passed over (none are, unless a final position is missing) stop waiting.
fn settled_positions(
    awaiting: &mut VecDeque<AwaitingFinal>,
    finals: &mut Vec<FinalPosition>,
    timing: ReferenceTiming,
) -> Vec<EventBody> {
    let mut bodies = Vec::new();
    for settled in finals.drain(..) {
        while awaiting
            .front()
            .is_some_and(|frame| frame.live_index < settled.live_index)
        {
            awaiting.pop_front();
        }
        let Some(frame) = awaiting
            .front()
            .copied()
            .filter(|frame| frame.live_index == settled.live_index)
        else {
            continue;
        };
        awaiting.pop_front();
        bodies.push(EventBody::Position {
            live_ns: frame.live_ns,
            ref_ns: timing.time_at_ns(settled.ref_middle()),
            tempo: frame.tempo,
            confidence: frame.confidence,
            latency_ns: frame.captured_at.elapsed().as_nanos() as u64,
            semitones: frame.semitones,
            is_final: true,
        });
    }
    bodies
}
