//! One followed stream's work per live frame, apart from timely: the frame goes through the
//! [`Follower`]; out come, in order, a `match` when it relocated, the `cue`s its position passed,
//! its provisional `position`, and the `final` positions of earlier frames that have settled.

use std::collections::VecDeque;
use std::time::Instant;

use crate::align::{signed_semitones, FinalPosition, Follower};
use crate::engine_metrics::AlignerMetrics;
use crate::events::EventBody;
use crate::flow::cue_cursor::CueCursor;
use crate::flow::{FeatureFrame, FlowError};

use super::{FollowEvents, ReferenceTiming};

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

/// A followed stream: the follower and what its events need between frames.
pub(crate) struct StreamFollower {
    follower: Follower,
    timing: ReferenceTiming,
    emit_every_frames: usize,
    stream: String,
    reference: String,
    cues: CueCursor,
    awaiting: VecDeque<AwaitingFinal>,
    finals: Vec<FinalPosition>,
    latest_frame_ns: Option<u64>,
    semitones_told: Option<usize>,
}

impl StreamFollower {
    /// Follows with `follower`, timing reference frames with `timing`, its events as `events` says.
    pub(crate) fn new(follower: Follower, timing: ReferenceTiming, events: FollowEvents) -> Self {
        let semitones_told = follower.transposition_semitones();
        Self {
            follower,
            timing,
            emit_every_frames: events.emit_every_frames.max(1),
            stream: events.stream,
            reference: events.reference,
            cues: CueCursor::new(events.cues),
            awaiting: VecDeque::new(),
            finals: Vec::new(),
            latest_frame_ns: None,
            semitones_told,
        }
    }

    /// Lets the follower's relocation scan spend `share` of its budget (see
    /// [`Follower::set_relocation_budget_share`]).
    pub(crate) fn set_relocation_budget_share(&mut self, share: f64) {
        self.follower.set_relocation_budget_share(share);
    }

    /// Live frames a second the stream brings in real time.
    pub(crate) fn frames_per_second(&self) -> f64 {
        1e9 / self.timing.hop_ns
    }

    /// Aligns one live frame (frames come in time order) and returns the events it makes.
    pub(crate) fn push_frame(
        &mut self,
        frame: &FeatureFrame,
        metrics: &AlignerMetrics,
    ) -> Result<Vec<EventBody>, FlowError> {
        let timing = self.timing;
        // Frames come a hop apart; a longer step is live audio that never came (an outage, a
        // gap), during which the performance went on.
        if let Some(previous_ns) = self.latest_frame_ns {
            let hops = (frame.time_ns.saturating_sub(previous_ns)) as f64 / timing.hop_ns;
            if hops >= MIN_GAP_HOPS {
                self.follower.skip_live_frames(hops.round() as usize - 1);
            }
        }
        self.latest_frame_ns = Some(frame.time_ns);
        let started = Instant::now();
        let pushed = self.follower.push_frame(&frame.values);
        metrics.step_seconds.observe_duration(started.elapsed());
        let step = pushed?;
        let mut bodies = Vec::new();
        // The key estimate rides on every position, and is told on the log (WARPFLOW_LOG=info)
        // when it moves.
        let semitones = self.follower.transposition_semitones();
        if semitones != self.semitones_told {
            if let Some(up) = semitones.map(signed_semitones) {
                tracing::info!(
                    stream = %self.stream,
                    live_ns = frame.time_ns,
                    "the live stream is estimated {} semitones {} the reference",
                    up.abs(),
                    if up >= 0 { "above" } else { "below" }
                );
            }
            self.semitones_told = semitones;
        }
        let semitones = semitones.map(signed_semitones);
        if let Some(found) = step.relocation {
            // Live frames are one hop apart: earlier ones are timed back from this one.
            let live_ns = |index: usize| {
                let back_ns = (step.live_index - index) as f64 * timing.hop_ns;
                (frame.time_ns as f64 - back_ns).max(0.0).round() as u64
            };
            bodies.push(EventBody::Match {
                reference: self.reference.clone(),
                ref_start_ns: timing.time_ns(found.ref_start),
                ref_end_ns: timing.time_ns(found.ref_end),
                live_start_ns: live_ns(found.live_start),
                live_end_ns: live_ns(found.live_end),
                cost: f64::from(found.cost_per_frame),
                semitones,
            });
        }
        let position_ns = timing.time_ns(step.ref_index);
        let reached = match step.relocation {
            Some(_) => self.cues.jump_to(position_ns).cloned().into_iter().collect(),
            None => self.cues.reach(position_ns).to_vec(),
        };
        for cue in reached {
            bodies.push(EventBody::Cue {
                cue: cue.id,
                ref_ns: cue.ref_ns,
                live_ns: frame.time_ns,
            });
        }
        let emitted = step.live_index.is_multiple_of(self.emit_every_frames) || step.relocation.is_some();
        if emitted && self.follower.settles_positions() {
            self.awaiting.push_back(AwaitingFinal {
                live_index: step.live_index,
                live_ns: frame.time_ns,
                captured_at: frame.captured_at,
                tempo: step.tempo,
                confidence: step.confidence,
                semitones,
            });
        }
        if emitted {
            let latency = frame.captured_at.elapsed();
            metrics.event_latency.observe_duration(latency);
            bodies.push(EventBody::Position {
                live_ns: frame.time_ns,
                ref_ns: position_ns,
                tempo: step.tempo,
                confidence: step.confidence,
                latency_ns: latency.as_nanos() as u64,
                semitones,
                is_final: false,
            });
        }
        self.finals.extend(self.follower.drain_final_positions());
        bodies.extend(settled_positions(&mut self.awaiting, &mut self.finals, timing));
        Ok(bodies)
    }

