//! The position of a slice's lowest value with AVX2, in two passes that wait on nothing: the
//! lowest value first, four registers of running minima side by side (a single chain of
//! compare-and-blend would wait on the last compare at every step), then the first position
//! holding it, eight values per compare.
//!
//! Unsafe code is limited to loads and stores of 8 values inside the slices (bounds stated at
//! each) and to calling the `target_feature` function after the dispatcher has detected AVX2.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256, _mm256_cmp_ps, _mm256_loadu_ps, _mm256_min_ps, _mm256_movemask_ps, _mm256_set1_ps, _mm256_storeu_ps,
    _CMP_EQ_OQ,
};

const LANES: usize = 8;
/// Registers of running minima.
const CHAINS: usize = 4;

/// See [`super::lowest_finite`]; the caller has checked the processor.
pub(super) fn lowest_finite(values: &[f32]) -> Option<usize> {
    // SAFETY: the dispatcher calls this only after detecting AVX2.
    unsafe { two_passes(values) }
}

#[target_feature(enable = "avx2")]
fn two_passes(values: &[f32]) -> Option<usize> {
    let lowest = lowest_value(values);
    if !lowest.is_finite() {
        return None;
    }
    let target = _mm256_set1_ps(lowest);
    let chunks = values.len() / LANES;
    for chunk in 0..chunks {
        // SAFETY: chunk · 8 + 8 ≤ values.len().
        let value = unsafe { _mm256_loadu_ps(values.as_ptr().add(chunk * LANES)) };
        let equal = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(value, target));
        if equal != 0 {
            return Some(chunk * LANES + equal.trailing_zeros() as usize);
        }
    }
    values[chunks * LANES..]
        .iter()
        .position(|&value| value == lowest)
        .map(|k| chunks * LANES + k)
}

/// The lowest value, NaNs aside (∞ if there is none).
#[target_feature(enable = "avx2")]
fn lowest_value(values: &[f32]) -> f32 {
    let mut chains = [_mm256_set1_ps(f32::INFINITY); CHAINS];
    let blocks = values.len() / (LANES * CHAINS);
    for block in 0..blocks {
        for (c, chain) in chains.iter_mut().enumerate() {
            // SAFETY: (block · 4 + c) · 8 + 8 ≤ values.len().
            let value = unsafe { _mm256_loadu_ps(values.as_ptr().add((block * CHAINS + c) * LANES)) };
            // `min` returns its second operand when either is NaN: the running minimum.
            *chain = _mm256_min_ps(value, *chain);
        }
    }
    let joined: __m256 = _mm256_min_ps(_mm256_min_ps(chains[0], chains[1]), _mm256_min_ps(chains[2], chains[3]));
    let mut lanes = [0.0f32; LANES];
    // SAFETY: `lanes` holds 8 values.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), joined) };
    lanes
        .into_iter()
        .chain(values[blocks * LANES * CHAINS..].iter().copied())
        .fold(
            f32::INFINITY,
            |lowest, value| if value < lowest { value } else { lowest },
        )
}
