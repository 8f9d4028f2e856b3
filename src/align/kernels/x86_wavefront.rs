//! The cost of full DTW with AVX2 and FMA, computed as a wavefront over 16 live rows at a time.
//!
//! Lane k of the first register holds live row i0+k at reference frame t−k, lane k of the second
//! holds row i0+8+k at t−8−k. At step t every lane's cell needs only cells of steps t−1 and t−2
//! (the cell to its left in the same lane, the cells above and diagonally above one lane lower),
//! so 16 cells advance per step with no dependency between them, where a row-by-row loop waits
//! on the cell to its left for every cell.
//!
//! The local distances come first, [`CHUNK`] reference frames at a time, from a small
//! matrix-product kernel: 16 live rows (two registers) against 4 reference frames (broadcast),
//! so each value loaded serves 8 or 4 multiply-adds and every load is aligned to its data.
//! The wavefront then reads them diagonally, one lane from each of the last 8 frames, with
//! blends. Local distances of frames before the first are infinite, which keeps the ramp at the
//! start of each block off the path.
//!
//! Unsafe code is limited to loads and stores whose bounds follow from the layout (stated at
//! each), and to calling the `target_feature` function after the dispatcher has detected AVX2
//! and FMA.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_blend_ps, _mm256_loadu_ps, _mm256_min_ps, _mm256_mul_ps, _mm256_permutevar8x32_ps,
    _mm256_set1_ps, _mm256_setr_epi32, _mm256_setzero_ps, _mm256_storeu_ps,
};

use super::x86_panels::{accumulate, finish, COSINE, EUCLIDEAN, MANHATTAN, SQUARED_EUCLIDEAN};
use super::PANEL_FRAMES;
use crate::align::{Distance, FeatureMatrix, StepWeights};

/// Live rows per block: two registers of 8 lanes.
const ROWS: usize = 2 * PANEL_FRAMES;
/// Reference frames whose distances to the block are computed before the wavefront reads them.
const CHUNK: usize = 128;
/// Reference frames per pass of the distance kernel.
const FRAMES_PER_PASS: usize = 4;

/// The distances from a block's 16 live rows to one reference frame.
type TileColumn = [f32; ROWS];

/// See [`super::full_dtw_cost`]; the caller has checked the processor. Both sequences must be
/// non-empty and of the same dimension.
pub(super) fn full_dtw_cost(
    live: &FeatureMatrix,
    reference: &FeatureMatrix,
    distance: Distance,
    weights: StepWeights,
) -> f32 {
    // SAFETY: the dispatcher calls this only after detecting AVX2 and FMA.
    unsafe {
        match distance {
            Distance::Euclidean => wavefront::<EUCLIDEAN>(live, reference, weights),
            Distance::SquaredEuclidean => wavefront::<SQUARED_EUCLIDEAN>(live, reference, weights),
            Distance::Manhattan => wavefront::<MANHATTAN>(live, reference, weights),
            Distance::Cosine => wavefront::<COSINE>(live, reference, weights),
        }
    }
}

