//! Chroma energy normalised statistics (CENS, Müller, Kurth & Clausen 2005): a recording's
//! pitch classes made coarse on purpose, so that another performance of the same piece looks
//! alike and another piece by the same performers does not.
//!
//! Each frame's pitch classes ([`PitchLayout::pitch_classes`], on chroma the values above the
//! frame's quietest raised to the fourth power, as the key estimate weighs them) are scaled to
//! sum 1 and quantised to five levels (below 0.05, 0.1, 0.2, 0.4, above): a timbre's overtones
//! and a singer's vibrato move small shares, which the coarse levels ignore. The levels are
//! then averaged over a short Hann window and taken every `hop_frames`: what is left is the
//! course of the harmony, which is the piece's, at a tenth of the frames. Rows are scaled to
//! unit length for the cosine distance.
//!
//! This module only computes the statistics; searching with them is [`super::locate`]'s.

use super::{AlignError, FeatureMatrix};
use crate::features::{PitchLayout, PITCH_CLASSES};

/// How coarse the statistics are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CensConfig {
    /// Frames of the Hann window the levels are averaged over.
    pub window_frames: usize,
    /// Frames between two statistics.
    pub hop_frames: usize,
}

impl Default for CensConfig {
    /// At `follow`'s 20 ms frames: a 0.3 s window every 0.1 s. Müller's audio matching
    /// smooths over seconds for whole pieces; snippets of a few seconds need statistics short
    /// enough that a few seconds still hold a path of them, and the quantisation, not the
    /// smoothing, is what leaves the performers out.
    fn default() -> Self {
        Self {
            window_frames: 15,
            hop_frames: 5,
        }
    }
}

/// Shares of a frame's pitch-class energy from which each quantisation level starts.
const LEVEL_FROM: [f32; 4] = [0.05, 0.1, 0.2, 0.4];
/// Below this total a frame counts as silent: its levels are all 0.
const SILENT_TOTAL: f32 = 1e-9;

/// The statistics of `features` (pitch laid out as `layout`), one row of twelve values every
/// `config.hop_frames` frames, centred on frames `0, hop, 2·hop, …`.
pub fn cens(features: &FeatureMatrix, layout: PitchLayout, config: CensConfig) -> Result<FeatureMatrix, AlignError> {
    if config.window_frames == 0 || config.hop_frames == 0 {
        return Err(AlignError::BadParameter {
            name: "cens",
            expected: "a window and a hop of at least one frame",
            actual: format!("{config:?}"),
        });
    }
    let mut levels = Vec::with_capacity(features.len() * PITCH_CLASSES);
    let mut scratch = Vec::new();
    for k in 0..features.len() {
        levels.extend_from_slice(&quantised(layout, features.frame_in(k, &mut scratch)));
    }
    let window = hann(config.window_frames);
    let half = config.window_frames / 2;
    let mut rows = Vec::with_capacity(features.len().div_ceil(config.hop_frames) * PITCH_CLASSES);
    for centre in (0..features.len()).step_by(config.hop_frames) {
        let mut row = [0.0f32; PITCH_CLASSES];
        let first = centre.saturating_sub(half);
        let last = (centre + half).min(features.len() - 1);
        for k in first..=last {
            let weight = window[k + half - centre];
            for (value, level) in row.iter_mut().zip(&levels[k * PITCH_CLASSES..(k + 1) * PITCH_CLASSES]) {
                *value += weight * level;
            }
        }
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        } else {
            // Silence throughout the window: the flat row, equally far from every harmony.
            row = [1.0 / (PITCH_CLASSES as f32).sqrt(); PITCH_CLASSES];
        }
        rows.extend_from_slice(&row);
    }
    FeatureMatrix::new(PITCH_CLASSES, rows)
}

/// A frame's pitch classes as shares of their sum, quantised to levels 0 to 4.
fn quantised(layout: PitchLayout, frame: &[f32]) -> [f32; PITCH_CLASSES] {
    let mut classes = match layout {
        PitchLayout::Chroma => {
            let quietest = frame[..PITCH_CLASSES].iter().copied().fold(f32::INFINITY, f32::min);
            let mut classes = [0.0f32; PITCH_CLASSES];
            for (class, &value) in classes.iter_mut().zip(&frame[..PITCH_CLASSES]) {
                *class = (value - quietest).powi(4);
            }
            classes
        }
        PitchLayout::SemitoneBlocks { .. } => layout.pitch_classes(frame),
    };
    let total: f32 = classes.iter().sum();
    for class in classes.iter_mut() {
        let share = if total > SILENT_TOTAL { *class / total } else { 0.0 };
        *class = LEVEL_FROM.iter().filter(|&&from| share >= from).count() as f32;
    }
    classes
}

/// A Hann window of `frames` weights, none of them 0.
fn hann(frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|k| {
            let phase = std::f32::consts::PI * (k as f32 + 1.0) / (frames as f32 + 1.0);
            phase.sin().powi(2)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chroma_frames(classes: &[usize], frames_each: usize, loudness: f32) -> FeatureMatrix {
        let mut rows = Vec::new();
        for &class in classes {
            for _ in 0..frames_each {
                let mut row = [0.1f32; PITCH_CLASSES];
                row[class] = loudness;
                row[(class + 7) % PITCH_CLASSES] = 0.8 * loudness;
                rows.extend_from_slice(&row);
            }
        }
        FeatureMatrix::new(PITCH_CLASSES, rows).unwrap()
    }

    #[test]
    fn one_row_every_hop_at_unit_length() {
        let features = chroma_frames(&[0, 4, 7, 0], 30, 1.0);
        let config = CensConfig {
            window_frames: 21,
            hop_frames: 10,
        };
        let statistics = cens(&features, PitchLayout::Chroma, config).unwrap();
        assert_eq!(statistics.len(), 12);
        for k in 0..statistics.len() {
            let norm: f32 = statistics.frame(k).iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "row {k}: {norm}");
        }
        // The first row holds the first chord's C and G, and nothing of E.
        let first = statistics.frame(0);
        assert!(first[0] > first[7] && first[7] > 0.0 && first[4] == 0.0, "{first:?}");
    }

    #[test]
    fn loudness_and_small_shares_do_not_change_the_statistics() {
        let config = CensConfig::default();
        let soft = cens(&chroma_frames(&[0, 5, 7, 0], 60, 0.6), PitchLayout::Chroma, config).unwrap();
        let loud = cens(&chroma_frames(&[0, 5, 7, 0], 60, 0.9), PitchLayout::Chroma, config).unwrap();
        for k in 0..soft.len() {
            let cosine: f32 = soft.frame(k).iter().zip(loud.frame(k).iter()).map(|(a, b)| a * b).sum();
            assert!(cosine > 0.99, "row {k}: {cosine}");
        }
    }

    #[test]
    fn silence_is_the_flat_row_and_a_zero_window_is_refused() {
        let silent = FeatureMatrix::new(PITCH_CLASSES, vec![0.3; PITCH_CLASSES * 40]).unwrap();
        let statistics = cens(&silent, PitchLayout::Chroma, CensConfig::default()).unwrap();
        let flat = 1.0 / (PITCH_CLASSES as f32).sqrt();
        assert!(statistics.frame(0).iter().all(|&v| (v - flat).abs() < 1e-6));
        let zero = CensConfig {
            window_frames: 0,
            hop_frames: 10,
        };
        assert!(cens(&silent, PitchLayout::Chroma, zero).is_err());
    }
}
