//! `estimate_offset`: the A/V lag of one stream from its audio evidence and its pictures.
//!
//! Audio envelopes (onset strength and level, and speech windows when a voice-activity model
//! runs) and picture samples go into an [`AvSyncEstimator`] as they arrive. Every
//! `emit_every_ns` of running time that both inputs' frontiers have passed, the estimator is
//! asked for an estimate from the data before that time, which is complete and will not
//! change: the `offset` event is final. When both inputs end, one last estimate takes in the
//! frames that were still waiting for audio past them. The operator holds a capability at the
//! next estimate's time, so downstream progress never runs ahead of an estimate still to come.
//!
//! No sample since the last estimate (the source is down, or lost data) means no estimate: one
//! from the data before would repeat it as if it were news, and an outage would read as a
//! locked offset.
//!
//! A restart (the source came back after an outage) takes effect when the estimates reach its
//! time: the samples before it are forgotten and the tracker starts afresh, so no estimate
//! straddles the gap and lock is earned again.
//!
//! Each estimate's time goes to the aligner's step histogram, and the time from the capture of
//! the newest sample it uses to its event to the latency histogram.

use std::collections::VecDeque;
use std::time::Instant;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::align::{AvSyncEstimator, OffsetTracker, SyncEstimate};
use crate::engine_metrics::AlignerMetrics;
use crate::events::{EventBody, SyncBand};
use crate::features::NormalisedBox;
use crate::flow::{AudioEvidence, PictureSample, StreamEvent};

/// Extension trait for estimating the A/V offset from audio evidence and pictures.
pub trait EstimateOffset<'scope> {
    /// `self` is the audio evidence (onset strength, level, speech windows), `video` the
    /// picture samples of `stream`.
    ///
    /// # Examples
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Instant;
    /// use timely::dataflow::operators::{Inspect, ToStream};
    /// use warpflow::align::{AvSyncEstimator, BlockGrid, LagConfig, OffsetTracker, OffsetTrackerConfig, RegionLagConfig};
    /// use warpflow::engine_metrics::AlignerMetrics;
    /// use warpflow::flow::{AudioEvidence, EnvelopeSample, PictureSample};
    /// use warpflow::flow::operators::EstimateOffset;
    ///
    /// let ms = 1_000_000u64;
    /// let offsets = Arc::new(AtomicUsize::new(0));
    /// let counted = offsets.clone();
    /// timely::example(move |scope| {
    ///     // A flash at every whole second, a beep 40 ms after each.
    ///     let video = (1..300u64).map(move |i| {
    ///         let flash = i % 30 == 0;
    ///         PictureSample {
    ///             time_ns: i * 1_000_000_000 / 30,
    ///             rise: if flash { 1.0 } else { 0.0 },
    ///             blocks: vec![if flash { 1.0 } else { 0.0 }; 4],
    ///             face: None,
    ///             embedding: None,
    ///             captured_at: Instant::now(),
    ///         }
    ///     });
    ///     let audio = (0..2000u64).map(move |i| AudioEvidence::Onset(EnvelopeSample {
    ///         time_ns: i * 5 * ms,
    ///         value: if (i * 5 * ms) % (1000 * ms) == 40 * ms { 5.0 } else { 0.0 },
    ///         captured_at: Instant::now(),
    ///     }));
    ///     let grid = BlockGrid { columns: 2, rows: 2 };
    ///     let estimator = AvSyncEstimator::new(LagConfig::default(), RegionLagConfig::default(), grid).unwrap();
    ///     let tracker = OffsetTracker::new(OffsetTrackerConfig::default()).unwrap();
    ///     audio.to_stream(scope).container::<Vec<_>>()
    ///         .estimate_offset(video.to_stream(scope).container::<Vec<_>>(), estimator, tracker, 500 * ms, "live0".into(),
    ///                          AlignerMetrics::detached())
    ///         .inspect(move |_| { counted.fetch_add(1, Ordering::Relaxed); });
    /// });
    /// assert!(offsets.load(Ordering::Relaxed) > 0);
    /// ```
    fn estimate_offset(
        self,
        video: StreamVec<'scope, u64, PictureSample>,
        estimator: AvSyncEstimator,
        tracker: OffsetTracker,
        emit_every_ns: u64,
        stream: String,
        metrics: AlignerMetrics,
    ) -> StreamVec<'scope, u64, StreamEvent>;
}

