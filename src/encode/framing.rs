//! Cutting a stream of audio samples into overlapping frames (windows) with times.
//!
//! Frame `k` of a run of contiguous samples starts `k · hop` samples after the run's first
//! sample and is timed at its centre sample. A gap or jump in the input timestamps (more than
//! half a hop away from where the next sample was expected) starts a new run, so frames never
//! straddle a discontinuity. An encoder whose lowest bands need a longer window than the
//! frame's asks for history: each frame then comes with the samples before it (zeros before
//! its run's first sample), and is timed and counted as without it, so no frame comes later.

use super::EncodeError;

/// Sample rate, frame length and hop of an audio encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFrameParams {
    /// Sample rate the encoder expects.
    pub rate_hz: u32,
    /// Samples per frame (the FFT size).
    pub frame_len: usize,
    /// Samples between the starts of consecutive frames.
    pub hop_len: usize,
    /// Samples before each frame that come with it, for encoders that look further back than
    /// one frame (0 for most): a frame carries [`Self::span_len`] samples, its own last.
    pub history_len: usize,
}

impl AudioFrameParams {
    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), EncodeError> {
        let bad = |name, value: usize, expected| EncodeError::BadParameter {
            name,
            value: value.to_string(),
            expected,
        };
        if self.rate_hz == 0 {
            return Err(bad("rate_hz", 0, "above 0"));
        }
        if self.frame_len < 2 {
            return Err(bad("frame_len", self.frame_len, "at least 2 samples"));
        }
        if self.hop_len == 0 || self.hop_len > self.frame_len {
            return Err(bad("hop_len", self.hop_len, "between 1 and the frame length"));
        }
        Ok(())
    }

    /// Samples each frame carries: its history, then the frame.
    pub fn span_len(&self) -> usize {
        self.history_len + self.frame_len
    }

    /// True when frames framed by `self` and by `other` are cut and timed alike, history aside
    /// (which the encoder that asks for it implies).
    pub fn windows_match(&self, other: &Self) -> bool {
        (self.rate_hz, self.frame_len, self.hop_len) == (other.rate_hz, other.frame_len, other.hop_len)
    }

    /// Time between consecutive frames.
    pub fn hop_ns(&self) -> f64 {
        self.hop_len as f64 * 1e9 / f64::from(self.rate_hz)
    }

    /// Time from a frame's first sample to its centre.
    pub fn centre_offset_ns(&self) -> f64 {
        (self.frame_len as f64 - 1.0) / 2.0 * 1e9 / f64::from(self.rate_hz)
    }
}

/// Accumulates samples and hands out complete frames.
#[derive(Debug)]
pub struct AudioFramer {
    params: AudioFrameParams,
    pending: Vec<f32>,
    run_start_ns: u64,
    samples_consumed: u64,
    expected_next_ns: Option<u64>,
}

impl AudioFramer {
    /// A framer with no samples yet.
    pub fn new(params: AudioFrameParams) -> Result<Self, EncodeError> {
        params.validate()?;
        Ok(Self {
            params,
            pending: Vec::new(),
            run_start_ns: 0,
            samples_consumed: 0,
            expected_next_ns: None,
        })
    }

    /// The framing settings.
    pub fn params(&self) -> AudioFrameParams {
        self.params
    }

    /// Adds `samples` whose first sample plays at `start_ns`, and appends every frame that is now
    /// complete to `frames` (row-major, `span_len` values each: its history, then the frame) and
    /// its centre time to `times_ns`.
    pub fn push(&mut self, start_ns: u64, samples: &[f32], frames: &mut Vec<f32>, times_ns: &mut Vec<u64>) {
        let rate = f64::from(self.params.rate_hz);
        let half_hop_ns = (self.params.hop_ns() / 2.0) as u64;
        let continuous = self
            .expected_next_ns
            .is_some_and(|expected| expected.abs_diff(start_ns) <= half_hop_ns);
        if !continuous {
            // A run's first frames look back at silence.
            self.pending.clear();
            self.pending.resize(self.params.history_len, 0.0);
            self.run_start_ns = start_ns;
            self.samples_consumed = 0;
        }
        self.pending.extend_from_slice(samples);
        self.expected_next_ns = Some(start_ns + (samples.len() as f64 * 1e9 / rate).round() as u64);

        // `pending` starts with the history before the run's first sample, so a span starting at
        // `offset` holds the frame whose first sample is the run's `samples_consumed + offset`.
        let (span_len, hop) = (self.params.span_len(), self.params.hop_len);
        let mut offset = 0;
        while offset + span_len <= self.pending.len() {
            frames.extend_from_slice(&self.pending[offset..offset + span_len]);
            let first_sample = self.samples_consumed + offset as u64;
            let time = self.run_start_ns as f64 + first_sample as f64 * 1e9 / rate + self.params.centre_offset_ns();
            times_ns.push(time.round() as u64);
            offset += hop;
        }
        self.pending.drain(..offset);
        self.samples_consumed += offset as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: AudioFrameParams = AudioFrameParams {
        rate_hz: 1_000,
        frame_len: 4,
        hop_len: 2,
        history_len: 0,
    };

    #[test]
    fn frames_overlap_by_the_hop_and_are_timed_at_their_centre() {
        let mut framer = AudioFramer::new(PARAMS).unwrap();
        let (mut frames, mut times) = (Vec::new(), Vec::new());
        framer.push(0, &[0.0, 1.0, 2.0], &mut frames, &mut times);
        assert!(frames.is_empty());
        framer.push(3_000_000, &[3.0, 4.0, 5.0, 6.0], &mut frames, &mut times);
        assert_eq!(frames, vec![0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(times, vec![1_500_000, 3_500_000]);
    }

    #[test]
    fn a_gap_starts_a_new_run() {
        let mut framer = AudioFramer::new(PARAMS).unwrap();
        let (mut frames, mut times) = (Vec::new(), Vec::new());
        framer.push(0, &[0.0, 1.0, 2.0], &mut frames, &mut times);
        framer.push(100_000_000, &[5.0, 6.0, 7.0, 8.0], &mut frames, &mut times);
        assert_eq!(frames, vec![5.0, 6.0, 7.0, 8.0]);
        assert_eq!(times, vec![101_500_000]);
    }

    #[test]
    fn history_comes_before_each_frame_without_moving_it() {
        let mut framer = AudioFramer::new(AudioFrameParams {
            history_len: 3,
            ..PARAMS
        })
        .unwrap();
        let (mut frames, mut times) = (Vec::new(), Vec::new());
        framer.push(0, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut frames, &mut times);
        assert_eq!(
            frames,
            vec![0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
        assert_eq!(times, vec![1_500_000, 3_500_000], "timed as frames without history");
        // A gap: the new run's first frame looks back at silence, not at the old run.
        frames.clear();
        times.clear();
        framer.push(100_000_000, &[7.0, 8.0, 9.0, 10.0], &mut frames, &mut times);
        assert_eq!(frames, vec![0.0, 0.0, 0.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(times, vec![101_500_000]);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(AudioFramer::new(AudioFrameParams { hop_len: 0, ..PARAMS }).is_err());
        assert!(AudioFramer::new(AudioFrameParams {
            frame_len: 4,
            hop_len: 8,
            rate_hz: 1,
            history_len: 0,
        })
        .is_err());
    }
}
