//! The video side of the region estimator: the picture's mean brightness in a grid of blocks,
//! one row per frame, turned into signals that follow what a sound source does.
//!
//! - A frame whose blocks equal the previous frame's is a repeated frame (cameras and encoders
//!   repeat frames when they fall behind) and carries no new moment: it is left out.
//! - Each block is compared with the mean of its eight neighbours (the edge repeated at the
//!   picture's border). Light that changes over the whole picture, or a head that moves as a
//!   whole, moves a block and its neighbours alike and cancels; a mouth that opens inside its
//!   block does not.
//! - A first-order high-pass (the value minus its exponential moving average) keeps changes of
//!   syllables and words and drops slow drift, as the audio side does.

use super::super::AlignError;

/// Blocks whose brightness changes by less than this (luma in [0, 1]) from the previous frame
/// mark a repeated frame.
const REPEATED_FRAME_CHANGE: f32 = 1e-4;

/// How the picture is cut into blocks: `columns` × `rows`, row by row from the top left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockGrid {
    /// Blocks across.
    pub columns: usize,
    /// Blocks down.
    pub rows: usize,
}

impl BlockGrid {
    /// Blocks in the grid.
    pub fn blocks(&self) -> usize {
        self.columns * self.rows
    }
}

/// One frame's block signals, ready for the estimator.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct BlockRow {
    /// Running time of the frame.
    pub time_ns: u64,
    /// One signal per block, in grid order.
    pub values: Vec<f32>,
}

/// Turns rows of block brightness into block signals.
#[derive(Debug, Clone)]
pub(super) struct BlockSignals {
    grid: BlockGrid,
    high_pass_ns: f64,
    /// The last frame that was not a repeat, as given, and its time.
    previous: Option<(u64, Vec<f32>)>,
    /// Moving averages of the spatially high-passed values.
    averages: Vec<f32>,
    /// The shortest time seen between two frames that were not repeats.
    frame_period_ns: Option<u64>,
    contrast: Vec<f32>,
}

impl BlockSignals {
    pub(super) fn new(grid: BlockGrid, high_pass_ns: u64) -> Self {
        Self {
            grid,
            high_pass_ns: high_pass_ns as f64,
            previous: None,
            averages: Vec::new(),
            frame_period_ns: None,
            contrast: Vec::with_capacity(grid.blocks()),
        }
    }

    /// The time one frame stands for: the shortest seen between two new frames.
    pub(super) fn frame_period_ns(&self) -> Option<u64> {
        self.frame_period_ns
    }

    /// The signals of the frame at `time_ns` with block brightness `blocks` (luma in [0, 1]),
    /// or `None` for a repeated frame or one out of time order.
    pub(super) fn push(&mut self, time_ns: u64, blocks: &[f32]) -> Result<Option<BlockRow>, AlignError> {
        if blocks.len() != self.grid.blocks() {
            return Err(AlignError::DimensionMismatch {
                expected: self.grid.blocks(),
                actual: blocks.len(),
            });
        }
        if let Some((previous_ns, previous)) = &self.previous {
            if time_ns <= *previous_ns {
                return Ok(None);
            }
            let repeated = previous
                .iter()
                .zip(blocks)
                .all(|(a, b)| (a - b).abs() < REPEATED_FRAME_CHANGE);
            if repeated {
                return Ok(None);
            }
            let period = time_ns - previous_ns;
            self.frame_period_ns = Some(self.frame_period_ns.map_or(period, |p| p.min(period)));
        }
        self.local_contrast(blocks);
        let alpha = match &self.previous {
            Some((previous_ns, _)) if !self.averages.is_empty() => {
                1.0 - (-((time_ns - previous_ns) as f64) / self.high_pass_ns).exp() as f32
            }
            _ => {
                self.averages.clone_from(&self.contrast);
                0.0
            }
        };
        let values = self
            .contrast
            .iter()
            .zip(self.averages.iter_mut())
            .map(|(&value, average)| {
                *average += alpha * (value - *average);
                value - *average
            })
            .collect();
        match &mut self.previous {
            Some((previous_ns, previous)) => {
                *previous_ns = time_ns;
                previous.copy_from_slice(blocks);
            }
            None => self.previous = Some((time_ns, blocks.to_vec())),
        }
        Ok(Some(BlockRow { time_ns, values }))
    }