impl<'scope> EstimateOffset<'scope> for StreamVec<'scope, u64, AudioEvidence> {
    fn estimate_offset(
        self,
        video: StreamVec<'scope, u64, PictureSample>,
        mut estimator: AvSyncEstimator,
        mut tracker: OffsetTracker,
        emit_every_ns: u64,
        stream: String,
        metrics: AlignerMetrics,
    ) -> StreamVec<'scope, u64, StreamEvent> {
        let emit_every_ns = emit_every_ns.max(1);
        self.binary_frontier(video, Pipeline, Pipeline, "EstimateOffset", move |initial, _| {
            let mut next_emit_ns = emit_every_ns;
            let mut capability = Some(initial);
            let mut latest_ns = 0u64;
            let mut restarts_ns: Vec<u64> = Vec::new();
            // Capture instants of the samples not yet covered by an estimate.
            let mut pending_captures: VecDeque<(u64, Instant)> = VecDeque::new();
            move |(audio_input, audio_frontier), (video_input, video_frontier), output| {
                audio_input.for_each_stamp(|_, containers| {
                    for evidence in containers.flat_map(|c| c.drain(..)) {
                        match evidence {
                            AudioEvidence::Onset(sample) => {
                                latest_ns = latest_ns.max(sample.time_ns);
                                pending_captures.push_back((sample.time_ns, sample.captured_at));
                                estimator.push_onset(sample.time_ns, sample.value);
                            }
                            AudioEvidence::Level(sample) => estimator.push_level(sample.time_ns, sample.value),
                            AudioEvidence::Speech(window) => estimator.push_speech(window),
                            AudioEvidence::Embedding { time_ns, values } => {
                                if let Err(error) = estimator.push_audio_embedding(time_ns, &values) {
                                    tracing::warn!(stream = %stream, %error, "an audio embedding the estimator cannot use");
                                }
                            }
                            AudioEvidence::Restart { time_ns } => restarts_ns.push(time_ns),
                        }
                    }
                });
                video_input.for_each_stamp(|_, containers| {
                    for sample in containers.flat_map(|c| c.drain(..)) {
                        latest_ns = latest_ns.max(sample.time_ns);
                        pending_captures.push_back((sample.time_ns, sample.captured_at));
                        if let Err(error) = estimator.push_video(sample.time_ns, sample.rise, &sample.blocks) {
                            tracing::warn!(stream = %stream, %error, "a picture the offset estimator cannot use");
                        }
                        if let Some((time_ns, values)) = &sample.embedding {
                            if let Err(error) = estimator.push_video_embedding(*time_ns, values) {
                                tracing::warn!(stream = %stream, %error, "a video embedding the estimator cannot use");
                            }
                        }
                        if let Some([x, y, width, height, score]) = sample.face {
                            estimator.push_face(NormalisedBox::within_picture(x, y, width, height), score);
                        }
                    }
                });
                let frontier = [audio_frontier.frontier().first(), video_frontier.frontier().first()]
                    .into_iter()
                    .flatten()
                    .min()
                    .copied();
                // Once both inputs are closed, everything up to the last sample is complete.
                let complete_until_ns = frontier.unwrap_or(latest_ns.saturating_add(1));
                if let Some(cap) = capability.as_mut() {
                    while next_emit_ns <= complete_until_ns {
                        cap.downgrade(&next_emit_ns);
                        if let Some(restart_ns) = restarts_ns.iter().copied().filter(|&t| t <= next_emit_ns).max() {
                            restarts_ns.retain(|&t| t > next_emit_ns);
                            estimator.forget_before(restart_ns);
                            tracker.forget();
                        }
                        let newest_capture = take_captures_until(&mut pending_captures, next_emit_ns);
                        let started = Instant::now();
                        let estimated = newest_capture.and_then(|_| estimator.estimate(next_emit_ns));
                        metrics.step_seconds.observe_duration(started.elapsed());
                        if let Some(estimate) = estimated {
                            output
                                .session(&*cap)
                                .give(offset_event(&stream, &mut tracker, estimate));
                            if let Some(captured_at) = newest_capture {
                                metrics.event_latency.observe_duration(captured_at.elapsed());
                            }
                        }
                        next_emit_ns += emit_every_ns;
                    }
                    if frontier.is_some() {
                        cap.downgrade(&next_emit_ns);
                    } else if let Some(estimate) = estimator.final_estimate() {
                        // Both inputs ended: the frames within the lag range of the end meet
                        // what audio there is.
                        output
                            .session(&*cap)
                            .give(offset_event(&stream, &mut tracker, estimate));
                    }
                }
                if frontier.is_none() {
                    capability = None;
                }
            }
        })
    }
}