#[target_feature(enable = "avx2,fma")]
fn wavefront<const METRIC: u8>(live: &FeatureMatrix, reference: &FeatureMatrix, w: StepWeights) -> f32 {
    let (rows, cols) = (live.len(), reference.len());
    assert!(rows > 0 && cols > 0 && live.dim() == reference.dim());
    // Costs of the row above the block at `j + 1`; infinite outside the reference (and, for
    // the first block, everywhere: row −1 does not exist).
    let mut above = vec![f32::INFINITY; cols + ROWS + CHUNK + 1];
    let steps = cols + ROWS - 1;
    let mut trace = vec![[0.0f32; ROWS]; steps.next_multiple_of(CHUNK)];
    // Entry `ROWS + j − chunk_start` holds reference frame j's distances; the first ROWS entries
    // carry the previous chunk's last frames (infinite before the first chunk).
    let mut tile = vec![[f32::INFINITY; ROWS]; ROWS + CHUNK];
    let mut live_panels = [
        vec![0.0f32; reference.dim() * PANEL_FRAMES],
        vec![0.0f32; reference.dim() * PANEL_FRAMES],
    ];
    let rotate_up = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
    let infinity = _mm256_set1_ps(f32::INFINITY);
    let weights = [
        _mm256_set1_ps(w.live),
        _mm256_set1_ps(w.diagonal),
        _mm256_set1_ps(w.reference),
    ];

    for first_row in (0..rows).step_by(ROWS) {
        let [low, high] = &mut live_panels;
        live.copy_panel(first_row / PANEL_FRAMES, low);
        live.copy_panel(first_row / PANEL_FRAMES + 1, high);
        let panels = [low.as_slice(), high.as_slice()];
        let live_norms: [f32; ROWS] = std::array::from_fn(|lane| {
            let row = first_row + lane;
            if row < rows {
                live.frame_inverse_norm(row)
            } else {
                0.0
            }
        });
        tile[..ROWS].fill([f32::INFINITY; ROWS]);
        let mut left = [infinity; 2];
        let mut diagonal = [infinity; 2];
        for chunk_start in (0..steps).step_by(CHUNK) {
            tile_distances::<METRIC>(panels, &live_norms, reference, chunk_start, &mut tile[ROWS..]);
            for step in chunk_start..chunk_start + CHUNK {
                let costs = diagonal_costs(&tile, ROWS + step - chunk_start);
                let rotated = [
                    _mm256_permutevar8x32_ps(left[0], rotate_up),
                    _mm256_permutevar8x32_ps(left[1], rotate_up),
                ];
                let up = [
                    _mm256_blend_ps::<1>(rotated[0], _mm256_set1_ps(above[step + 1])),
                    _mm256_blend_ps::<1>(rotated[1], rotated[0]),
                ];
                for r in 0..2 {
                    let through_up = _mm256_add_ps(up[r], _mm256_mul_ps(weights[0], costs[r]));
                    let through_diagonal = _mm256_add_ps(diagonal[r], _mm256_mul_ps(weights[1], costs[r]));
                    let through_left = _mm256_add_ps(left[r], _mm256_mul_ps(weights[2], costs[r]));
                    left[r] = _mm256_min_ps(_mm256_min_ps(through_up, through_diagonal), through_left);
                    diagonal[r] = up[r];
                }
                if first_row == 0 && step == 0 {
                    // The path starts at (0, 0) with the bare local distance.
                    left[0] = _mm256_blend_ps::<1>(left[0], costs[0]);
                }
                let lanes = &mut trace[step];
                // SAFETY: `lanes` holds 16 values.
                unsafe {
                    _mm256_storeu_ps(lanes.as_mut_ptr(), left[0]);
                    _mm256_storeu_ps(lanes.as_mut_ptr().add(PANEL_FRAMES), left[1]);
                }
            }
            tile.copy_within(CHUNK..CHUNK + ROWS, 0);
        }
        // The block's last row becomes the row above the next block.
        let last = (rows - first_row).min(ROWS) - 1;
        for j in 0..cols {
            above[j + 1] = trace[j + last][last];
        }
    }
    above[cols]
}

