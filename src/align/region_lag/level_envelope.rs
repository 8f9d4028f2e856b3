//! The audio side of the region estimator: the stream's loudness, one sample per audio hop,
//! floored, high-passed, and read back as averages over spans (a video frame's span, moved by a
//! lag).
//!
//! Loudness is log power (natural log). Everything more than `range` below the loudest recent
//! sound, or below an absolute silence level, is raised to that floor, so room tone and codec
//! noise in pauses read as one flat silence, which the picture's stillness in pauses can match. A first-order high-pass (the
//! level minus its exponential moving average) then keeps syllables and words and drops slow
//! changes of loudness, as the video side does with slow changes of light.
//!
//! Averages over a span come from a running integral, so every span costs two lookups whatever
//! its length. A gap in the samples (more than two hops) starts a new contiguous run; spans
//! reaching before the run's start have no value.

use std::collections::VecDeque;

/// How fast the loudest recent level falls when nothing louder comes: 1 dB a second, in
/// natural-log power per nanosecond (10 dB = ln 10).
const PEAK_FALL_PER_NS: f64 = std::f64::consts::LN_10 / 10.0 / 1e9;

/// Sound below this is silence whatever the loudest recent level: -65 dB of full-scale power,
/// below the hiss of a quiet room through a microphone, in natural-log power.
const SILENCE_LOG_POWER: f64 = -6.5 * std::f64::consts::LN_10;

/// Floored, high-passed loudness with a running integral.
#[derive(Debug, Clone)]
pub(super) struct LevelEnvelope {
    /// How far below the loudest recent level the floor lies, in natural-log power.
    range: f64,
    high_pass_ns: f64,
    /// The loudest recent level and when it was seen.
    peak: Option<(u64, f64)>,
    /// The moving average the high-pass subtracts.
    average: Option<f64>,
    /// Time between consecutive samples, once two have come.
    hop_ns: Option<u64>,
    /// Sample times (centres) and the integral of the envelope up to each sample's end.
    samples: VecDeque<(u64, f64)>,
    /// The integral at the start of the first kept sample.
    integral_before: f64,
    /// Index into `samples` where the current contiguous run starts (after a gap).
    run_start: usize,
}

impl LevelEnvelope {
    /// An empty envelope; `range_db` is the floor's distance below the loudest recent level.
    pub(super) fn new(range_db: f32, high_pass_ns: u64) -> Self {
        Self {
            range: f64::from(range_db) * std::f64::consts::LN_10 / 10.0,
            high_pass_ns: high_pass_ns as f64,
            peak: None,
            average: None,
            hop_ns: None,
            samples: VecDeque::new(),
            integral_before: 0.0,
            run_start: 0,
        }
    }

    /// Adds the level (natural-log power) of the hop centred at `time_ns`; times must rise.
    pub(super) fn push(&mut self, time_ns: u64, log_power: f32) {
        let previous = self.samples.back().map(|&(t, _)| t);
        if previous.is_some_and(|t| time_ns <= t) || !log_power.is_finite() {
            return;
        }
        let level = f64::from(log_power);
        let gap = match (previous, self.hop_ns) {
            (Some(t), None) => {
                self.hop_ns = Some(time_ns - t);
                false
            }
            (Some(t), Some(hop)) => time_ns - t > 2 * hop,
            (None, _) => false,
        };
        let peak = match self.peak {
            Some((seen_ns, peak)) => {
                let fallen = peak - PEAK_FALL_PER_NS * time_ns.saturating_sub(seen_ns) as f64;
                if level >= fallen {
                    (time_ns, level)
                } else {
                    (seen_ns, peak)
                }
            }
            None => (time_ns, level),
        };
        self.peak = Some(peak);
        let floor =
            (peak.1 - PEAK_FALL_PER_NS * time_ns.saturating_sub(peak.0) as f64 - self.range).max(SILENCE_LOG_POWER);
        let floored = level.max(floor);
        let average = match (self.average, previous) {
            (Some(average), Some(t)) if !gap => {
                let alpha = 1.0 - (-((time_ns - t) as f64) / self.high_pass_ns).exp();
                average + alpha * (floored - average)
            }
            _ => floored,
        };
        self.average = Some(average);
        let value = floored - average;
        let hop = self.hop_ns.unwrap_or(0) as f64;
        let integral = self.samples.back().map_or(self.integral_before, |&(_, i)| i);
        if gap {
            self.run_start = self.samples.len();
        }
        self.samples.push_back((time_ns, integral + value * hop));
    }

    /// The average of the envelope over `[start_ns, end_ns]` (signed nanoseconds, so that a
    /// span moved by a negative lag may begin before zero); `None` where the span is not
    /// covered by one contiguous run of samples.
    ///
    /// `cursor` is a hint: the index of the first sample whose end lies after `start_ns`, as a
    /// previous call for an earlier span left it. Callers that read spans in rising order pass
    /// the same cursor each time, so the lookups walk forward instead of searching.
    pub(super) fn average_over(&self, start_ns: i64, end_ns: i64, cursor: &mut usize) -> Option<f64> {
        let hop = self.hop_ns? as i64;
        if end_ns <= start_ns {
            return None;
        }
        let run_begin = self.sample_start(self.run_start)?;
        let run_end = self.samples.back().map(|&(t, _)| t as i64 + hop / 2)?;
        if start_ns < run_begin || end_ns > run_end {
            return None;
        }
        let at_start = self.integral_at(start_ns, hop, cursor);
        let mut end_cursor = *cursor;
        let at_end = self.integral_at(end_ns, hop, &mut end_cursor);
        Some((at_end - at_start) / (end_ns - start_ns) as f64)
    }

