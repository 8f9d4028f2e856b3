//! Speech weights for the A/V lag estimator: the probability of speech over time (from a
//! voice-activity model such as Silero VAD), as a weight per audio envelope sample, so that
//! onsets in speech — which the speaker's face shows — count more than music or off-screen
//! noise, which the picture does not.
//!
//! A voice-activity model is sure of speech only some way into a word, while the onset that
//! matters is the word's first sound; so a sample weighs by the most probable speech in a span
//! reaching [`SpeechWeights::PAD_AFTER_NS`] after it (and [`SpeechWeights::PAD_BEFORE_NS`]
//! before, for the word's last sounds), as voice-activity detectors pad their segments.
//!
//! This module owns the speech windows and the lookup only; what the weights multiply is the
//! estimator's business.

use std::collections::VecDeque;

/// The probability of speech over one span of audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeechWindow {
    /// Running time of the window's first sample.
    pub start_ns: u64,
    /// Running time just after its last sample.
    pub end_ns: u64,
    /// Probability of speech in [0, 1] (values outside are clamped).
    pub probability: f32,
}

/// Speech windows in time order, and the weight they give.
#[derive(Debug, Clone)]
pub struct SpeechWeights {
    windows: VecDeque<SpeechWindow>,
    non_speech_weight: f32,
}

impl SpeechWeights {
    /// How far after a sample the model's judgement still counts for it.
    pub const PAD_AFTER_NS: u64 = 250_000_000;
    /// How far before a sample the model's judgement still counts for it.
    pub const PAD_BEFORE_NS: u64 = 100_000_000;

    /// No windows yet; audio where the model hears no speech will weigh `non_speech_weight`
    /// (speech weighs 1).
    pub fn new(non_speech_weight: f32) -> Self {
        Self {
            windows: VecDeque::new(),
            non_speech_weight,
        }
    }

    /// Adds a window after the others; one that starts before the latest window's start is a
    /// timestamp glitch and is dropped, as the envelopes drop theirs.
    pub fn push(&mut self, window: SpeechWindow) {
        if self.windows.back().is_none_or(|last| last.start_ns < window.start_ns) {
            self.windows.push_back(window);
        }
    }

    /// Whether any window has come: without one, every sample weighs 1.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Appends to `weights` one weight per time of `times_ns`, which must not decrease: the
    /// weight of the most probable speech in the windows that overlap the padded span around
    /// the time. A time no window reaches (far beyond the last window, which the model has not
    /// finished yet, or in a gap) takes the nearest later or the last window's weight.
    pub fn weights_at(&self, times_ns: impl Iterator<Item = u64>, weights: &mut Vec<f32>) {
        if self.windows.is_empty() {
            weights.extend(times_ns.map(|_| 1.0));
            return;
        }
        let mut first = 0;
        for time_ns in times_ns {
            let span_start_ns = time_ns.saturating_sub(Self::PAD_BEFORE_NS);
            let span_end_ns = time_ns.saturating_add(Self::PAD_AFTER_NS);
            while first + 1 < self.windows.len() && self.windows[first].end_ns <= span_start_ns {
                first += 1;
            }
            let probability = self
                .windows
                .range(first..)
                .take_while(|w| w.start_ns < span_end_ns)
                .map(|w| w.probability)
                .reduce(f32::max)
                .unwrap_or(self.windows[first].probability);
            weights.push(self.weight(probability));
        }
    }

    /// Drops windows that end before `time_ns`, keeping the latest so that later samples
    /// still have a weight.
    pub fn forget_before(&mut self, time_ns: u64) {
        while self.windows.len() > 1 && self.windows.front().is_some_and(|w| w.end_ns < time_ns) {
            self.windows.pop_front();
        }
    }

    /// Windows kept.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    fn weight(&self, probability: f32) -> f32 {
        let p = probability.clamp(0.0, 1.0);
        self.non_speech_weight + (1.0 - self.non_speech_weight) * p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start_ms: u64, probability: f32) -> SpeechWindow {
        SpeechWindow {
            start_ns: start_ms * 1_000_000,
            end_ns: (start_ms + 32) * 1_000_000,
            probability,
        }
    }

    #[test]
    fn samples_weigh_by_the_likeliest_speech_around_them() {
        let mut speech = SpeechWeights::new(0.25);
        let mut weights = Vec::new();
        speech.weights_at([0, 5].into_iter(), &mut weights);
        assert_eq!(
            weights,
            vec![1.0, 1.0],
            "no model output yet: every sample counts fully"
        );

        // Silence until 320 ms, speech until 640 ms, then unsure.
        for start_ms in (0..960).step_by(32) {
            let probability = match start_ms {
                0..320 => 0.0,
                320..640 => 1.0,
                _ => 0.5,
            };
            speech.push(window(start_ms, probability));
        }
        speech.push(window(40, 1.0));
        assert_eq!(speech.len(), 30, "a window out of order is dropped");
        weights.clear();
        let ms = |t: u64| t * 1_000_000;
        let times = [0, 70, 71, 320, 739, 740, 900, 5_000];
        speech.weights_at(times.into_iter().map(ms), &mut weights);
        // 71 ms is the first sample whose span (to 321 ms) reaches the speech; 740 ms the first
        // whose span (from 640 ms) has left it.
        assert_eq!(weights, vec![0.25, 0.25, 1.0, 1.0, 1.0, 0.625, 0.625, 0.625]);

        speech.forget_before(ms(40));
        assert_eq!(speech.len(), 29);
        speech.forget_before(ms(1_000));
        assert_eq!(speech.len(), 1, "the latest window stays");
    }
}