    /// The input has ended: the final positions of every frame still waiting for one.
    pub(crate) fn finish(&mut self) -> Vec<EventBody> {
        self.follower.finish();
        self.finals.extend(self.follower.drain_final_positions());
        settled_positions(&mut self.awaiting, &mut self.finals, self.timing)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::align::{FeatureMatrix, FollowerConfig, OltwConfig};
    use crate::config::Cue;

    const HOP_NS: u64 = 20_000_000;

    /// A reference of `frames` distinct two-value frames: a point going round less than half a
    /// circle, so that no two frames point the same way.
    fn circle(frames: usize) -> Vec<Vec<f32>> {
        (0..frames)
            .map(|i| {
                let angle = i as f32 * 3.0 / frames as f32;
                vec![angle.cos(), angle.sin()]
            })
            .collect()
    }

    fn stream_follower(reference: &[Vec<f32>], cues: Vec<Cue>, emit_every_frames: usize) -> StreamFollower {
        let matrix = FeatureMatrix::new(2, reference.concat()).expect("a reference");
        let config = FollowerConfig {
            oltw: OltwConfig {
                band_frames: 8,
                ..OltwConfig::default()
            },
            relocation: None,
            ..FollowerConfig::default()
        };
        let follower = Follower::new(Arc::new(matrix), config).expect("a follower");
        let timing = ReferenceTiming {
            hop_ns: HOP_NS as f64,
            first_frame_ns: 0.0,
        };
        let events = FollowEvents {
            emit_every_frames,
            stream: "live0".into(),
            reference: "song".into(),
            cues,
        };
        StreamFollower::new(follower, timing, events)
    }

    fn frame(index: u64, values: &[f32]) -> FeatureFrame {
        FeatureFrame {
            time_ns: index * HOP_NS,
            values: values.to_vec(),
            captured_at: Instant::now(),
        }
    }

    fn kind(body: &EventBody) -> &'static str {
        match body {
            EventBody::Position { is_final: false, .. } => "position",
            EventBody::Position { is_final: true, .. } => "final",
            EventBody::Cue { .. } => "cue",
            EventBody::Match { .. } => "match",
            _ => "other",
        }
    }

    #[test]
    fn each_frame_gives_its_position_then_cues_come_before_it_and_finals_at_the_end() {
        let reference = circle(40);
        let cue = Cue {
            id: "bar 2".into(),
            ref_ns: 10 * HOP_NS,
        };
        let mut follower = stream_follower(&reference, vec![cue], 1);
        let metrics = AlignerMetrics::detached();
        let mut bodies = Vec::new();
        for (index, values) in reference.iter().enumerate() {
            bodies.extend(
                follower
                    .push_frame(&frame(index as u64, values), &metrics)
                    .expect("aligned"),
            );
        }
        bodies.extend(follower.finish());
        let provisional: Vec<u64> = bodies
            .iter()
            .filter_map(|b| match b {
                EventBody::Position {
                    ref_ns,
                    is_final: false,
                    ..
                } => Some(*ref_ns),
                _ => None,
            })
            .collect();
        assert_eq!(provisional.len(), 40, "one provisional position per frame");
        let finals = bodies.iter().filter(|b| kind(b) == "final").count();
        assert_eq!(finals, 40, "and one final position per frame");
        // The same live frames as the reference: every position is on its own frame.
        let off: Vec<(usize, u64)> = provisional
            .iter()
            .enumerate()
            .filter(|(i, ref_ns)| **ref_ns != *i as u64 * HOP_NS)
            .map(|(i, ref_ns)| (i, *ref_ns))
            .collect();
        assert!(off.len() <= 2, "positions off their frame: {off:?}");
        // The cue comes once, just before the position that passed it.
        let kinds: Vec<&str> = bodies.iter().map(kind).collect();
        let cue_at = kinds.iter().position(|k| *k == "cue").expect("the cue is announced");
        assert_eq!(kinds.iter().filter(|k| **k == "cue").count(), 1);
        assert_eq!(kinds[cue_at + 1], "position");
    }

    #[test]
    fn a_lost_stretch_of_live_frames_moves_the_position_on() {
        let reference = circle(300);
        let mut follower = stream_follower(&reference, Vec::new(), 1);
        let metrics = AlignerMetrics::detached();
        for index in 0..200 {
            follower
                .push_frame(&frame(index, &reference[index as usize]), &metrics)
                .expect("aligned");
        }
        // Frames 200 to 209 never came: frame 210 arrives eleven hops after frame 199.
        let after_gap = follower
            .push_frame(&frame(210, &reference[210]), &metrics)
            .expect("aligned");
        let ref_ns = after_gap
            .iter()
            .find_map(|b| match b {
                EventBody::Position {
                    ref_ns,
                    is_final: false,
                    ..
                } => Some(*ref_ns),
                _ => None,
            })
            .expect("a position");
        let frames = ref_ns / HOP_NS;
        assert!(
            (205..=215).contains(&frames),
            "the position went on through the gap: frame {frames}"
        );
    }

    #[test]
    fn positions_come_every_nth_frame_when_asked() {
        let reference = circle(30);
        let mut follower = stream_follower(&reference, Vec::new(), 5);
        let metrics = AlignerMetrics::detached();
        let mut provisional = 0;
        for (index, values) in reference.iter().enumerate() {
            let bodies = follower
                .push_frame(&frame(index as u64, values), &metrics)
                .expect("aligned");
            provisional += bodies.iter().filter(|b| kind(b) == "position").count();
        }
        assert_eq!(provisional, 6, "frames 0, 5, …, 25");
    }
}
