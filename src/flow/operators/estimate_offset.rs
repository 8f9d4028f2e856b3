//! `estimate_offset`: the A/V lag of one stream from its audio evidence and its pictures.
//!
//! Audio envelopes (onset strength and level, speech windows, embeddings) and picture samples
//! go into the stream's [`OffsetEstimation`] as they arrive; every estimate due before both
//! inputs' frontiers is made and given, and when both inputs end the last. The operator holds
//! a capability at the next estimate's time, so downstream progress never runs ahead of an
//! estimate still to come.

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::align::{AvSyncEstimator, OffsetTracker};
use crate::engine_metrics::AlignerMetrics;
use crate::flow::offset_estimation::OffsetEstimation;
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
        estimator: AvSyncEstimator,
        tracker: OffsetTracker,
        emit_every_ns: u64,
        stream: String,
        metrics: AlignerMetrics,
    ) -> StreamVec<'scope, u64, StreamEvent> {
        let mut estimation = OffsetEstimation::new(estimator, tracker, emit_every_ns, stream.clone(), metrics);
        self.binary_frontier(video, Pipeline, Pipeline, "EstimateOffset", move |initial, _| {
            let mut capability = Some(initial);
            move |(audio_input, audio_frontier), (video_input, video_frontier), output| {
                audio_input.for_each_stamp(|_, containers| {
                    for evidence in containers.flat_map(|c| c.drain(..)) {
                        estimation.push_audio(evidence);
                    }
                });
                video_input.for_each_stamp(|_, containers| {
                    for sample in containers.flat_map(|c| c.drain(..)) {
                        estimation.push_picture(sample);
                    }
                });
                let frontier = [audio_frontier.frontier().first(), video_frontier.frontier().first()]
                    .into_iter()
                    .flatten()
                    .min()
                    .copied();
                let Some(cap) = capability.as_mut() else {
                    return;
                };
                let mut give = |time_ns: u64, body| {
                    if *cap.time() < time_ns {
                        cap.downgrade(&time_ns);
                    }
                    let event = StreamEvent {
                        stream: stream.clone(),
                        body,
                    };
                    output.session(&*cap).give(event);
                };
                match frontier {
                    Some(complete_until_ns) => {
                        estimation.estimate_until(complete_until_ns, &mut give);
                        cap.downgrade(&estimation.next_estimate_ns());
                    }
                    // Both inputs ended.
                    None => {
                        estimation.finish(&mut give);
                        capability = None;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use timely::dataflow::operators::{Inspect, ToStream};

    use super::*;
    use crate::align::{BlockGrid, LagConfig, OffsetTrackerConfig, RegionLagConfig};
    use crate::events::EventBody;
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
