//! Cosine distances over int8 panels with AVX2: 32 products per multiply-add pair. The query's
//! four integers of a group are broadcast to all eight frames; `vpmaddubsw` multiplies unsigned
//! by signed bytes, so the query's magnitudes multiply the panel's integers with the query's
//! signs moved onto them (no product is lost: both sides stay within ±127, and a pair of
//! products within ±32 258 fits the 16-bit sums), and `vpmaddwd` adds the pairs of each frame
//! into its 32-bit lane. Up to four panels share each broadcast. Where the processor has
//! AVX-512 VNNI, `vpdpbusd` multiplies and adds in one instruction (see [`ByteProducts::Vnni`]).
//!
//! Unsafe code is limited to loads from groups and sums inside slices bounds-checked once per
//! block, and to calling the `target_feature` functions (and the store that is compiled into
//! two of them) after the dispatcher has detected AVX2 (and VNNI for its block).
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256i, _mm256_abs_epi8, _mm256_add_epi32, _mm256_cvtepi32_ps, _mm256_dpbusd_epi32, _mm256_load_si256,
    _mm256_loadu_ps, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_maddubs_epi16, _mm256_max_ps, _mm256_min_ps,
    _mm256_mul_ps, _mm256_set1_epi16, _mm256_set1_epi32, _mm256_set1_epi8, _mm256_set1_ps, _mm256_setzero_ps,
    _mm256_setzero_si256, _mm256_sign_epi8, _mm256_slli_epi32, _mm256_storeu_ps, _mm256_sub_epi32, _mm256_sub_ps,
    _mm256_xor_si256,
};

use super::{Int8Group, Int8PanelFrames, Int8QueryGroups, PANEL_FRAMES};

/// The instructions that multiply the bytes and add the products into each frame's lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ByteProducts {
    /// `vpmaddubsw` into 16-bit pairs, `vpmaddwd` into 32 bits, then an add: three instructions.
    Avx2,
    /// `vpdpbusd` (AVX-512 VNNI on 256-bit registers): the query's integers offset by 128 to
    /// make them unsigned, multiplied by the panel's and added into each lane in one
    /// instruction, with no 16-bit step between; 128 times each frame's sum of integers is
    /// taken back out at the end.
    Vnni,
}

/// See [`super::int8_panel_cosines`]; the caller has checked the lengths and the processor
/// (AVX2, and AVX-512 VNNI with VL for [`ByteProducts::Vnni`]).
pub(super) fn int8_panel_cosines<Q: Int8QueryGroups>(
    products: ByteProducts,
    query: Q,
    query_inverse_norm: f32,
    frames: Int8PanelFrames<'_>,
    out: &mut [f32],
) {
    let panels = out.len() / PANEL_FRAMES;
    // Four panels share each broadcast of the query's integers; the last one to three panels go
    // in one block too, rather than broadcasting again for each.
    for first in (0..panels).step_by(4) {
        // SAFETY (every call): the dispatcher calls this only after detecting AVX2, and asks
        // for VNNI only after detecting it too.
        let args = (query, query_inverse_norm, frames, first);
        match (products, (panels - first).min(4)) {
            (ByteProducts::Avx2, 4) => unsafe { panel_block::<4, Q>(args, out) },
            (ByteProducts::Avx2, 3) => unsafe { panel_block::<3, Q>(args, out) },
            (ByteProducts::Avx2, 2) => unsafe { panel_block::<2, Q>(args, out) },
            (ByteProducts::Avx2, _) => unsafe { panel_block::<1, Q>(args, out) },
            (ByteProducts::Vnni, 4) => unsafe { panel_block_vnni::<4, 2, Q>(args, out) },
            (ByteProducts::Vnni, 3) => unsafe { panel_block_vnni::<3, 2, Q>(args, out) },
            (ByteProducts::Vnni, 2) => unsafe { panel_block_vnni::<2, 3, Q>(args, out) },
            (ByteProducts::Vnni, _) => unsafe { panel_block_vnni::<1, 4, Q>(args, out) },
        }
    }
}

/// What a block reads: the query's integers and inverse norm, the panels, and the block's first
/// panel.
type BlockArgs<'a, Q> = (Q, f32, Int8PanelFrames<'a>, usize);

