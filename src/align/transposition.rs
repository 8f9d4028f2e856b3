//! A live performance in another key than the reference: from features laid out in pitch
//! (12-bin chroma, or bands a semitone apart: [`PitchLayout`]), estimates how many semitones the
//! live stream sits above the reference and moves live frames back, so that the aligner
//! compares like with like.
//!
//! The estimate compares pitch-class profiles (semitone bands folded onto their pitch classes):
//! the sum of the reference's frames against the sum of the live frames so far, under each of
//! the 12 rotations, by cosine. Each frame enters
//! as its pattern only (less its mean, at unit length): chroma carries a large share common to
//! every pitch class (noise, overtones) that would hide the key, and loud frames would outweigh
//! the rest. A key belongs
//! to the whole performance, so one global estimate, refined as the live stream goes on, is
//! enough; it moves only after `settle_frames` live frames and when another rotation correlates
//! well and beats the current one by a margin, so that a passage out of key does not flip it
//! back and forth and material without a key (speech) is left alone.

use super::{AlignError, FeatureMatrix};
use crate::features::{PitchLayout, PITCH_CLASSES};

/// How much more correlated another rotation must be before the estimate moves to it.
const SWITCH_MARGIN: f64 = 0.05;
/// How much better the chosen rotation must correlate than the two a semitone either side of
/// it (their mean), on semitone bands. A key is a sharp peak: moved by a semitone, a scale
/// shares few of its notes. A smooth spectral envelope without a key (speech, another voice)
/// correlates about as well a semitone either side, so the margin sits between music's peaks
/// and speech's. A log-compressed profile peaks less, so chroma, log-compressed too, is not
/// held to it.
const MIN_PEAK: f64 = 0.5;
/// How consistent the live frames' pitch-class patterns must be (the length of their summed
/// unit patterns per frame, 1 when all agree) before a rotation is taken at all, in standard
/// deviations of noise: noise has no key and its patterns cancel out (about 1/√n after n
/// frames), music's do not (0.2 to 0.6 after a few seconds).
const MIN_COHERENCE_SIGMAS: f64 = 3.0;

/// `semitones` above (0 to 11, as [`TranspositionTracker::semitones`] gives them) told the way
/// a musician would: up to five above, or up to six below (negative).
pub fn signed_semitones(semitones: usize) -> i32 {
    let up = (semitones % PITCH_CLASSES) as i32;
    if up < PITCH_CLASSES as i32 / 2 {
        up
    } else {
        up - PITCH_CLASSES as i32
    }
}

/// Live frames `follow --transposition` hears before its key estimate may leave 0: one second
/// at a 20 ms hop. The live stream is compared with the stretch of the reference it has been
/// placed in, so a second of music already shows its key against the same second of the
/// reference; frames compared in the wrong key meanwhile throw the tracker off, so the
/// estimate may move as soon as a second has shown the key.
pub const TRANSPOSITION_SETTLE_FRAMES: usize = 50;

/// Reference frames between two stored running sums of the reference's pitch-class patterns:
/// the profile of a stretch of the reference is known to within half a second at `follow`'s
/// 20 ms hop, in memory of 1/25 of a pattern per frame.
const PROFILE_STEP_FRAMES: usize = 25;

/// The transposition estimate and the move it implies.
///
/// On semitone bands, the live profile (its frames' pitch-class patterns summed) is compared
/// with the profile of the stretch of the reference the live stream has been placed in so far,
/// not of the whole reference: a piece's first minute need not show the key its whole does,
/// and against the whole piece's profile a modulating piece reads a key a third or a tritone
/// off until much of it has been heard.
#[derive(Debug, Clone)]
pub struct TranspositionTracker {
    layout: PitchLayout,
    /// `reference_sums[k]`: the patterns of the reference's frames before `k ×
    /// PROFILE_STEP_FRAMES` summed (the last entry: all of them).
    reference_sums: Vec<[f64; PITCH_CLASSES]>,
    /// The earliest and the furthest reference frame the live stream has been placed at.
    reached: Option<(usize, usize)>,
    live_profile: [f64; PITCH_CLASSES],
    frames: usize,
    settle_frames: usize,
    semitones: usize,
}

