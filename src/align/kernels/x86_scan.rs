//! The min-plus scan with AVX2, eight cells per step.
//!
//! Each cell is the map `x ↦ min(entered, x + step)` applied to the cell before it. Maps of this
//! form compose into maps of the same form, `(A₂, B₂) ∘ (A₁, B₁) = (min(A₂, A₁ + B₂), B₁ + B₂)`,
//! so within a register three shift-and-compose rounds give every lane the map from the start
//! of the register to itself (a Hillis–Steele scan); the value carried in from the previous
//! register then costs one add and one min, and the chain from register to register is those
//! two operations and a broadcast, where the cell-by-cell loop waits on an add and a min for
//! every cell.
//!
//! Unsafe code is limited to loads and stores of 8 values inside the slices (bounds stated at
//! each) and to calling the `target_feature` function after the dispatcher has detected AVX2.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256, __m256i, _mm256_add_ps, _mm256_blend_ps, _mm256_loadu_ps, _mm256_min_ps, _mm256_permutevar8x32_ps,
    _mm256_set1_ps, _mm256_setr_epi32, _mm256_setzero_ps, _mm256_storeu_ps,
};

const LANES: usize = 8;

/// See [`super::min_plus_scan`]; the caller has checked the lengths and the processor.
pub(super) fn min_plus_scan(entered: &[f32], step: &[f32], out: &mut [f32]) {
    // SAFETY: the dispatcher calls this only after detecting AVX2.
    unsafe { scan(entered, step, out) }
}

/// Composes each lane's map with the map of the lane `shift` moves into it; the lanes in
/// `LOW_LANES`, which have none, compose with the identity `(∞, 0)`.
#[target_feature(enable = "avx2")]
#[inline]
fn compose<const LOW_LANES: i32>(entered: __m256, step: __m256, shift: __m256i) -> (__m256, __m256) {
    let earlier_entered =
        _mm256_blend_ps::<LOW_LANES>(_mm256_permutevar8x32_ps(entered, shift), _mm256_set1_ps(f32::INFINITY));
    let earlier_step = _mm256_blend_ps::<LOW_LANES>(_mm256_permutevar8x32_ps(step, shift), _mm256_setzero_ps());
    (
        _mm256_min_ps(entered, _mm256_add_ps(earlier_entered, step)),
        _mm256_add_ps(earlier_step, step),
    )
}

#[target_feature(enable = "avx2")]
fn scan(entered: &[f32], step: &[f32], out: &mut [f32]) {
    let len = out.len();
    assert!(entered.len() == len && step.len() == len);
    let by_one = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6);
    let by_two = _mm256_setr_epi32(0, 0, 0, 1, 2, 3, 4, 5);
    let by_four = _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 2, 3);
    let last_lane = _mm256_setr_epi32(7, 7, 7, 7, 7, 7, 7, 7);
    let mut carried = _mm256_set1_ps(f32::INFINITY);
    let mut start = 0;
    while start + LANES <= len {
        // SAFETY: start + 8 ≤ len, the length of all three slices.
        let (mut a, mut b) = unsafe {
            (
                _mm256_loadu_ps(entered.as_ptr().add(start)),
                _mm256_loadu_ps(step.as_ptr().add(start)),
            )
        };
        (a, b) = compose::<0b0000_0001>(a, b, by_one);
        (a, b) = compose::<0b0000_0011>(a, b, by_two);
        (a, b) = compose::<0b0000_1111>(a, b, by_four);
        let values = _mm256_min_ps(a, _mm256_add_ps(carried, b));
        // SAFETY: as above.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(start), values) };
        carried = _mm256_permutevar8x32_ps(values, last_lane);
        start += LANES;
    }
    let mut previous = if start > 0 { out[start - 1] } else { f32::INFINITY };
    for k in start..len {
        let along = previous + step[k];
        previous = if along < entered[k] { along } else { entered[k] };
        out[k] = previous;
    }
}
