//! The A/V lag estimator: how much later the audio of a stream comes than its video.
//!
//! It cross-correlates two event envelopes of the same stream — an audio onset envelope
//! (regularly spaced, e.g. every 5 ms) and a video change envelope (one value per frame) —
//! over lags in `±max_lag_ns` on a 1 ms grid, reading the audio envelope between its samples
//! by linear interpolation so the answer is finer than a video frame, and refining the peak
//! with a parabola. Both envelopes are made zero-mean over the window, so steady signals do not
//! count as events. When either envelope has no events in the window (silence, a still picture)
//! it gives no estimate rather than a wrong one. Its confidence weighs how far the best lag
//! stands above its rivals by how much of the picture's brightening a few frames hold: flashes
//! are few and strong, motion is many and small.
//!
//! With speech windows from a voice-activity model ([`AvLagEstimator::push_speech`]), each
//! audio sample's deviation from the mean is weighted by the probability of speech around it
//! ([`SpeechWeights`]): onsets in speech, which the picture shows, count more than music or
//! off-screen noise. Whether the window has events is still judged on the unweighted envelope,
//! so a stream without speech gets estimates as before.
//!
//! Memory is bounded: samples older than the window and the lag range are dropped.

use std::collections::VecDeque;

use super::peak::parabolic_offset;
use super::speech_weights::{SpeechWeights, SpeechWindow};
use super::AlignError;

/// Settings of the lag estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct LagConfig {
    /// Largest |offset| searched. Flash-and-beep patterns repeat, usually every second, and an
    /// offset beyond half the period reads as one the other way: hence 500 ms by default.
    pub max_lag_ns: u64,
    /// Length of the video span each estimate looks at.
    pub window_ns: u64,
    /// Spacing of the searched lags.
    pub lag_step_ns: u64,
    /// Peak-to-peak range a video envelope must reach in the window to count as having events.
    pub min_video_change: f32,
    /// Peak-to-peak range an audio envelope must reach in the window to count as having events.
    pub min_audio_change: f32,
    /// Lags closer than this to the best one are not counted as rivals for the confidence.
    pub rival_exclusion_ns: u64,
    /// Weight of audio the voice-activity model hears no speech in (speech weighs 1), once
    /// speech windows are given.
    pub non_speech_weight: f32,
}

impl Default for LagConfig {
    fn default() -> Self {
        Self {
            max_lag_ns: 500_000_000,
            window_ns: 4_000_000_000,
            lag_step_ns: 1_000_000,
            min_video_change: 0.02,
            min_audio_change: 0.5,
            rival_exclusion_ns: 60_000_000,
            non_speech_weight: 0.25,
        }
    }
}

impl LagConfig {
    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), AlignError> {
        let bad = |name, expected, actual: u64| AlignError::BadParameter {
            name,
            expected,
            actual: actual.to_string(),
        };
        if self.lag_step_ns == 0 {
            return Err(bad("lag_step_ns", "above 0", self.lag_step_ns));
        }
        if self.max_lag_ns < self.lag_step_ns {
            return Err(bad("max_lag_ns", "at least one lag step", self.max_lag_ns));
        }
        if self.window_ns == 0 {
            return Err(bad("window_ns", "above 0", self.window_ns));
        }
        if !(0.0..=1.0).contains(&self.non_speech_weight) {
            return Err(AlignError::BadParameter {
                name: "non_speech_weight",
                expected: "between 0 and 1",
                actual: self.non_speech_weight.to_string(),
            });
        }
        Ok(())
    }
}

/// One estimate of the A/V offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LagEstimate {
    /// Positive when audio comes later than the video it belongs to.
    pub offset_ns: i64,
    /// How far the best lag stands above its rivals, in [0, 1].
    pub confidence: f64,
    /// Start of the video span the estimate is made from.
    pub window_start_ns: u64,
    /// End of the video span the estimate is made from.
    pub window_end_ns: u64,
}

/// Online estimator of the offset between an audio and a video envelope.
#[derive(Debug)]
pub struct AvLagEstimator {
    config: LagConfig,
    audio: VecDeque<(u64, f32)>,
    video: VecDeque<(u64, f32)>,
    speech: SpeechWeights,
    /// The audio of one estimate, centred and weighted.
    weighted_audio: Vec<(u64, f32)>,
    weights: Vec<f32>,
    scores: Vec<f64>,
}

