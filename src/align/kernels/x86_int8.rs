//! Cosine distances over int8 panels with AVX2: 32 products per multiply-add pair. The query's
//! four integers of a group are broadcast to all eight frames; `vpmaddubsw` multiplies unsigned
//! by signed bytes, so the query's magnitudes multiply the panel's integers with the query's
//! signs moved onto them (no product is lost: both sides stay within ±127, and a pair of
//! products within ±32 258 fits the 16-bit sums), and `vpmaddwd` adds the pairs of each frame
//! into its 32-bit lane. Four panels share each broadcast.
//!
//! Unsafe code is limited to loads from groups inside a slice bounds-checked once per block,
//! and to calling the `target_feature` functions after the dispatcher has detected AVX2.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256i, _mm256_abs_epi8, _mm256_add_epi32, _mm256_cvtepi32_ps, _mm256_load_si256, _mm256_loadu_ps,
    _mm256_madd_epi16, _mm256_maddubs_epi16, _mm256_max_ps, _mm256_min_ps, _mm256_mul_ps, _mm256_set1_epi16,
    _mm256_set1_epi32, _mm256_set1_ps, _mm256_setzero_ps, _mm256_setzero_si256, _mm256_sign_epi8, _mm256_storeu_ps,
    _mm256_sub_ps,
};

use super::{Int8Group, PANEL_FRAMES};

/// See [`super::int8_panel_cosines`]; the caller has checked the lengths and the processor.
pub(super) fn int8_panel_cosines(
    query: &[i8],
    query_inverse_norm: f32,
    groups: &[Int8Group],
    inverse_norms: &[f32],
    out: &mut [f32],
) {
    let panels = out.len() / PANEL_FRAMES;
    let mut panel = 0;
    // SAFETY (all three calls): the dispatcher calls this only after detecting AVX2.
    while panel + 4 <= panels {
        unsafe { panel_block::<4>(query, query_inverse_norm, groups, inverse_norms, panel, out) };
        panel += 4;
    }
    while panel < panels {
        unsafe { panel_block::<1>(query, query_inverse_norm, groups, inverse_norms, panel, out) };
        panel += 1;
    }
}

/// Distances for panels `first .. first + BLOCK`.
#[target_feature(enable = "avx2")]
fn panel_block<const BLOCK: usize>(
    query: &[i8],
    query_inverse_norm: f32,
    groups: &[Int8Group],
    inverse_norms: &[f32],
    first: usize,
    out: &mut [f32],
) {
    let per_panel = query.len() / 4;
    let block_groups = &groups[first * per_panel..(first + BLOCK) * per_panel];
    let pairs_to_words = _mm256_set1_epi16(1);
    let mut dots = [_mm256_setzero_si256(); BLOCK];
    for (g, q) in query.chunks_exact(4).take(per_panel).enumerate() {
        let signs = _mm256_set1_epi32(i32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8]));
        let magnitudes = _mm256_abs_epi8(signs);
        for (b, dot) in dots.iter_mut().enumerate() {
            // SAFETY: b < BLOCK and g < per_panel, so the group lies in `block_groups`, whose
            // groups are 32 bytes aligned on 32 (a pointer rather than an index: the bounds
            // checks would cost a fifth of the loop).
            let values = unsafe { _mm256_load_si256(block_groups.as_ptr().add(b * per_panel + g).cast::<__m256i>()) };
            let pairs = _mm256_maddubs_epi16(magnitudes, _mm256_sign_epi8(values, signs));
            *dot = _mm256_add_epi32(*dot, _mm256_madd_epi16(pairs, pairs_to_words));
        }
    }
    let query_norm = _mm256_set1_ps(query_inverse_norm);
    for (b, &dot) in dots.iter().enumerate() {
        let at = (first + b) * PANEL_FRAMES;
        let norms = &inverse_norms[at..at + PANEL_FRAMES];
        let lanes_out = &mut out[at..at + PANEL_FRAMES];
        // SAFETY: `norms` and `lanes_out` hold 8 values each.
        unsafe {
            let norms = _mm256_mul_ps(_mm256_loadu_ps(norms.as_ptr()), query_norm);
            let cosine = _mm256_sub_ps(_mm256_set1_ps(1.0), _mm256_mul_ps(_mm256_cvtepi32_ps(dot), norms));
            let clamped = _mm256_min_ps(_mm256_max_ps(cosine, _mm256_setzero_ps()), _mm256_set1_ps(2.0));
            _mm256_storeu_ps(lanes_out.as_mut_ptr(), clamped);
        }
    }
}
