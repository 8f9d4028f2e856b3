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
    _mm256_loadu_si256, _mm256_storeu_ps, _mm256_storeu_si256, _CMP_LT_OQ,
};

use super::{portable, SlopeLimitedColumn};

const LANES: usize = 8;

/// See [`super::slope_limited_column`]; the caller has checked the lengths and the processor.
pub(super) fn slope_limited_column(mut column: SlopeLimitedColumn<'_>) {
    // SAFETY: the dispatcher calls this only after detecting AVX2.
    let done = unsafe { whole_registers(&mut column) };
    portable::slope_limited_column(column, done);
}

/// Fills the cells of whole registers and returns how many it filled.
#[target_feature(enable = "avx2")]
fn whole_registers(column: &mut SlopeLimitedColumn<'_>) -> usize {
    let n = column.next_cost.len();
    let mut k = 0;
    while k + LANES <= n {
        // SAFETY: every slice holds n values (checked by the dispatcher) and k + 8 <= n.
        unsafe {
            let floats = |values: &[f32]| _mm256_loadu_ps(values.as_ptr().add(k));
            let starts = |values: &[u32]| _mm256_loadu_si256(values.as_ptr().add(k).cast::<__m256i>());
            let along_query = _mm256_add_ps(floats(column.query_cost), floats(column.query_through));
            let along_stream = _mm256_add_ps(floats(column.stream_cost), floats(column.stream_through));
            let diagonal = floats(column.diagonal_cost);
            let take_query = _mm256_cmp_ps::<_CMP_LT_OQ>(along_query, diagonal);
            let lowest = _mm256_blendv_ps(diagonal, along_query, take_query);
            let start = _mm256_blendv_epi8(
                starts(column.diagonal_start),
                starts(column.query_start),
                _mm256_castps_si256(take_query),
            );
            let take_stream = _mm256_cmp_ps::<_CMP_LT_OQ>(along_stream, lowest);
            let cost = _mm256_add_ps(floats(column.here), _mm256_blendv_ps(lowest, along_stream, take_stream));
            let start = _mm256_blendv_epi8(start, starts(column.stream_start), _mm256_castps_si256(take_stream));
            _mm256_storeu_ps(column.next_cost.as_mut_ptr().add(k), cost);
            _mm256_storeu_si256(column.next_start.as_mut_ptr().add(k).cast::<__m256i>(), start);
        }
        k += LANES;
    }
    k
}
