//! `logmel-flux` rows made from rows of log-mel bands: each frame's level beside its rise since
//! the frame before (the half-wave rectified spectral difference Dixon's tracker compared), the
//! two scaled together to unit length.
//!
//! This is the part of `logmel-flux` that remembers its stream (the previous frame), kept apart
//! from the log-mel bands so that a worker encodes the bands of all its streams in one batch and
//! each stream then takes its own rise. The reference is encoded through the same code, so live
//! and reference rows are alike. It works on plain rows: no tensors, no devices.

use super::audio_encoder::StreamRows;

/// One stream's level-and-rise rows over consecutive rows of log-mel bands.
#[derive(Debug, Clone)]
pub struct LevelAndRise {
    bands: usize,
    rise_weight: f32,
    floor: f32,
    /// The bands of the frame before; empty before the first frame.
    previous: Vec<f32>,
}

impl LevelAndRise {
    /// Rows of `bands` log-mel values become `2 · bands` values: the level and the rise weighted
    /// `rise_weight`, each plus `floor` (so that silence is the flat row, not a zero one), then
    /// scaled to unit length.
    pub fn new(bands: usize, rise_weight: f32, floor: f32) -> Self {
        Self {
            bands,
            rise_weight,
            floor,
            previous: Vec::with_capacity(bands),
        }
    }

    fn push_row(&mut self, level: &[f32], out: &mut Vec<f32>) {
        if self.previous.is_empty() {
            // The first frame has nothing before it: it is compared with itself (no rise).
            self.previous.extend_from_slice(level);
        }
        let start = out.len();
        out.extend(level.iter().map(|&value| value + self.floor));
        out.extend(
            level
                .iter()
                .zip(&self.previous)
                .map(|(&now, &before)| self.rise_weight * (now - before).max(0.0) + self.floor),
        );
        self.previous.copy_from_slice(level);
        let row = &mut out[start..];
        let norm = row.iter().map(|value| value * value).sum::<f32>().sqrt().max(1e-6);
        row.iter_mut().for_each(|value| *value /= norm);
    }
}

impl StreamRows for LevelAndRise {
    fn dim(&self) -> usize {
        2 * self.bands
    }

    fn push_rows(&mut self, rows: &[f32], out: &mut Vec<f32>) {
        for level in rows.chunks_exact(self.bands.max(1)) {
            self.push_row(level, out);
        }
    }

    fn reset(&mut self) {
        self.previous.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(rise: &mut LevelAndRise, rows: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        rise.push_rows(rows, &mut out);
        out
    }

    #[test]
    fn rows_are_level_then_rise_at_unit_length() {
        let mut rise = LevelAndRise::new(2, 2.0, 1.0);
        let out = rows_of(&mut rise, &[0.0, 3.0, 1.0, 2.0]);
        assert_eq!(out.len(), 8);
        // First frame: level + 1 = (1, 4), no rise: (1, 1); second: (2, 3) and (2·1 + 1, 1).
        let expected = [[1.0, 4.0, 1.0, 1.0], [2.0, 3.0, 3.0, 1.0]];
        for (row, expected) in out.chunks_exact(4).zip(expected) {
            let norm = expected.iter().map(|v: &f32| v * v).sum::<f32>().sqrt();
            for (value, want) in row.iter().zip(expected) {
                assert!((value - want / norm).abs() < 1e-6, "{row:?} against {expected:?}");
            }
        }
    }

    #[test]
    fn batches_join_without_a_seam_and_reset_starts_afresh() {
        let rows = [0.5, 1.0, 2.0, 0.0, 3.0, 4.0, 1.0, 1.0];
        let whole = rows_of(&mut LevelAndRise::new(2, 2.0, 1.0), &rows);
        let mut parts = LevelAndRise::new(2, 2.0, 1.0);
        let mut joined = rows_of(&mut parts, &rows[..2]);
        joined.extend(rows_of(&mut parts, &rows[2..]));
        assert_eq!(whole, joined);
        parts.reset();
        let again = rows_of(&mut parts, &rows);
        assert_eq!(whole, again);
    }
}
