//! The cells of a slope-limited subsequence column with AVX2, eight cells per step: no cell
//! depends on another of its column, so each step loads the three ways in, picks the cheapest
//! with two compares and blends (costs and starts alike), and stores. Compiled from the plain
//! loop, the start chosen would be a load through a selected pointer, which keeps it one cell
//! at a time.
//!
//! Unsafe code is limited to loads and stores of 8 values inside the slices (their lengths are
//! checked once, before the loop) and to calling the `target_feature` function after the
//! dispatcher has detected AVX2.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256i, _mm256_add_ps, _mm256_blendv_epi8, _mm256_blendv_ps, _mm256_castps_si256, _mm256_cmp_ps, _mm256_loadu_ps,
    _mm256_loadu_si256, _mm256_mul_ps, _mm256_set1_ps, _mm256_storeu_ps, _mm256_storeu_si256, _CMP_LT_OQ,
};

use super::{portable, HeldQueryFrame, SlopeLimitedColumn, COLUMN_LANES as LANES};

/// See [`super::slope_limited_column`]; the caller has checked the lengths and the processor.
#[inline]
pub(super) fn slope_limited_column(mut column: SlopeLimitedColumn<'_>) {
    // SAFETY: the dispatcher calls this only after detecting AVX2.
    let done = unsafe {
        match column.held {
            HeldQueryFrame::PaysBoth => whole_registers::<false>(&mut column),
            HeldQueryFrame::PaysMean => whole_registers::<true>(&mut column),
        }
    };
    portable::slope_limited_column(column, done);
}

/// Fills the cells of whole registers and returns how many it filled; `PAYS_MEAN` as
/// [`HeldQueryFrame::PaysMean`], in the portable loop's order of operations.
#[target_feature(enable = "avx2")]
fn whole_registers<const PAYS_MEAN: bool>(column: &mut SlopeLimitedColumn<'_>) -> usize {
    let n = column.next_cost.len();
    let mut k = 0;
    while k + LANES <= n {
        // SAFETY: every slice holds n values (checked by the dispatcher) and k + 8 <= n.
        unsafe {
            let floats = |values: &[f32]| _mm256_loadu_ps(values.as_ptr().add(k));
            let starts = |values: &[u32]| _mm256_loadu_si256(values.as_ptr().add(k).cast::<__m256i>());
            let here = floats(column.here);
            let mut diagonal = floats(column.diagonal_cost);
            let mut along_query = _mm256_add_ps(floats(column.query_cost), floats(column.query_through));
            let along_stream = if PAYS_MEAN {
                diagonal = _mm256_add_ps(diagonal, here);
                along_query = _mm256_add_ps(along_query, here);
                let held = _mm256_add_ps(floats(column.stream_through), here);
                _mm256_add_ps(floats(column.stream_cost), _mm256_mul_ps(_mm256_set1_ps(0.5), held))
            } else {
                _mm256_add_ps(floats(column.stream_cost), floats(column.stream_through))
            };
            let take_query = _mm256_cmp_ps::<_CMP_LT_OQ>(along_query, diagonal);
            let lowest = _mm256_blendv_ps(diagonal, along_query, take_query);
            let start = _mm256_blendv_epi8(
                starts(column.diagonal_start),
                starts(column.query_start),
                _mm256_castps_si256(take_query),
            );
            let take_stream = _mm256_cmp_ps::<_CMP_LT_OQ>(along_stream, lowest);
            let cheapest = _mm256_blendv_ps(lowest, along_stream, take_stream);
            let cost = if PAYS_MEAN {
                cheapest
            } else {
                _mm256_add_ps(here, cheapest)
            };
            let start = _mm256_blendv_epi8(start, starts(column.stream_start), _mm256_castps_si256(take_stream));
            _mm256_storeu_ps(column.next_cost.as_mut_ptr().add(k), cost);
            _mm256_storeu_si256(column.next_start.as_mut_ptr().add(k).cast::<__m256i>(), start);
        }
        k += LANES;
    }
    k
}