impl AvLagEstimator {
    /// A new estimator with no samples.
    pub fn new(config: LagConfig) -> Result<Self, AlignError> {
        config.validate()?;
        Ok(Self {
            speech: SpeechWeights::new(config.non_speech_weight),
            config,
            audio: VecDeque::new(),
            video: VecDeque::new(),
            weighted_audio: Vec::new(),
            weights: Vec::new(),
            scores: Vec::new(),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &LagConfig {
        &self.config
    }

    /// Adds an audio envelope sample; times must not decrease.
    pub fn push_audio(&mut self, time_ns: u64, value: f32) {
        push_in_order(&mut self.audio, time_ns, value);
    }

    /// Adds the probability of speech over a span of the audio; spans must come in order.
    pub fn push_speech(&mut self, window: SpeechWindow) {
        self.speech.push(window);
    }

    /// Adds a video envelope sample; times must not decrease.
    pub fn push_video(&mut self, time_ns: u64, value: f32) {
        push_in_order(&mut self.video, time_ns, value);
    }

    /// Estimates the offset from everything before `complete_until_ns`, the time up to which
    /// both envelopes are known to be complete. Returns `None` while the window holds no
    /// events on either side or the correlation has no positive peak.
    pub fn estimate(&mut self, complete_until_ns: u64) -> Option<LagEstimate> {
        let max_lag = self.config.max_lag_ns;
        let window_end = complete_until_ns.checked_sub(max_lag)?;
        let window_start = window_end.saturating_sub(self.config.window_ns);
        self.forget_before(window_start.saturating_sub(max_lag + self.config.lag_step_ns));

        let video: Vec<(u64, f32)> = self
            .video
            .iter()
            .copied()
            .filter(|&(t, _)| t >= window_start && t < window_end)
            .collect();
        let audio_start = window_start.saturating_sub(max_lag);
        let audio_end = window_end + max_lag;
        let audio_values = self
            .audio
            .iter()
            .filter(|&&(t, _)| t >= audio_start && t < audio_end)
            .map(|s| s.1);
        let (audio_mean, audio_range) = mean_and_range(audio_values);
        let (video_mean, video_range) = mean_and_range(video.iter().map(|s| s.1));
        if video_range < self.config.min_video_change || audio_range < self.config.min_audio_change {
            return None;
        }

        let step = self.config.lag_step_ns as i64;
        let lag_count = (2 * max_lag / self.config.lag_step_ns + 1) as usize;
        self.scores.clear();
        self.scores.resize(lag_count, 0.0);
        // Old samples were forgotten above, so this is the window and its lag range.
        self.weights.clear();
        self.speech
            .weights_at(self.audio.iter().map(|s| s.0), &mut self.weights);
        self.weighted_audio.clear();
        self.weighted_audio.extend(
            self.audio
                .iter()
                .zip(&self.weights)
                .map(|(&(t, a), &w)| (t, (a - audio_mean) * w)),
        );
        // Video sample by video sample, the audio is read at t + lag for increasing lags, so
        // one search finds the first audio sample and a pointer walks on from there.
        let audio = &self.weighted_audio;
        for &(t, v) in &video {
            let weight = f64::from(v - video_mean);
            let first_ns = t as i64 - max_lag as i64;
            let mut next = audio.partition_point(|&(a, _)| (a as i64) < first_ns);
            for (k, score) in self.scores.iter_mut().enumerate() {
                let at_ns = first_ns + k as i64 * step;
                while next < audio.len() && (audio[next].0 as i64) < at_ns {
                    next += 1;
                }
                if let Some(value) = interpolate_at(audio, next, at_ns) {
                    *score += weight * f64::from(value);
                }
            }
        }

        let (peak_index, peak) = self
            .scores
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        if peak <= 0.0 {
            return None;
        }
        let exclusion = (self.config.rival_exclusion_ns / self.config.lag_step_ns) as usize;
        let rival = self
            .scores
            .iter()
            .enumerate()
            .filter(|(k, _)| k.abs_diff(peak_index) > exclusion)
            .map(|(_, &s)| s)
            .fold(0.0f64, f64::max);
        // A lone peak among the lags says little if the picture changes all the time (motion
        // rather than flashes): the confidence is scaled by how much of the window's
        // brightening its few strongest frames hold.
        let confidence = (1.0 - rival / peak).clamp(0.0, 1.0) * event_share(&video, self.config.window_ns);
        let refined = peak_index as f64 + parabolic_offset(|k| self.scores.get(k).copied(), peak_index);
        let offset_ns = -(max_lag as i64) + (refined * step as f64).round() as i64;
        Some(LagEstimate {
            offset_ns,
            confidence,
            window_start_ns: window_start,
            window_end_ns: window_end,
        })
    }

    /// Drops every sample (and speech window) before `time_ns`; estimates rest on later ones.
    pub fn forget_before(&mut self, time_ns: u64) {
        while self.audio.front().is_some_and(|&(t, _)| t < time_ns) {
            self.audio.pop_front();
        }
        while self.video.front().is_some_and(|&(t, _)| t < time_ns) {
            self.video.pop_front();
        }
        self.speech.forget_before(time_ns);
    }
}

fn push_in_order(samples: &mut VecDeque<(u64, f32)>, time_ns: u64, value: f32) {
    // A sample out of order would break the binary search; it is dropped, not reordered,
    // because upstream guarantees order and a violation means a timestamp glitch.
    if samples.back().is_none_or(|&(t, _)| t < time_ns) {
        samples.push_back((time_ns, value));
    }
}

fn mean_and_range(values: impl Iterator<Item = f32>) -> (f32, f32) {
    let (mut sum, mut count, mut low, mut high) = (0.0f64, 0usize, f32::INFINITY, f32::NEG_INFINITY);
    for v in values {
        sum += f64::from(v);
        count += 1;
        low = low.min(v);
        high = high.max(v);
    }
    if count == 0 {
        (0.0, 0.0)
    } else {
        ((sum / count as f64) as f32, high - low)
    }
}

/// Events expected per second at most in a flash pattern (a pattern at 1 Hz, with room for one
/// at 2 Hz).
const EVENTS_PER_SECOND: f64 = 2.0;

/// Strong frames a window needs before its peak counts fully: one flash meeting one onset may
/// be chance (a cut on a beat), three in a row seldom are.
const EVENTS_FOR_FULL_CONFIDENCE: usize = 3;

/// How much the window's picture looks like flashes: the share of the brightening above the
/// window's median (and above a tenth of the strongest frame's) that its strongest frames hold (as many frames as a flash pattern has events
/// in `window_ns`), near 1 for flashes and small for a picture that moves all the time, and
/// less where fewer than [`EVENTS_FOR_FULL_CONFIDENCE`] frames stand out (at half the strongest
/// or more).
fn event_share(video: &[(u64, f32)], window_ns: u64) -> f64 {
    let mut values: Vec<f32> = video.iter().map(|s| s.1).collect();
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| b.total_cmp(a));
    let median = values[values.len() / 2];
    let above: Vec<f64> = values.iter().map(|&v| f64::from((v - median).max(0.0))).collect();
    // Coding noise brightens every frame a little; what is under a tenth of the strongest frame
    // is no event either way.
    let floor = 0.1 * above[0];
    let total: f64 = above.iter().filter(|&&v| v >= floor).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let events = ((window_ns as f64 / 1e9 * EVENTS_PER_SECOND).ceil() as usize).max(1);
    let strong = above.iter().filter(|&&v| v >= 0.5 * above[0]).count();
    let repeated = (strong as f64 / EVENTS_FOR_FULL_CONFIDENCE as f64).min(1.0);
    above.iter().take(events).sum::<f64>() / total * repeated
}

/// Linear interpolation of an ordered envelope at `time_ns`, where `next` is the first sample
/// at or after it; `None` outside the envelope's span.
fn interpolate_at(samples: &[(u64, f32)], next: usize, time_ns: i64) -> Option<f32> {
    let &(t1, v1) = samples.get(next)?;
    if t1 as i64 == time_ns {
        return Some(v1);
    }
    let &(t0, v0) = samples.get(next.checked_sub(1)?)?;
    let fraction = (time_ns - t0 as i64) as f32 / (t1 - t0) as f32;
    Some(v0 + (v1 - v0) * fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Feeds flashes every second at 30 fps and onset pulses `offset_ms` later on a 5 ms grid.
    fn estimator_with_offset(offset_ms: i64, seconds: u64) -> (AvLagEstimator, u64) {
        let mut estimator = AvLagEstimator::new(LagConfig::default()).unwrap();
        let frame_ns = 1_000_000_000 / 30;
        for frame in 0..seconds * 30 {
            let t = frame * frame_ns;
            estimator.push_video(t, if frame % 30 == 0 && frame > 0 { 1.0 } else { 0.0 });
        }
        for bin in 0..seconds * 200 {
            let t = bin * 5 * MS;
            let since_beep = (t as i64 - offset_ms * MS as i64).rem_euclid(1_000 * MS as i64);
            let value = if since_beep < 10 * MS as i64 {
                10.0 - since_beep as f32 / MS as f32
            } else {
                0.0
            };
            estimator.push_audio(t, value);
        }
        (estimator, seconds * 1_000 * MS)
    }

    #[test]
    fn finds_known_offsets_within_one_envelope_bin() {
        for offset_ms in [-120i64, -33, 0, 80, 200, 450] {
            let (mut estimator, end) = estimator_with_offset(offset_ms, 8);
            let estimate = estimator.estimate(end).expect("an estimate");
            let error_ms = (estimate.offset_ns - offset_ms * MS as i64).abs() as f64 / 1e6;
            assert!(
                error_ms <= 5.0,
                "offset {offset_ms} ms estimated as {} ns",
                estimate.offset_ns
            );
            assert!(estimate.confidence > 0.5, "confidence {}", estimate.confidence);
        }
    }

    #[test]
    fn speech_windows_let_speech_onsets_outweigh_louder_off_screen_sounds() {
        // Flashes every second; 80 ms after each a spoken onset, and 400 ms before each a
        // louder knock that the picture does not show (and that is no speech, nor within the
        // padding a voice-activity model's late judgement gets).
        let feed = |estimator: &mut AvLagEstimator| {
            for frame in 0..8 * 30u64 {
                let value = if frame % 30 == 0 && frame > 0 { 1.0 } else { 0.0 };
                estimator.push_video(frame * 1_000_000_000 / 30, value);
            }
            for bin in 0..8 * 200u64 {
                let t = bin * 5 * MS;
                let phase_ms = (t / MS) % 1_000;
                let value = match phase_ms {
                    80..=85 => 6.0,
                    600..=605 => 10.0,
                    _ => 0.0,
                };
                estimator.push_audio(t, value);
            }
        };
        let mut plain = AvLagEstimator::new(LagConfig::default()).unwrap();
        feed(&mut plain);
        let fooled = plain.estimate(8_000 * MS).expect("an estimate");
        assert!(
            (fooled.offset_ns + 400 * MS as i64).abs() <= 5 * MS as i64,
            "without speech windows the knocks win: {} ns",
            fooled.offset_ns
        );

        let mut weighted = AvLagEstimator::new(LagConfig::default()).unwrap();
        feed(&mut weighted);
        for window in 0..8_000 / 32u64 {
            let start_ns = window * 32 * MS;
            let phase_ms = (start_ns / MS) % 1_000;
            let probability = if (40..160).contains(&phase_ms) { 0.95 } else { 0.02 };
            weighted.push_speech(SpeechWindow {
                start_ns,
                end_ns: start_ns + 32 * MS,
                probability,
            });
        }
        let estimate = weighted.estimate(8_000 * MS).expect("an estimate");
        assert!(
            (estimate.offset_ns - 80 * MS as i64).abs() <= 5 * MS as i64,
            "with speech windows the spoken onsets win: {} ns",
            estimate.offset_ns
        );
    }

    #[test]
    fn silence_or_a_still_picture_gives_no_estimate() {
        let mut still = AvLagEstimator::new(LagConfig::default()).unwrap();
        for i in 0..1000 {
            still.push_video(i * 33 * MS, 0.0);
            still.push_audio(i * 5 * MS, if i % 200 == 0 { 10.0 } else { 0.0 });
        }
        assert_eq!(still.estimate(6_000 * MS), None);

        let mut silent = AvLagEstimator::new(LagConfig::default()).unwrap();
        for i in 0..1000 {
            silent.push_video(i * 33 * MS, if i % 30 == 0 { 1.0 } else { 0.0 });
            silent.push_audio(i * 5 * MS, 0.0);
        }
        assert_eq!(silent.estimate(4_000 * MS), None);
    }

    #[test]
    fn memory_stays_bounded_on_a_long_stream() {
        let (mut estimator, _) = estimator_with_offset(40, 2);
        for second in 2..600u64 {
            for bin in 0..200 {
                estimator.push_audio(second * 1_000 * MS + bin * 5 * MS, 0.0);
            }
            estimator.push_video(second * 1_000 * MS, 1.0);
            estimator.estimate(second * 1_000 * MS);
        }
        assert!(
            estimator.audio.len() < 2_000,
            "audio samples kept: {}",
            estimator.audio.len()
        );
        for second in 0..600u64 {
            estimator.push_speech(SpeechWindow {
                start_ns: second * 1_000 * MS,
                end_ns: (second + 1) * 1_000 * MS,
                probability: 0.5,
            });
        }
        estimator.estimate(600_000 * MS);
        assert!(
            estimator.speech.len() < 10,
            "speech windows kept: {}",
            estimator.speech.len()
        );
    }
}