impl TranspositionTracker {
    /// A tracker against `reference`, whose frames are laid out as `layout` says; the estimate
    /// may leave 0 after `settle_frames` live frames.
    pub fn new(reference: &FeatureMatrix, settle_frames: usize, layout: PitchLayout) -> Result<Self, AlignError> {
        let fits = match layout {
            PitchLayout::Chroma => reference.dim() >= PITCH_CLASSES,
            PitchLayout::SemitoneBlocks { bands, blocks } => {
                bands >= PITCH_CLASSES && blocks > 0 && reference.dim() >= layout.dim()
            }
        };
        if !fits {
            return Err(AlignError::BadParameter {
                name: "transposition",
                expected: "features laid out in pitch (--audio-features chroma or semitone-flux)",
                actual: format!("{}-value features for {layout:?}", reference.dim()),
            });
        }
        let mut running = [0.0; PITCH_CLASSES];
        let mut reference_sums = vec![running];
        for k in 0..reference.len() {
            add_pattern(&mut running, &layout.pitch_classes(&reference.frame(k)));
            if (k + 1) % PROFILE_STEP_FRAMES == 0 || k + 1 == reference.len() {
                reference_sums.push(running);
            }
        }
        Ok(Self {
            layout,
            reference_sums,
            reached: None,
            live_profile: [0.0; PITCH_CLASSES],
            frames: 0,
            settle_frames,
            semitones: 0,
        })
    }

    /// Semitones the live stream is estimated to sit above the reference (0 to 11).
    pub fn semitones(&self) -> usize {
        self.semitones
    }

    /// How the frames lay out pitch.
    pub fn layout(&self) -> PitchLayout {
        self.layout
    }

    /// Takes a live frame and writes it to `out`, moved back to the reference's key.
    /// `placed_at` is the reference frame the live stream was placed at just before this frame
    /// (the start, before the first).
    pub fn push_frame(&mut self, frame: &[f32], placed_at: usize, out: &mut Vec<f32>) -> Result<(), AlignError> {
        if frame.len() < self.layout.dim() {
            return Err(AlignError::DimensionMismatch {
                expected: self.layout.dim(),
                actual: frame.len(),
            });
        }
        self.reached = Some(match self.reached {
            Some((earliest, furthest)) => (earliest.min(placed_at), furthest.max(placed_at)),
            None => (placed_at, placed_at),
        });
        add_pattern(&mut self.live_profile, &self.layout.pitch_classes(frame));
        self.frames += 1;
        if self.frames >= self.settle_frames {
            self.update_estimate();
        }
        self.layout.shift_down(frame, self.semitones, out);
        Ok(())
    }

    /// The summed patterns of the reference frames the live stream has been placed in, from
    /// the earliest to the furthest, widened to whole steps of the stored sums. On chroma, the
    /// whole reference's: chroma positions are too often wrong to say where the live stream
    /// is, and a stretch placed wrongly shows the wrong key.
    fn reached_profile(&self) -> [f64; PITCH_CLASSES] {
        let last = self.reference_sums.len() - 1;
        if self.layout == PitchLayout::Chroma {
            return self.reference_sums[last];
        }
        let (earliest, furthest) = self.reached.unwrap_or((0, 0));
        let from = &self.reference_sums[(earliest / PROFILE_STEP_FRAMES).min(last)];
        let to = &self.reference_sums[(furthest / PROFILE_STEP_FRAMES + 1).min(last)];
        std::array::from_fn(|k| to[k] - from[k])
    }

    /// Cosine of `reference_profile` and the live profile rotated back by `shift`.
    fn similarity(&self, reference_profile: &[f64; PITCH_CLASSES], shift: usize) -> f64 {
        let (mut dot, mut live_norm, mut reference_norm) = (0.0, 0.0, 0.0);
        for (k, &reference) in reference_profile.iter().enumerate() {
            let live = self.live_profile[(k + shift) % PITCH_CLASSES];
            dot += reference * live;
            live_norm += live * live;
            reference_norm += reference * reference;
        }
        let norms = (live_norm * reference_norm).sqrt();
        if norms > 0.0 {
            dot / norms
        } else {
            0.0
        }
    }

