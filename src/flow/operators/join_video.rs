//! `join_video`: audio feature frames joined with the video feature frames of the same stream,
//! each audio frame with the newest video frame at or before its time (see
//! `flow::follow_features`).
//!
//! An audio frame waits until the video input's frontier has passed its time, so that every
//! video frame before it is known. In a live run, if the video falls more than
//! [`LIVE_VIDEO_WAIT_NS`] behind the audio (a stalled camera), audio frames go on with the last
//! picture rather than stall the aligner; a file read at full speed always waits (its decoder
//! may run audio seconds ahead of video, and the video ends with the file). The joined frames
//! leave under a capability held at the audio input's frontier.
//!
//! On a worker that does not hold the stream there is no joiner (`None`): the operator is
//! there because every worker builds the same dataflow, and records never reach it.

use std::collections::VecDeque;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;

use crate::flow::follow_features::FrameJoiner;
use crate::flow::{FailureSlot, FeatureFrame, FlowError};

use super::held_capability::hold_until;

/// In a live run, how far the newest audio frame may run ahead of an audio frame still waiting
/// for video.
pub const LIVE_VIDEO_WAIT_NS: u64 = 1_000_000_000;

/// Extension trait for joining audio features with video features.
pub trait JoinVideo<'scope> {
    /// Each audio frame of `self` joined by `joiner` with the newest frame of `video` at or
    /// before its time; an audio frame waits for the video at most until the newest audio is
    /// `max_wait_ns` ahead of it (`None`: until the video has passed it or ended). `joiner`
    /// is `None` on workers that do not hold the stream.
    fn join_video(
        self,
        video: StreamVec<'scope, u64, FeatureFrame>,
        joiner: Option<FrameJoiner>,
        max_wait_ns: Option<u64>,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, FeatureFrame>;
}

impl<'scope> JoinVideo<'scope> for StreamVec<'scope, u64, FeatureFrame> {
    fn join_video(
        self,
        video: StreamVec<'scope, u64, FeatureFrame>,
        mut joiner: Option<FrameJoiner>,
        max_wait_ns: Option<u64>,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, FeatureFrame> {
        self.binary_frontier(video, Pipeline, Pipeline, "JoinVideo", move |initial, _| {
            let mut capability = Some(initial);
            let mut waiting: VecDeque<FeatureFrame> = VecDeque::new();
            let mut pictures: Vec<FeatureFrame> = Vec::new();
            let mut joined = Vec::new();
            move |(audio_input, audio_frontier), (video_input, video_frontier), output| {
                audio_input.for_each_stamp(|_, containers| {
                    waiting.extend(containers.flat_map(|c| c.drain(..)));
                });
                video_input.for_each_stamp(|_, containers| {
                    pictures.extend(containers.flat_map(|c| c.drain(..)));
                });
                let Some(joiner) = joiner.as_mut() else {
                    if !(waiting.is_empty() && pictures.is_empty()) {
                        failures.record(FlowError::NotHeld { operator: "JoinVideo" });
                        waiting.clear();
                        pictures.clear();
                    }
                    follow_frontier(&mut capability, audio_frontier.frontier().first(), true);
                    return;
                };
                pictures.sort_by_key(|f| f.time_ns);
                for picture in pictures.drain(..) {
                    if let Err(error) = joiner.push_video(picture.time_ns, picture.values) {
                        failures.record(FlowError::from(error));
                    }
                }
                waiting.make_contiguous().sort_by_key(|f| f.time_ns);
                let video_complete_ns = video_frontier.frontier().first().copied();
                let newest_audio_ns = waiting.back().map_or(0, |f| f.time_ns);
                if let Some(cap) = capability.as_ref() {
                    let mut session = output.session(cap);
                    while let Some(frame) = waiting.front() {
                        let ready = video_complete_ns.is_none_or(|complete_ns| {
                            frame.time_ns < complete_ns
                                || max_wait_ns.is_some_and(|wait_ns| newest_audio_ns - frame.time_ns > wait_ns)
                        });
                        if !ready {
                            break;
                        }
                        let Some(frame) = waiting.pop_front() else { break };
                        joined.clear();
                        match joiner.join(frame.time_ns, &frame.values, &mut joined) {
                            Ok(()) => session.give(FeatureFrame {
                                values: joined.clone(),
                                ..frame
                            }),
                            Err(error) => failures.record(FlowError::from(error)),
                        }
                    }
                }
                follow_frontier(&mut capability, audio_frontier.frontier().first(), waiting.is_empty());
            }
        })
    }
}

/// Moves the held capability up to the audio frontier, and drops it once the audio has ended
/// and nothing waits: frontiers are shared by all workers, so even a worker that holds no
/// record must let go.
fn follow_frontier(capability: &mut Option<Capability<u64>>, frontier: Option<&u64>, drained: bool) {
    if frontier.is_some() || drained {
        hold_until(capability, frontier.copied());
    }
}