    /// Each block less the mean of its eight neighbours, into `self.contrast`.
    fn local_contrast(&mut self, blocks: &[f32]) {
        let BlockGrid { columns, rows } = self.grid;
        let at = |row: usize, column: usize| blocks[row * columns + column];
        self.contrast.clear();
        for row in 0..rows {
            for column in 0..columns {
                let mut sum = 0.0;
                for dy in [-1isize, 0, 1] {
                    for dx in [-1isize, 0, 1] {
                        if dx == 0 && dy == 0 {
                            continue;
                        }
                        let r = row.saturating_add_signed(dy).min(rows - 1);
                        let c = column.saturating_add_signed(dx).min(columns - 1);
                        sum += at(r, c);
                    }
                }
                self.contrast.push(at(row, column) - sum / 8.0);
            }
        }
    }

    /// Forgets the previous frame and the moving averages (after an outage).
    pub(super) fn clear(&mut self) {
        self.previous = None;
        self.averages.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: BlockGrid = BlockGrid { columns: 4, rows: 3 };
    const FRAME_NS: u64 = 33_333_333;

    #[test]
    fn light_over_the_whole_picture_cancels_and_one_block_does_not() {
        let mut signals = BlockSignals::new(GRID, 500_000_000);
        let flat = vec![0.5; 12];
        signals.push(0, &flat).unwrap();
        let brighter = vec![0.8; 12];
        let row = signals.push(FRAME_NS, &brighter).unwrap().unwrap();
        assert!(row.values.iter().all(|v| v.abs() < 1e-6), "{:?}", row.values);
        let mut mouth = brighter.clone();
        mouth[5] = 0.3;
        let row = signals.push(2 * FRAME_NS, &mouth).unwrap().unwrap();
        let strongest = row
            .values
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert_eq!(strongest, 5);
    }

    #[test]
    fn repeated_frames_are_left_out_and_do_not_shorten_the_frame_period() {
        let mut signals = BlockSignals::new(GRID, 500_000_000);
        let mut frame = vec![0.5; 12];
        assert!(signals.push(0, &frame).unwrap().is_some());
        assert!(signals.push(FRAME_NS, &frame).unwrap().is_none());
        frame[3] = 0.6;
        assert!(signals.push(2 * FRAME_NS, &frame).unwrap().is_some());
        assert_eq!(signals.frame_period_ns(), Some(2 * FRAME_NS));
        frame[3] = 0.7;
        signals.push(3 * FRAME_NS, &frame).unwrap();
        assert_eq!(signals.frame_period_ns(), Some(FRAME_NS));
    }

    #[test]
    fn a_steady_difference_fades_with_the_high_pass() {
        let mut signals = BlockSignals::new(GRID, 500_000_000);
        let mut frame = vec![0.5; 12];
        frame[0] = 0.9;
        let mut last = None;
        for i in 0..200u64 {
            frame[11] = if i % 2 == 0 { 0.5 } else { 0.5001 + 0.001 };
            last = signals.push(i * FRAME_NS, &frame).unwrap();
        }
        let values = last.unwrap().values;
        assert!(values[0].abs() < 1e-3, "{}", values[0]);
    }

    #[test]
    fn a_frame_of_the_wrong_size_is_refused() {
        let mut signals = BlockSignals::new(GRID, 500_000_000);
        assert_eq!(
            signals.push(0, &[0.0; 5]),
            Err(AlignError::DimensionMismatch {
                expected: 12,
                actual: 5
            })
        );
    }
}