    /// How consistent the live patterns are: the summed patterns' length per frame.
    fn coherence(&self) -> f64 {
        self.live_profile.iter().map(|v| v * v).sum::<f64>().sqrt() / self.frames.max(1) as f64
    }

    fn update_estimate(&mut self) {
        let reference = self.reached_profile();
        let similarity = |shift: usize| self.similarity(&reference, shift);
        let current = similarity(self.semitones);
        let (best, best_similarity) = (0..PITCH_CLASSES).map(|shift| (shift, similarity(shift))).fold(
            (self.semitones, current),
            |best, candidate| {
                if candidate.1 > best.1 {
                    candidate
                } else {
                    best
                }
            },
        );
        let noise_level = 1.0 / (self.frames.max(1) as f64).sqrt();
        let neighbours =
            (similarity((best + 1) % PITCH_CLASSES) + similarity((best + PITCH_CLASSES - 1) % PITCH_CLASSES)) / 2.0;
        let peaks = self.layout == PitchLayout::Chroma || best_similarity - neighbours >= MIN_PEAK;
        if best_similarity > current + SWITCH_MARGIN && peaks && self.coherence() >= MIN_COHERENCE_SIGMAS * noise_level
        {
            self.semitones = best;
        }
    }
}

/// Adds a frame's pitch-class pattern (less its mean, at unit length) to `profile`; frames
/// without a pattern (silence, all alike) or with non-finite values add nothing.
fn add_pattern(profile: &mut [f64; PITCH_CLASSES], frame: &[f32; PITCH_CLASSES]) {
    if frame.iter().any(|v| !v.is_finite()) {
        return;
    }
    let mean = frame.iter().map(|&v| f64::from(v)).sum::<f64>() / PITCH_CLASSES as f64;
    let norm = frame.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>().sqrt();
    if norm <= f64::EPSILON {
        return;
    }
    for (sum, &value) in profile.iter_mut().zip(frame) {
        *sum += (f64::from(value) - mean) / norm;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chroma of a short tune in C major (pitch classes of its notes), one frame per note.
    fn tune(transpose: usize) -> Vec<f32> {
        let notes = [0usize, 4, 7, 4, 5, 9, 7, 11, 2, 7, 0, 4, 2, 0, 7, 5];
        let mut frames = Vec::new();
        for (i, &note) in notes.iter().cycle().take(400).enumerate() {
            let mut frame = [0.05f32; PITCH_CLASSES];
            frame[(note + transpose) % PITCH_CLASSES] = 1.0;
            frame[(note + 7 + transpose) % PITCH_CLASSES] = 0.3 + 0.1 * (i % 3) as f32;
            frames.extend_from_slice(&frame);
        }
        frames
    }

    #[test]
    fn semitones_are_told_up_to_five_above_or_six_below() {
        let told: Vec<i32> = (0..12).map(signed_semitones).collect();
        assert_eq!(told, [0, 1, 2, 3, 4, 5, -6, -5, -4, -3, -2, -1]);
    }

    #[test]
    fn finds_and_undoes_a_transposition() {
        let reference = FeatureMatrix::new(PITCH_CLASSES, tune(0)).unwrap();
        for semitones in [0usize, 1, 2, 10, 11] {
            let mut tracker = TranspositionTracker::new(&reference, 50, PitchLayout::Chroma).unwrap();
            let live = tune(semitones);
            let mut rotated = Vec::new();
            for (placed_at, frame) in live.chunks_exact(PITCH_CLASSES).enumerate() {
                tracker.push_frame(frame, placed_at, &mut rotated).unwrap();
            }
            assert_eq!(tracker.semitones(), semitones);
            assert_eq!(rotated.as_slice(), &*reference.frame(reference.len() - 1));
        }
    }

    /// The tune as two blocks (level, rise) of 36 semitone bands, `up` semitones higher.
    fn tune_in_bands(up: isize) -> Vec<f32> {
        const BANDS: usize = 36;
        let chroma = tune(0);
        let mut frames = Vec::new();
        for classes in chroma.chunks_exact(PITCH_CLASSES) {
            let mut block = [0.05f32; BANDS];
            for (class, &value) in classes.iter().enumerate() {
                if value > 0.05 {
                    block[(12 + class as isize + up) as usize] = value;
                }
            }
            frames.extend_from_slice(&block);
            frames.extend(block.iter().map(|v| v / 2.0));
        }
        frames
    }

    #[test]
    fn compares_semitone_bands_with_the_stretch_of_the_reference_the_live_stream_has_reached() {
        // The reference's first 200 frames are the tune in C, the 400 after it the tune in E:
        // the whole reference sounds more in E than in C.
        let layout = PitchLayout::SemitoneBlocks { bands: 36, blocks: 2 };
        let mut values = tune_in_bands(0)[..200 * 72].to_vec();
        values.extend_from_slice(&tune_in_bands(4));
        let reference = FeatureMatrix::new(72, values).unwrap();
        // The live stream plays the first 200 frames two semitones up.
        let mut tracker = TranspositionTracker::new(&reference, 50, layout).unwrap();
        let mut moved = Vec::new();
        for (placed_at, frame) in tune_in_bands(2)[..200 * 72].chunks_exact(72).enumerate() {
            tracker.push_frame(frame, placed_at, &mut moved).unwrap();
        }
        assert_eq!(tracker.semitones(), 2);
        // Against the whole reference the tune in E would win: two semitones down from it.
        tracker.reached = Some((0, reference.len() - 1));
        tracker.update_estimate();
        assert_eq!(tracker.semitones(), 10);
    }

    #[test]
    fn finds_and_undoes_a_transposition_of_semitone_bands() {
        let layout = PitchLayout::SemitoneBlocks { bands: 36, blocks: 2 };
        let reference = FeatureMatrix::new(72, tune_in_bands(0)).unwrap();
        for up in [-2isize, -1, 0, 1, 2] {
            let mut tracker = TranspositionTracker::new(&reference, 50, layout).unwrap();
            let mut moved = Vec::new();
            for (placed_at, frame) in tune_in_bands(up).chunks_exact(72).enumerate() {
                tracker.push_frame(frame, placed_at, &mut moved).unwrap();
            }
            assert_eq!(tracker.semitones(), up.rem_euclid(12) as usize, "{up} semitones up");
            assert_eq!(
                moved.as_slice(),
                &*reference.frame(reference.len() - 1),
                "{up} semitones up"
            );
        }
    }

    #[test]
    fn semitone_bands_shift_within_each_block_and_leave_the_rest() {
        let layout = PitchLayout::SemitoneBlocks { bands: 3, blocks: 2 };
        let frame = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 9.0];
        let mut out = Vec::new();
        layout.shift_down(&frame, 1, &mut out);
        assert_eq!(out, [2.0, 3.0, 1.0, 5.0, 6.0, 4.0, 9.0]);
        layout.shift_down(&frame, 11, &mut out);
        assert_eq!(out, [1.0, 1.0, 2.0, 4.0, 4.0, 5.0, 9.0]);
        PitchLayout::Chroma.shift_down(&tune(0)[..12], 0, &mut out);
        assert_eq!(out, &tune(0)[..12]);
    }

    #[test]
    fn leaves_material_without_a_key_alone() {
        let reference = FeatureMatrix::new(PITCH_CLASSES, tune(0)).unwrap();
        let mut tracker = TranspositionTracker::new(&reference, 10, PitchLayout::Chroma).unwrap();
        let mut state = 7u64;
        let mut rotated = Vec::new();
        for placed_at in 0..400 {
            let frame: Vec<f32> = (0..PITCH_CLASSES)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 1000) as f32 / 1000.0
                })
                .collect();
            tracker.push_frame(&frame, placed_at, &mut rotated).unwrap();
        }
        assert_eq!(tracker.semitones(), 0);
    }

    #[test]
    fn refuses_features_that_are_not_chroma() {
        let reference = FeatureMatrix::new(3, vec![0.0; 6]).unwrap();
        assert!(TranspositionTracker::new(&reference, 10, PitchLayout::Chroma).is_err());
        let reference = FeatureMatrix::new(PITCH_CLASSES, tune(0)).unwrap();
        let mut tracker = TranspositionTracker::new(&reference, 10, PitchLayout::Chroma).unwrap();
        assert!(tracker.push_frame(&[1.0; 5], 0, &mut Vec::new()).is_err());
    }
}