/// Writes to `out[c]` the distances from the block's live rows (two panels) to reference frame
/// `chunk_start + c`, for the CHUNK frames of the chunk. Frames past the reference's end get
/// the last frame's distances: no cell on the path reads them.
#[target_feature(enable = "avx2,fma")]
fn tile_distances<const METRIC: u8>(
    panels: [&[f32]; 2],
    live_norms: &[f32; ROWS],
    reference: &FeatureMatrix,
    chunk_start: usize,
    out: &mut [TileColumn],
) {
    let (dim, last) = (reference.dim(), reference.len() - 1);
    assert!(out.len() >= CHUNK && panels.iter().all(|panel| panel.len() == dim * PANEL_FRAMES));
    // SAFETY: `live_norms` holds 16 values.
    let live_norms = unsafe {
        [
            _mm256_loadu_ps(live_norms.as_ptr()),
            _mm256_loadu_ps(live_norms.as_ptr().add(8)),
        ]
    };
    for pass in (0..CHUNK).step_by(FRAMES_PER_PASS) {
        let mut frames = [0usize; FRAMES_PER_PASS];
        for (f, frame) in frames.iter_mut().enumerate() {
            *frame = (chunk_start + pass + f).min(last);
        }
        let values = [
            reference.frame(frames[0]),
            reference.frame(frames[1]),
            reference.frame(frames[2]),
            reference.frame(frames[3]),
        ];
        let mut sums = [[_mm256_setzero_ps(); FRAMES_PER_PASS]; 2];
        // `k` indexes the panels and four reference frames at once.
        #[allow(clippy::needless_range_loop)]
        for k in 0..dim {
            // SAFETY: each panel holds `dim · 8` values (asserted above). No closures here:
            // they would not inherit this function's target features and would not inline.
            let q = unsafe {
                [
                    _mm256_loadu_ps(panels[0].as_ptr().add(k * PANEL_FRAMES)),
                    _mm256_loadu_ps(panels[1].as_ptr().add(k * PANEL_FRAMES)),
                ]
            };
            for f in 0..FRAMES_PER_PASS {
                let v = _mm256_set1_ps(values[f][k]);
                sums[0][f] = accumulate::<METRIC>(sums[0][f], q[0], v);
                sums[1][f] = accumulate::<METRIC>(sums[1][f], q[1], v);
            }
        }
        for (f, &frame) in frames.iter().enumerate() {
            let reference_norm = _mm256_set1_ps(reference.frame_inverse_norm(frame));
            let column = &mut out[pass + f];
            for (r, lanes) in column.chunks_exact_mut(PANEL_FRAMES).enumerate() {
                let distances = finish::<METRIC>(sums[r][f], _mm256_mul_ps(live_norms[r], reference_norm));
                // SAFETY: `lanes` holds 8 values.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), distances) };
            }
        }
    }
}

/// The local distances of the wavefront's cells at tile entry `at`: lane k of the first register
/// from entry `at − k`, lane k of the second from entry `at − 8 − k` (its rows 8..16).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn diagonal_costs(tile: &[TileColumn], at: usize) -> [__m256; 2] {
    assert!(at >= ROWS - 1 && at < tile.len());
    let base = tile.as_ptr().cast::<f32>();
    let low = |entry: usize| base.wrapping_add(entry * ROWS);
    let high = |entry: usize| base.wrapping_add(entry * ROWS + PANEL_FRAMES);
    // SAFETY: every entry read is in `at − 15 ..= at` (asserted above) and each pointer has 8
    // values after it.
    unsafe {
        let mut first = _mm256_loadu_ps(low(at));
        first = _mm256_blend_ps::<0b0000_0010>(first, _mm256_loadu_ps(low(at - 1)));
        first = _mm256_blend_ps::<0b0000_0100>(first, _mm256_loadu_ps(low(at - 2)));
        first = _mm256_blend_ps::<0b0000_1000>(first, _mm256_loadu_ps(low(at - 3)));
        first = _mm256_blend_ps::<0b0001_0000>(first, _mm256_loadu_ps(low(at - 4)));
        first = _mm256_blend_ps::<0b0010_0000>(first, _mm256_loadu_ps(low(at - 5)));
        first = _mm256_blend_ps::<0b0100_0000>(first, _mm256_loadu_ps(low(at - 6)));
        first = _mm256_blend_ps::<0b1000_0000>(first, _mm256_loadu_ps(low(at - 7)));
        let mut second = _mm256_loadu_ps(high(at - 8));
        second = _mm256_blend_ps::<0b0000_0010>(second, _mm256_loadu_ps(high(at - 9)));
        second = _mm256_blend_ps::<0b0000_0100>(second, _mm256_loadu_ps(high(at - 10)));
        second = _mm256_blend_ps::<0b0000_1000>(second, _mm256_loadu_ps(high(at - 11)));
        second = _mm256_blend_ps::<0b0001_0000>(second, _mm256_loadu_ps(high(at - 12)));
        second = _mm256_blend_ps::<0b0010_0000>(second, _mm256_loadu_ps(high(at - 13)));
        second = _mm256_blend_ps::<0b0100_0000>(second, _mm256_loadu_ps(high(at - 14)));
        second = _mm256_blend_ps::<0b1000_0000>(second, _mm256_loadu_ps(high(at - 15)));
        [first, second]
    }
}
