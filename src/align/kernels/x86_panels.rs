//! Panel distances with AVX2 and FMA: four panels (32 frames) per pass over the query, so each
//! broadcast query value feeds four independent accumulators held in registers.
//!
//! Unsafe code here is limited to unaligned loads and stores whose bounds the safe wrapper
//! has checked, and to calling the `target_feature` functions, which the dispatcher in
//! `super` only does after detecting AVX2 and FMA.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_andnot_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_max_ps, _mm256_min_ps,
    _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_sqrt_ps, _mm256_storeu_ps, _mm256_sub_ps,
};

use super::{Frames, Query, PANEL_FRAMES};
use crate::align::Distance;

/// Panels computed together in the main loop.
const BLOCK_PANELS: usize = 4;

pub(super) const EUCLIDEAN: u8 = 0;
pub(super) const MANHATTAN: u8 = 1;
pub(super) const COSINE: u8 = 2;
pub(super) const SQUARED_EUCLIDEAN: u8 = 3;

/// See [`super::panel_distances`]; the caller has checked the lengths and the processor.
pub(super) fn panel_distances(query: Query, panels: Frames, out: &mut [f32]) {
    // SAFETY: the dispatcher calls this only after detecting AVX2 and FMA.
    unsafe {
        match query.distance {
            Distance::Euclidean => panels_with::<EUCLIDEAN>(query, panels, out),
            Distance::SquaredEuclidean => panels_with::<SQUARED_EUCLIDEAN>(query, panels, out),
            Distance::Manhattan => panels_with::<MANHATTAN>(query, panels, out),
            Distance::Cosine => panels_with::<COSINE>(query, panels, out),
        }
    }
}

/// Adds one dimension's contribution of the query value `q` against 8 frames' values `v`.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(super) fn accumulate<const METRIC: u8>(sum: __m256, q: __m256, v: __m256) -> __m256 {
    match METRIC {
        EUCLIDEAN | SQUARED_EUCLIDEAN => {
            let difference = _mm256_sub_ps(q, v);
            _mm256_fmadd_ps(difference, difference, sum)
        }
        MANHATTAN => _mm256_add_ps(sum, _mm256_andnot_ps(_mm256_set1_ps(-0.0), _mm256_sub_ps(q, v))),
        _ => _mm256_fmadd_ps(q, v, sum),
    }
}

/// Turns accumulated sums into distances; `inverse_norms` is the product of the two inverse
/// norms per lane (used by cosine only).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(super) fn finish<const METRIC: u8>(sum: __m256, inverse_norms: __m256) -> __m256 {
    match METRIC {
        EUCLIDEAN => _mm256_sqrt_ps(sum),
        MANHATTAN | SQUARED_EUCLIDEAN => sum,
        _ => {
            let one = _mm256_set1_ps(1.0);
            let cosine = _mm256_sub_ps(one, _mm256_mul_ps(sum, inverse_norms));
            _mm256_min_ps(_mm256_max_ps(cosine, _mm256_setzero_ps()), _mm256_set1_ps(2.0))
        }
    }
}

/// The products of the query's and 8 frames' inverse norms, for cosine (zeros otherwise).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn pair_norms<const METRIC: u8>(inverse_norms: &[f32], panel: usize, query_inverse_norm: f32) -> __m256 {
    if METRIC != COSINE {
        return _mm256_setzero_ps();
    }
    let norms = &inverse_norms[panel * PANEL_FRAMES..(panel + 1) * PANEL_FRAMES];
    // SAFETY: `norms` holds exactly 8 values.
    let norms = unsafe { _mm256_loadu_ps(norms.as_ptr()) };
    _mm256_mul_ps(norms, _mm256_set1_ps(query_inverse_norm))
}

#[target_feature(enable = "avx2,fma")]
fn panels_with<const METRIC: u8>(query: Query, panels: Frames, out: &mut [f32]) {
    let (query, query_inverse_norm) = (query.values, query.inverse_norm);
    let (panels, inverse_norms) = (panels.values, panels.inverse_norms);
    let dim = query.len();
    let panel_len = dim * PANEL_FRAMES;
    let count = out.len() / PANEL_FRAMES;
    assert!(panels.len() >= count * panel_len);
    assert!(METRIC != COSINE || inverse_norms.len() >= out.len());
    let base = panels.as_ptr();
    let mut panel = 0;
    while panel + BLOCK_PANELS <= count {
        let mut sums = [_mm256_setzero_ps(); BLOCK_PANELS];
        for (k, &q) in query.iter().enumerate() {
            let q = _mm256_set1_ps(q);
            for (b, sum) in sums.iter_mut().enumerate() {
                // SAFETY: panel + b < count and k < dim, so the 8 values lie inside `panels`.
                let v = unsafe { _mm256_loadu_ps(base.add((panel + b) * panel_len + k * PANEL_FRAMES)) };
                *sum = accumulate::<METRIC>(*sum, q, v);
            }
        }
        for (b, &sum) in sums.iter().enumerate() {
            let distances = finish::<METRIC>(sum, pair_norms::<METRIC>(inverse_norms, panel + b, query_inverse_norm));
            // SAFETY: (panel + b + 1) · 8 ≤ out.len().
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add((panel + b) * PANEL_FRAMES), distances) };
        }
        panel += BLOCK_PANELS;
    }
    while panel < count {
        let mut sum = _mm256_setzero_ps();
        for (k, &q) in query.iter().enumerate() {
            // SAFETY: as above, for one panel.
            let v = unsafe { _mm256_loadu_ps(base.add(panel * panel_len + k * PANEL_FRAMES)) };
            sum = accumulate::<METRIC>(sum, _mm256_set1_ps(q), v);
        }
        let distances = finish::<METRIC>(sum, pair_norms::<METRIC>(inverse_norms, panel, query_inverse_norm));
        // SAFETY: (panel + 1) · 8 ≤ out.len().
        unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(panel * PANEL_FRAMES), distances) };
        panel += 1;
    }
}
