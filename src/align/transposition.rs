//! A live performance in another key than the reference: from 12-bin chroma, estimates how many
//! semitones the live stream sits above the reference and rotates live frames back, so that the
//! aligner compares like with like.
//!
//! The estimate compares pitch-class profiles: the sum of the reference's frames against the
//! sum of the live frames so far, under each of the 12 rotations, by cosine. Each frame enters
//! as its pattern only (less its mean, at unit length): chroma carries a large share common to
//! every pitch class (noise, overtones) that would hide the key, and loud frames would outweigh
//! the rest. A key belongs
//! to the whole performance, so one global estimate, refined as the live stream goes on, is
//! enough; it moves only after `settle_frames` live frames and when another rotation correlates
//! well and beats the current one by a margin, so that a passage out of key does not flip it
//! back and forth and material without a key (speech) is left alone.

use super::{AlignError, FeatureMatrix};

/// Pitch classes in a chroma frame.
pub(super) const PITCH_CLASSES: usize = 12;
/// How much more correlated another rotation must be before the estimate moves to it.
const SWITCH_MARGIN: f64 = 0.05;
/// How consistent the live frames' pitch-class patterns must be (the length of their summed
/// unit patterns per frame, 1 when all agree) before a rotation is taken at all, in standard
/// deviations of noise: noise has no key and its patterns cancel out (about 1/√n after n
/// frames), music's do not (0.2 to 0.6 after a few seconds).
const MIN_COHERENCE_SIGMAS: f64 = 3.0;

/// The transposition estimate and the rotation it implies.
#[derive(Debug, Clone)]
pub struct TranspositionTracker {
    reference_profile: [f64; PITCH_CLASSES],
    live_profile: [f64; PITCH_CLASSES],
    frames: usize,
    settle_frames: usize,
    semitones: usize,
}

impl TranspositionTracker {
    /// A tracker against `reference`, whose frames must be 12-bin chroma; the estimate may leave
    /// 0 after `settle_frames` live frames.
    pub fn new(reference: &FeatureMatrix, settle_frames: usize) -> Result<Self, AlignError> {
        if reference.dim() != PITCH_CLASSES {
            return Err(AlignError::BadParameter {
                name: "transposition",
                expected: "12-bin chroma features (--audio-features chroma)",
                actual: format!("{}-value features", reference.dim()),
            });
        }
        let mut reference_profile = [0.0; PITCH_CLASSES];
        for k in 0..reference.len() {
            add_pattern(&mut reference_profile, &reference.frame(k));
        }
        Ok(Self {
            reference_profile,
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

    /// Takes a live chroma frame and writes it to `out`, rotated back to the reference's key.
    pub fn push_frame(&mut self, frame: &[f32], out: &mut Vec<f32>) -> Result<(), AlignError> {
        if frame.len() != PITCH_CLASSES {
            return Err(AlignError::DimensionMismatch {
                expected: PITCH_CLASSES,
                actual: frame.len(),
            });
        }
        add_pattern(&mut self.live_profile, frame);
        self.frames += 1;
        if self.frames >= self.settle_frames {
            self.update_estimate();
        }
        rotate_down(frame, self.semitones, out);
        Ok(())
    }

    /// Cosine of the reference profile and the live profile rotated back by `shift`.
    fn similarity(&self, shift: usize) -> f64 {
        let (mut dot, mut live_norm, mut reference_norm) = (0.0, 0.0, 0.0);
        for (k, &reference) in self.reference_profile.iter().enumerate() {
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
        let current = self.similarity(self.semitones);
        let (best, best_similarity) = (0..PITCH_CLASSES).map(|shift| (shift, self.similarity(shift))).fold(
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
        if best_similarity > current + SWITCH_MARGIN && self.coherence() >= MIN_COHERENCE_SIGMAS * noise_level {
            self.semitones = best;
        }
    }
}

/// Writes the chroma `frame` to `out` moved down by `semitones` (pitch class k of `out` is
/// pitch class k + `semitones` of `frame`).
pub(super) fn rotate_down(frame: &[f32], semitones: usize, out: &mut Vec<f32>) {
    out.clear();
    out.extend((0..frame.len()).map(|k| frame[(k + semitones) % frame.len()]));
}

/// Adds a chroma frame's pattern (less its mean, at unit length) to `profile`; frames without a
/// pattern (silence, all alike) or with non-finite values add nothing.
fn add_pattern(profile: &mut [f64; PITCH_CLASSES], frame: &[f32]) {
    if frame.len() != PITCH_CLASSES || frame.iter().any(|v| !v.is_finite()) {
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
    fn finds_and_undoes_a_transposition() {
        let reference = FeatureMatrix::new(PITCH_CLASSES, tune(0)).unwrap();
        for semitones in [0usize, 1, 2, 10, 11] {
            let mut tracker = TranspositionTracker::new(&reference, 50).unwrap();
            let live = tune(semitones);
            let mut rotated = Vec::new();
            for frame in live.chunks_exact(PITCH_CLASSES) {
                tracker.push_frame(frame, &mut rotated).unwrap();
            }
            assert_eq!(tracker.semitones(), semitones);
            assert_eq!(rotated.as_slice(), &*reference.frame(reference.len() - 1));
        }
    }

    #[test]
    fn leaves_material_without_a_key_alone() {
        let reference = FeatureMatrix::new(PITCH_CLASSES, tune(0)).unwrap();
        let mut tracker = TranspositionTracker::new(&reference, 10).unwrap();
        let mut state = 7u64;
        let mut rotated = Vec::new();
        for _ in 0..400 {
            let frame: Vec<f32> = (0..PITCH_CLASSES)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 1000) as f32 / 1000.0
                })
                .collect();
            tracker.push_frame(&frame, &mut rotated).unwrap();
        }
        assert_eq!(tracker.semitones(), 0);
    }

    #[test]
    fn refuses_features_that_are_not_chroma() {
        let reference = FeatureMatrix::new(3, vec![0.0; 6]).unwrap();
        assert!(TranspositionTracker::new(&reference, 10).is_err());
        let reference = FeatureMatrix::new(PITCH_CLASSES, tune(0)).unwrap();
        let mut tracker = TranspositionTracker::new(&reference, 10).unwrap();
        assert!(tracker.push_frame(&[1.0; 5], &mut Vec::new()).is_err());
    }
}
