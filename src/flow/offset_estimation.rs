//! One stream's A/V offset as its evidence arrives: what the `estimate_offset` operator (a
//! dataflow per stream) and the `sync_streams` operator (many streams in one) both run.
//!
//! Audio evidence and picture samples go into an [`AvSyncEstimator`] as they arrive. Each time
//! the stream is complete up to a later running time (its frontier, or its watermark), every
//! estimate due before it is made, `emit_every_ns` apart, from the data before its time, which
//! will not change: the `offset` event is final. At the stream's end one last estimate takes in
//! the frames that were still waiting for audio past them.
//!
//! No sample since the last estimate (the source is down, or lost data) means no estimate: one
//! from the data before would repeat it as if it were news, and an outage would read as a
//! locked offset. A restart (the source came back after an outage) takes effect when the
//! estimates reach its time: the samples before it are forgotten and the tracker starts
//! afresh, so no estimate straddles the gap and lock is earned again.
//!
//! Each estimate's time goes to the aligner's step histogram, and the time from the capture of
//! the newest sample it uses to its event to the latency histogram.

use std::collections::VecDeque;
use std::time::Instant;

use crate::align::{AvSyncEstimator, OffsetTracker, SyncEstimate};
use crate::engine_metrics::AlignerMetrics;
use crate::events::{DiscontKind, EventBody, SyncBand};
use crate::features::NormalisedBox;

use super::{AudioEvidence, PictureSample};

/// One stream's estimator, tracker and schedule of estimates.
pub(crate) struct OffsetEstimation {
    estimator: AvSyncEstimator,
    tracker: OffsetTracker,
    emit_every_ns: u64,
    next_emit_ns: u64,
    latest_ns: u64,
    restarts_ns: Vec<u64>,
    /// Capture instants of the samples not yet covered by an estimate.
    pending_captures: VecDeque<(u64, Instant)>,
    /// The stream's name, for warnings.
    stream: String,
    metrics: AlignerMetrics,
}

impl OffsetEstimation {
    /// Estimates with `estimator`, smoothed by `tracker`, every `emit_every_ns` of running time.
    pub(crate) fn new(
        estimator: AvSyncEstimator,
        tracker: OffsetTracker,
        emit_every_ns: u64,
        stream: String,
        metrics: AlignerMetrics,
    ) -> Self {
        let emit_every_ns = emit_every_ns.max(1);
        Self {
            estimator,
            tracker,
            emit_every_ns,
            next_emit_ns: emit_every_ns,
            latest_ns: 0,
            restarts_ns: Vec::new(),
            pending_captures: VecDeque::new(),
            stream,
            metrics,
        }
    }

    /// The running time of the next estimate.
    pub(crate) fn next_estimate_ns(&self) -> u64 {
        self.next_emit_ns
    }

    /// Takes one piece of audio evidence.
    pub(crate) fn push_audio(&mut self, evidence: AudioEvidence) {
        let stream = &self.stream;
        match evidence {
            AudioEvidence::Onset(sample) => {
                self.latest_ns = self.latest_ns.max(sample.time_ns);
                self.pending_captures.push_back((sample.time_ns, sample.captured_at));
                self.estimator.push_onset(sample.time_ns, sample.value);
            }
            AudioEvidence::Level(sample) => self.estimator.push_level(sample.time_ns, sample.value),
            AudioEvidence::Speech(window) => self.estimator.push_speech(window),
            AudioEvidence::Embedding { time_ns, values } => {
                if let Err(error) = self.estimator.push_audio_embedding(time_ns, &values) {
                    tracing::warn!(stream = %stream, %error, "an audio embedding the estimator cannot use");
                }
            }
            AudioEvidence::Restart { time_ns } => self.restarts_ns.push(time_ns),
        }
    }