/// Distances for panels `first .. first + BLOCK`.
#[target_feature(enable = "avx2")]
fn panel_block<const BLOCK: usize, Q: Int8QueryGroups>(args: BlockArgs<'_, Q>, out: &mut [f32]) {
    let (query, query_inverse_norm, frames, first) = args;
    let per_panel = query.group_count();
    let block_groups = &frames.groups[first * per_panel..(first + BLOCK) * per_panel];
    let pairs_to_words = _mm256_set1_epi16(1);
    let mut dots = [_mm256_setzero_si256(); BLOCK];
    for g in 0..per_panel {
        let signs = _mm256_set1_epi32(query.group(g) as i32);
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
    store_cosines(&dots, query_inverse_norm, frames.inverse_norms, first, out);
}

/// [`panel_block`] with `vpdpbusd`, which multiplies unsigned bytes by signed ones: the query's
/// integers plus 128 (a flip of the top bit) by the panel's, so that one instruction does the
/// work of the sign, the multiplication and both additions. It adds into its own accumulator,
/// so one sum per panel would make each group wait for the one before (several cycles):
/// `CHAINS` sums per panel take the groups in turn and are added at the end, less the offset's
/// share, 128 times each frame's sum of integers.
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
fn panel_block_vnni<const BLOCK: usize, const CHAINS: usize, Q: Int8QueryGroups>(
    args: BlockArgs<'_, Q>,
    out: &mut [f32],
) {
    let (query, query_inverse_norm, frames, first) = args;
    let per_panel = query.group_count();
    let block_groups = &frames.groups[first * per_panel..(first + BLOCK) * per_panel];
    let mut chains = [[_mm256_setzero_si256(); BLOCK]; CHAINS];
    let add_group = |sums: &mut [__m256i; BLOCK], g: usize| {
        let unsigned = _mm256_set1_epi32((query.group(g) ^ 0x8080_8080) as i32);
        for (b, sum) in sums.iter_mut().enumerate() {
            // SAFETY: as in `panel_block`: b < BLOCK and g < per_panel.
            let values = unsafe { _mm256_load_si256(block_groups.as_ptr().add(b * per_panel + g).cast::<__m256i>()) };
            *sum = _mm256_dpbusd_epi32(*sum, unsigned, values);
        }
    };
    let rounds = per_panel / CHAINS;
    for round in 0..rounds {
        for (c, sums) in chains.iter_mut().enumerate() {
            add_group(sums, round * CHAINS + c);
        }
    }
    for g in rounds * CHAINS..per_panel {
        add_group(&mut chains[0], g);
    }
    let mut dots = chains[0];
    for sums in &chains[1..] {
        for (dot, &sum) in dots.iter_mut().zip(sums) {
            *dot = _mm256_add_epi32(*dot, sum);
        }
    }
    for (b, dot) in dots.iter_mut().enumerate() {
        let sums = &frames.sums[(first + b) * PANEL_FRAMES..(first + b + 1) * PANEL_FRAMES];
        // SAFETY: `sums` holds 8 values.
        let sums = unsafe { _mm256_loadu_si256(sums.as_ptr().cast::<__m256i>()) };
        *dot = _mm256_sub_epi32(*dot, _mm256_slli_epi32::<7>(sums));
    }
    store_cosines(&dots, query_inverse_norm, frames.inverse_norms, first, out);
}

/// See [`super::int8_lanes_to_panel`]; the caller has checked the lengths and the processor.
pub(super) fn int8_lanes_to_panel(
    products: ByteProducts,
    lanes: Int8PanelFrames<'_>,
    lane_panels: usize,
    panel: Int8PanelFrames<'_>,
    out: &mut [f32],
) {
    // SAFETY: the dispatcher calls this only after detecting AVX2, and asks for VNNI only
    // after detecting it too.
    match products {
        ByteProducts::Avx2 => unsafe { lanes_to_panel(lanes, lane_panels, panel, out) },
        ByteProducts::Vnni => unsafe { lanes_to_panel_vnni(lanes, lane_panels, panel, out) },
    }
}

/// The lanes of each panel of `lanes` against the panel with `vpmaddubsw` and `vpmaddwd`, by the
/// panel's columns: a group of lanes (eight frames' four integers) is one vector, and each of
/// the panel's frames is broadcast against it, so every sum already holds one column's eight
/// lanes, in the order `out` keeps them.
#[target_feature(enable = "avx2")]
fn lanes_to_panel(lanes: Int8PanelFrames<'_>, lane_panels: usize, panel: Int8PanelFrames<'_>, out: &mut [f32]) {
    let per_panel = panel.groups.len();
    let pairs_to_words = _mm256_set1_epi16(1);
    for lane_panel in 0..lane_panels {
        let lane_groups = &lanes.groups[lane_panel * per_panel..(lane_panel + 1) * per_panel];
        let mut dots = [_mm256_setzero_si256(); PANEL_FRAMES];
        for (lane_group, group) in lane_groups.iter().zip(panel.groups) {
            // SAFETY: a group is 32 bytes aligned on 32.
            let lane_values = unsafe { _mm256_load_si256(lane_group.0.as_ptr().cast::<__m256i>()) };
            let magnitudes = _mm256_abs_epi8(lane_values);
            for (column, dot) in dots.iter_mut().enumerate() {
                let values = _mm256_set1_epi32(column_group(group, column));
                let pairs = _mm256_maddubs_epi16(magnitudes, _mm256_sign_epi8(values, lane_values));
                *dot = _mm256_add_epi32(*dot, _mm256_madd_epi16(pairs, pairs_to_words));
            }
        }
        // SAFETY: this kernel runs only where the dispatcher has detected AVX2.
        unsafe { store_columns(&dots, &lanes, &panel, lane_panel, lane_panels, out) };
    }
}

/// [`lanes_to_panel`] with `vpdpbusd`: the lanes' integers offset by 128 (one flip of the top
/// bits per group of lanes, shared by the panel's eight frames) against each frame's integers,
/// broadcast from where the panel holds them; 128 times each frame's sum of integers is taken
/// back out at the end.
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
fn lanes_to_panel_vnni(lanes: Int8PanelFrames<'_>, lane_panels: usize, panel: Int8PanelFrames<'_>, out: &mut [f32]) {
    let per_panel = panel.groups.len();
    let top_bits = _mm256_set1_epi8(i8::MIN);
    let offsets: [__m256i; PANEL_FRAMES] = std::array::from_fn(|column| _mm256_set1_epi32(panel.sums[column] << 7));
    for lane_panel in 0..lane_panels {
        let lane_groups = &lanes.groups[lane_panel * per_panel..(lane_panel + 1) * per_panel];
        let mut dots = [_mm256_setzero_si256(); PANEL_FRAMES];
        // Eight columns' sums advance together, none waiting on another.
        for (lane_group, group) in lane_groups.iter().zip(panel.groups) {
            // SAFETY: a group is 32 bytes aligned on 32.
            let lane_values = unsafe { _mm256_load_si256(lane_group.0.as_ptr().cast::<__m256i>()) };
            let unsigned = _mm256_xor_si256(lane_values, top_bits);
            for (column, dot) in dots.iter_mut().enumerate() {
                *dot = _mm256_dpbusd_epi32(*dot, unsigned, _mm256_set1_epi32(column_group(group, column)));
            }
        }
        for (dot, offset) in dots.iter_mut().zip(offsets) {
            *dot = _mm256_sub_epi32(*dot, offset);
        }
        // SAFETY: this kernel runs only where the dispatcher has detected AVX2.
        unsafe { store_columns(&dots, &lanes, &panel, lane_panel, lane_panels, out) };
    }
}

/// Frame `column`'s four integers in `group`, the first in the low byte.
#[inline(always)]
fn column_group(group: &Int8Group, column: usize) -> i32 {
    let at = column * 4;
    i32::from_le_bytes([group.0[at], group.0[at + 1], group.0[at + 2], group.0[at + 3]].map(|v| v as u8))
}

/// Writes the cosine distances of `dots` (the eight lanes of `lane_panel` against the panel's
/// frame `c` in `dots[c]`) to `out`: column `c`'s at `out[c · 8 · lane_panels + 8 · lane_panel
/// ..]`, eight in a row.
///
/// # Safety
///
/// The processor has AVX2. Compiled into its callers (the two kernels above), whose AVX2 it
/// then runs with: a `target_feature` function of its own is not inlined into them, and its
/// call passes the eight sums through memory once per panel of lanes.
#[inline(always)]
unsafe fn store_columns(
    dots: &[__m256i; PANEL_FRAMES],
    lanes: &Int8PanelFrames<'_>,
    panel: &Int8PanelFrames<'_>,
    lane_panel: usize,
    lane_panels: usize,
    out: &mut [f32],
) {
    let first = lane_panel * PANEL_FRAMES;
    let lane_norms = &lanes.inverse_norms[first..first + PANEL_FRAMES];
    // SAFETY: `lane_norms` holds 8 values.
    let lane_norms = unsafe { _mm256_loadu_ps(lane_norms.as_ptr()) };
    let stride = lane_panels * PANEL_FRAMES;
    for (c, &dot) in dots.iter().enumerate() {
        // The two norms multiplied first, as every kernel set does (the order of a product's
        // factors does not change it).
        let norms = _mm256_mul_ps(lane_norms, _mm256_set1_ps(panel.inverse_norms[c]));
        let cosine = _mm256_sub_ps(_mm256_set1_ps(1.0), _mm256_mul_ps(_mm256_cvtepi32_ps(dot), norms));
        let clamped = _mm256_min_ps(_mm256_max_ps(cosine, _mm256_setzero_ps()), _mm256_set1_ps(2.0));
        let column_out = &mut out[c * stride + first..c * stride + first + PANEL_FRAMES];
        // SAFETY: `column_out` holds 8 values.
        unsafe { _mm256_storeu_ps(column_out.as_mut_ptr(), clamped) };
    }
}

/// Writes the cosine distances of the integer dot products `dots` (eight frames each, panels
/// `first ..`) to `out`.
#[target_feature(enable = "avx2")]
fn store_cosines<const BLOCK: usize>(
    dots: &[__m256i; BLOCK],
    query_inverse_norm: f32,
    inverse_norms: &[f32],
    first: usize,
    out: &mut [f32],
) {
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
