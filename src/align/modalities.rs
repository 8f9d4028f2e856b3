//! Costs over several modalities at once: audio and video features (or any other blocks)
//! compared with weights.
//!
//! A frame of several modalities is one vector made of blocks. [`Modalities::combine`] lays the
//! blocks out each scaled to unit length times `sqrt(weight / 2)`, so that the squared
//! Euclidean distance between two combined frames is the weighted sum of the blocks' cosine
//! distances: `Σ w · (1 − cos)`, since `‖â − b̂‖² = 2 (1 − cos)` for unit vectors. Every aligner
//! then works on combined frames unchanged, with [`Distance::SquaredEuclidean`], and the fast
//! kernels serve the mixed cost too. A block of zeros (silence, a black picture) stays zeros:
//! half its weight away from any other block, nothing away from another silent one.

use super::{inverse_norm, AlignError, Distance};

/// One block of a frame's features and how much it counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Modality {
    /// What the block is, for messages (e.g. `audio`, `video`).
    pub name: String,
    /// Values in the block.
    pub dim: usize,
    /// Weight of the block's cosine distance in the combined cost (at least 0).
    pub weight: f32,
}

/// The blocks of a combined frame, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Modalities {
    blocks: Vec<Modality>,
    scales: Vec<f32>,
}

impl Modalities {
    /// The layout of frames made of `blocks`; each needs at least one value and a finite weight
    /// of at least 0, and at least one weight must be above 0.
    pub fn new(blocks: Vec<Modality>) -> Result<Self, AlignError> {
        let bad = |expected, actual: String| {
            Err(AlignError::BadParameter {
                name: "modality weights",
                expected,
                actual,
            })
        };
        if let Some(empty) = blocks.iter().find(|m| m.dim == 0) {
            return bad(
                "blocks of at least one value",
                format!("'{}' with 0 values", empty.name),
            );
        }
        if let Some(wrong) = blocks.iter().find(|m| !(m.weight.is_finite() && m.weight >= 0.0)) {
            return bad(
                "finite and at least 0",
                format!("{} for '{}'", wrong.weight, wrong.name),
            );
        }
        if !blocks.iter().any(|m| m.weight > 0.0) {
            return bad("above 0 for at least one modality", "all 0".to_owned());
        }
        let scales = blocks.iter().map(|m| (m.weight / 2.0).sqrt()).collect();
        Ok(Self { blocks, scales })
    }

    /// Values in a combined frame.
    pub fn dim(&self) -> usize {
        self.blocks.iter().map(|m| m.dim).sum()
    }

    /// The distance that, on combined frames, is the weighted sum of the blocks' cosine distances.
    pub fn distance(&self) -> Distance {
        Distance::SquaredEuclidean
    }