/// The `offset` event of `estimate`, once `tracker` has taken it. A window's estimate holds at
/// its centre; the event reports it at the window's end, carried there by the tracked drift.
fn offset_event(stream: &str, tracker: &mut OffsetTracker, estimate: SyncEstimate) -> StreamEvent {
    let centre_ns = estimate.window_start_ns.midpoint(estimate.window_end_ns);
    let tracked = match estimate.region {
        Some(_) => tracker.update_calibrated(centre_ns, estimate.offset_ns, estimate.confidence),
        None => tracker.update(centre_ns, estimate.offset_ns, estimate.confidence),
    };
    let offset_ns = tracked.offset_at_ns(estimate.window_end_ns);
    StreamEvent {
        stream: stream.to_owned(),
        body: EventBody::Offset {
            live_ns: estimate.window_end_ns,
            av_offset_ns: offset_ns,
            raw_offset_ns: estimate.offset_ns,
            drift_ppm: tracked.drift_ppm,
            locked: tracked.locked,
            confidence: estimate.confidence,
            band: SyncBand::from_offset_ns(offset_ns),
            region: estimate.region.map(|r| r.to_array()),
            is_final: true,
        },
    }
}

/// Removes the captures of samples at or before `until_ns` and returns the newest of them.
fn take_captures_until(pending: &mut VecDeque<(u64, Instant)>, until_ns: u64) -> Option<Instant> {
    let mut newest: Option<Instant> = None;
    pending.retain(|&(time_ns, captured_at)| {
        let covered = time_ns <= until_ns;
        if covered {
            newest = Some(newest.map_or(captured_at, |n| n.max(captured_at)));
        }
        !covered
    });
    newest
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use timely::dataflow::operators::{Inspect, ToStream};

    use super::*;
    use crate::align::{BlockGrid, LagConfig, OffsetTrackerConfig, RegionLagConfig};
    use crate::flow::EnvelopeSample;

    #[test]
    fn an_outage_gives_no_estimate_and_repeats_none() {
        const MS: u64 = 1_000_000;
        let ms = MS;
        // Flashes every second and beeps 40 ms after them, for 20 s, with nothing at all from
        // 8 s to 14 s (the source was down).
        let delivered = |time_ns: u64| !(8_000 * MS..14_000 * MS).contains(&time_ns);
        let live_times = Arc::new(Mutex::new(Vec::new()));
        let seen = live_times.clone();
        timely::example(move |scope| {
            let video = (1..600u64)
                .map(|i| i * 1_000_000_000 / 30)
                .filter(move |&t| delivered(t))
                .map(|time_ns| {
                    let flash = time_ns % (1_000 * MS) < 30 * MS;
                    PictureSample {
                        time_ns,
                        rise: if flash { 1.0 } else { 0.0 },
                        blocks: vec![if flash { 1.0 } else { 0.0 }; 4],
                        face: None,
                        embedding: None,
                        captured_at: Instant::now(),
                    }
                });
            let audio = (0..4_000u64)
                .map(|i| i * 5 * MS)
                .filter(move |&t| delivered(t))
                .map(|time_ns| {
                    AudioEvidence::Onset(EnvelopeSample {
                        time_ns,
                        value: if time_ns % (1_000 * MS) == 40 * MS { 5.0 } else { 0.0 },
                        captured_at: Instant::now(),
                    })
                });
            let grid = BlockGrid { columns: 2, rows: 2 };
            let estimator = AvSyncEstimator::new(LagConfig::default(), RegionLagConfig::default(), grid).unwrap();
            let tracker = OffsetTracker::new(OffsetTrackerConfig::default()).unwrap();
            audio
                .to_stream(scope)
                .container::<Vec<_>>()
                .estimate_offset(
                    video.to_stream(scope).container::<Vec<_>>(),
                    estimator,
                    tracker,
                    500 * MS,
                    "live0".into(),
                    AlignerMetrics::detached(),
                )
                .inspect(move |event| {
                    if let EventBody::Offset { live_ns, .. } = event.body {
                        seen.lock().unwrap().push(live_ns);
                    }
                });
        });
        let live_times = live_times.lock().unwrap().clone();
        assert!(
            live_times.len() > 10,
            "estimates before and after the outage: {live_times:?}"
        );
        assert!(
            live_times.windows(2).all(|pair| pair[0] < pair[1]),
            "an estimate repeated, or went back: {live_times:?}"
        );
        let during = |t: &u64| (8_500 * ms..14_000 * ms).contains(t);
        assert!(
            !live_times.iter().any(during),
            "estimates in the outage: {live_times:?}"
        );
    }
}