    /// Takes one picture's sample.
    pub(crate) fn push_picture(&mut self, sample: PictureSample) {
        let stream = &self.stream;
        self.latest_ns = self.latest_ns.max(sample.time_ns);
        self.pending_captures.push_back((sample.time_ns, sample.captured_at));
        if let Err(error) = self.estimator.push_video(sample.time_ns, sample.rise, &sample.blocks) {
            tracing::warn!(stream = %stream, %error, "a picture the offset estimator cannot use");
        }
        if let Some((time_ns, values)) = &sample.embedding {
            if let Err(error) = self.estimator.push_video_embedding(*time_ns, values) {
                tracing::warn!(stream = %stream, %error, "a video embedding the estimator cannot use");
            }
        }
        if let Some([x, y, width, height, score]) = sample.face {
            self.estimator
                .push_face(NormalisedBox::within_picture(x, y, width, height), score);
        }
    }

    /// Makes every estimate due at or before `complete_until_ns`, the running time before which
    /// all of the stream's evidence has come; gives each `offset` event with its time.
    pub(crate) fn estimate_until(&mut self, complete_until_ns: u64, mut give: impl FnMut(u64, EventBody)) {
        while self.next_emit_ns <= complete_until_ns {
            let at_ns = self.next_emit_ns;
            if let Some(restart_ns) = self.restarts_ns.iter().copied().filter(|&t| t <= at_ns).max() {
                self.restarts_ns.retain(|&t| t > at_ns);
                self.estimator.forget_before(restart_ns);
                self.tracker.forget();
            }
            let newest_capture = take_captures_until(&mut self.pending_captures, at_ns);
            let started = Instant::now();
            let estimated = newest_capture.and_then(|_| self.estimator.estimate(at_ns));
            self.metrics.step_seconds.observe_duration(started.elapsed());
            if let Some(estimate) = estimated {
                give(at_ns, offset_event(&mut self.tracker, estimate));
                if let Some(captured_at) = newest_capture {
                    self.metrics.event_latency.observe_duration(captured_at.elapsed());
                }
            }
            self.next_emit_ns += self.emit_every_ns;
        }
    }

    /// The stream has ended: every estimate due up to its last sample, then one from the frames
    /// within the lag range of the end and what audio there is.
    pub(crate) fn finish(&mut self, mut give: impl FnMut(u64, EventBody)) {
        self.estimate_until(self.latest_ns.saturating_add(1), &mut give);
        if let Some(estimate) = self.estimator.final_estimate() {
            give(self.next_emit_ns, offset_event(&mut self.tracker, estimate));
        }
    }
}

/// Where the estimate starts afresh after a change in the source's health: after an outage
/// or a jump; a loss the source announced leaves the time axis, and so the estimate, as it was.
pub(crate) fn restart_at(health: &EventBody) -> Option<u64> {
    match health {
        EventBody::Recovered { live_ns, .. }
        | EventBody::Discont {
            live_ns,
            kind: DiscontKind::Gap | DiscontKind::Reset,
            ..
        } => Some(*live_ns),
        _ => None,
    }
}

/// The `offset` event of `estimate`, once `tracker` has taken it. A window's estimate holds at
/// its centre; the event reports it at the window's end, carried there by the tracked drift.
fn offset_event(tracker: &mut OffsetTracker, estimate: SyncEstimate) -> EventBody {
    let centre_ns = estimate.window_start_ns.midpoint(estimate.window_end_ns);
    let tracked = match estimate.region {
        Some(_) => tracker.update_calibrated(centre_ns, estimate.offset_ns, estimate.confidence),
        None => tracker.update(centre_ns, estimate.offset_ns, estimate.confidence),
    };
    let offset_ns = tracked.offset_at_ns(estimate.window_end_ns);
    EventBody::Offset {
        live_ns: estimate.window_end_ns,
        av_offset_ns: offset_ns,
        raw_offset_ns: estimate.offset_ns,
        drift_ppm: tracked.drift_ppm,
        locked: tracked.locked,
        confidence: estimate.confidence,
        band: SyncBand::from_offset_ns(offset_ns),
        region: estimate.region.map(|r| r.to_array()),
        is_final: true,
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