    /// Appends to `out` the combined frame of `parts`, one slice per block in order.
    pub fn combine(&self, parts: &[&[f32]], out: &mut Vec<f32>) -> Result<(), AlignError> {
        if parts.len() != self.blocks.len() {
            return Err(AlignError::BadParameter {
                name: "modality blocks",
                expected: "one slice per modality",
                actual: format!("{} slices for {} modalities", parts.len(), self.blocks.len()),
            });
        }
        for ((part, block), &scale) in parts.iter().zip(&self.blocks).zip(&self.scales) {
            if part.len() != block.dim {
                return Err(AlignError::DimensionMismatch {
                    expected: block.dim,
                    actual: part.len(),
                });
            }
            let factor = scale * inverse_norm(part);
            out.extend(part.iter().map(|&value| value * factor));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::{cosine_distance, dtw_distance, FeatureMatrix, StepWeights, SubsequenceSearch};
    use proptest::prelude::*;

    fn audio_video(audio_weight: f32, video_weight: f32) -> Modalities {
        Modalities::new(vec![
            Modality {
                name: "audio".into(),
                dim: 3,
                weight: audio_weight,
            },
            Modality {
                name: "video".into(),
                dim: 2,
                weight: video_weight,
            },
        ])
        .unwrap()
    }

    proptest! {
        /// The combined frames' distance is the weighted sum of the blocks' cosine distances.
        #[test]
        fn combined_distance_is_the_weighted_cosine_sum(
            a in proptest::collection::vec(0.1f32..2.0, 5),
            b in proptest::collection::vec(0.1f32..2.0, 5),
            weights in (0.0f32..3.0, 0.1f32..3.0),
        ) {
            let modalities = audio_video(weights.0, weights.1);
            let (mut ca, mut cb) = (Vec::new(), Vec::new());
            modalities.combine(&[&a[..3], &a[3..]], &mut ca).unwrap();
            modalities.combine(&[&b[..3], &b[3..]], &mut cb).unwrap();
            let expected = weights.0 * cosine_distance(&a[..3], &b[..3]) + weights.1 * cosine_distance(&a[3..], &b[3..]);
            let got = modalities.distance().between(&ca, &cb);
            prop_assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
        }
    }

    #[test]
    fn video_settles_what_audio_alone_cannot() {
        // The reference's audio repeats one three-frame figure; its video changes scene every 40
        // frames. A snippet of the reference (frames 120..200) matches the audio equally well
        // every three frames; with the video it matches in one place only.
        let audio = |i: usize| -> [f32; 3] {
            let mut v = [0.1; 3];
            v[i % 3] = 1.0;
            v
        };
        let video = |i: usize| -> [f32; 2] {
            let scene = (i / 40) as f32;
            [scene.cos() + 1.5, scene.sin() + 1.5]
        };
        let combined = |modalities: &Modalities, range: std::ops::Range<usize>| {
            let mut rows = Vec::new();
            for i in range {
                modalities.combine(&[&audio(i), &video(i)], &mut rows).unwrap();
            }
            FeatureMatrix::new(modalities.dim(), rows).unwrap()
        };
        let exact_matches = |modalities: &Modalities| -> Vec<usize> {
            let snippet = combined(modalities, 120..200);
            (0..100)
                .map(|m| 3 * m)
                .filter(|&start| {
                    let span = combined(modalities, start..start + 80);
                    dtw_distance(&snippet, &span, modalities.distance(), StepWeights::default()).unwrap() < 1e-4
                })
                .collect()
        };
        assert_eq!(exact_matches(&audio_video(1.0, 1.0)), vec![120]);
        assert!(exact_matches(&audio_video(1.0, 0.0)).len() > 10);
        // And the search over the whole reference finds it.
        let modalities = audio_video(1.0, 1.0);
        let reference = combined(&modalities, 0..400);
        let mut search = SubsequenceSearch::new(combined(&modalities, 120..200), modalities.distance()).unwrap();
        for k in 0..reference.len() {
            search.push_frame(&reference.frame(k)).unwrap();
        }
        let found = search.best().unwrap();
        assert_eq!((found.start, found.end), (120, 199));
    }

    #[test]
    fn bad_layouts_and_frames_are_refused() {
        let zero_dim = Modality {
            name: "audio".into(),
            dim: 0,
            weight: 1.0,
        };
        assert!(Modalities::new(vec![zero_dim]).is_err());
        let silent = |name: &str| Modality {
            name: name.into(),
            dim: 2,
            weight: 0.0,
        };
        assert!(Modalities::new(vec![silent("audio"), silent("video")]).is_err());
        assert!(Modalities::new(vec![]).is_err());
        let modalities = audio_video(1.0, 0.5);
        let mut out = Vec::new();
        assert!(modalities.combine(&[&[1.0, 2.0, 3.0]], &mut out).is_err());
        assert!(matches!(
            modalities.combine(&[&[1.0, 2.0, 3.0], &[1.0]], &mut out),
            Err(AlignError::DimensionMismatch { expected: 2, actual: 1 })
        ));
    }
}