    /// Start of the sample at `index` (its centre less half a hop).
    fn sample_start(&self, index: usize) -> Option<i64> {
        let hop = self.hop_ns? as i64;
        self.samples.get(index).map(|&(t, _)| t as i64 - hop / 2)
    }

    /// The running integral at `time_ns`, within the kept samples, linear within a sample.
    fn integral_at(&self, time_ns: i64, hop: i64, cursor: &mut usize) -> f64 {
        let len = self.samples.len();
        *cursor = (*cursor).min(len.saturating_sub(1));
        // Back up if the hint overshot, then walk to the sample holding `time_ns`.
        while *cursor > 0 && (self.samples[*cursor].0 as i64 - hop / 2) > time_ns {
            *cursor -= 1;
        }
        while *cursor + 1 < len && (self.samples[*cursor].0 as i64 + hop / 2) <= time_ns {
            *cursor += 1;
        }
        let (centre, end_integral) = self.samples[*cursor];
        let begin_integral = match *cursor {
            0 => self.integral_before,
            i => self.samples[i - 1].1,
        };
        let start = centre as i64 - hop / 2;
        let fraction = ((time_ns - start) as f64 / hop as f64).clamp(0.0, 1.0);
        begin_integral + (end_integral - begin_integral) * fraction
    }

    /// Drops the samples that end before `time_ns`.
    pub(super) fn forget_before(&mut self, time_ns: u64) {
        let hop = self.hop_ns.unwrap_or(0);
        while self.samples.front().is_some_and(|&(t, _)| t + hop / 2 < time_ns) {
            if let Some((_, integral)) = self.samples.pop_front() {
                self.integral_before = integral;
            }
            self.run_start = self.run_start.saturating_sub(1);
        }
    }

    /// Forgets everything, the loudness history included (after an outage).
    pub(super) fn clear(&mut self) {
        self.peak = None;
        self.average = None;
        self.hop_ns = None;
        self.samples.clear();
        self.integral_before = 0.0;
        self.run_start = 0;
    }

    /// Samples kept (for memory checks).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn averages_of_a_steady_tone_are_zero_after_the_high_pass_settles() {
        let mut envelope = LevelEnvelope::new(40.0, 500 * MS);
        for i in 0..1_000u64 {
            envelope.push(i * 5 * MS, -3.0);
        }
        let mut cursor = 0;
        let average = envelope
            .average_over(4_000_000_000, 4_033_000_000, &mut cursor)
            .unwrap();
        assert!(average.abs() < 1e-9, "{average}");
    }

    #[test]
    fn a_burst_reads_positive_over_its_span_and_nothing_outside_the_samples() {
        let mut envelope = LevelEnvelope::new(40.0, 500 * MS);
        for i in 0..400u64 {
            let t = i * 5 * MS;
            let loud = (1_000 * MS..1_100 * MS).contains(&t);
            envelope.push(t, if loud { 0.0 } else { -20.0 });
        }
        let mut cursor = 0;
        let inside = envelope
            .average_over(1_020_000_000, 1_080_000_000, &mut cursor)
            .unwrap();
        let before = envelope.average_over(700_000_000, 760_000_000, &mut cursor).unwrap();
        assert!(inside > 5.0, "burst {inside}");
        assert!(before.abs() < 1.0, "before {before}");
        assert_eq!(envelope.average_over(-10_000_000, 20_000_000, &mut 0), None);
        assert_eq!(envelope.average_over(1_990_000_000, 2_100_000_000, &mut 0), None);
    }

    #[test]
    fn levels_far_below_the_loudest_are_floored() {
        let mut loud_pause = LevelEnvelope::new(40.0, 500 * MS);
        let mut quiet_pause = LevelEnvelope::new(40.0, 500 * MS);
        for i in 0..600u64 {
            let t = i * 5 * MS;
            let speech = i < 100;
            // Pauses 60 and 90 dB below the speech: both under the 40 dB floor.
            loud_pause.push(t, if speech { 0.0 } else { -6.0 * std::f32::consts::LN_10 });
            quiet_pause.push(t, if speech { 0.0 } else { -9.0 * std::f32::consts::LN_10 });
        }
        let (mut a, mut b) = (0, 0);
        let one = loud_pause.average_over(2_000_000_000, 2_500_000_000, &mut a).unwrap();
        let two = quiet_pause.average_over(2_000_000_000, 2_500_000_000, &mut b).unwrap();
        assert!((one - two).abs() < 1e-9, "{one} against {two}");
    }

    #[test]
    fn a_gap_starts_a_new_run() {
        let mut envelope = LevelEnvelope::new(40.0, 500 * MS);
        for i in 0..100u64 {
            envelope.push(i * 5 * MS, 0.0);
        }
        for i in 200..300u64 {
            envelope.push(i * 5 * MS, 0.0);
        }
        assert_eq!(envelope.average_over(480_000_000, 1_020_000_000, &mut 0), None);
        assert!(envelope.average_over(1_020_000_000, 1_100_000_000, &mut 0).is_some());
    }

    #[test]
    fn forgetting_keeps_later_averages() {
        let mut envelope = LevelEnvelope::new(40.0, 500 * MS);
        for i in 0..400u64 {
            envelope.push(i * 5 * MS, ((i % 37) as f32) * -0.1);
        }
        let mut cursor = 0;
        let before = envelope
            .average_over(1_500_000_000, 1_600_000_000, &mut cursor)
            .unwrap();
        envelope.forget_before(1_000_000_000);
        assert!(envelope.len() < 210);
        let mut cursor = 0;
        let after = envelope
            .average_over(1_500_000_000, 1_600_000_000, &mut cursor)
            .unwrap();
        assert!((before - after).abs() < 1e-9);
        assert_eq!(envelope.average_over(900_000_000, 1_100_000_000, &mut 0), None);
    }
}
