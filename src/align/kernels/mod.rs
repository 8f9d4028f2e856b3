//! The inner loops of every aligner: distances from one vector to many frames (held in panels
//! for frames of few dimensions, row by row for many, the rows in f32, f16 or int8; and cosine
//! distances between frames quantised to int8, in int8 panels), the cost of
//! full DTW, the min-plus scan that fills the online aligner's strips and the relocation
//! search's columns, and the search for a strip's cheapest cell. Each has a portable version and,
//! on x86-64 processors with AVX2, FMA and F16C, a hand-vectorised one chosen at run time. Plain
//! loops elsewhere can run compiled for AVX2 too, through [`vectorised`].
//!
//! A panel holds [`PANEL_FRAMES`] consecutive frames dimension by dimension (the first value of
//! each of the 8 frames, then the second, …), so that the distances from one vector to 8 frames
//! are computed together in eight lanes. Frames past the end of the data are zeros.
//!
//! Int8 dot products use AVX-512 VNNI's byte multiply-add where the processor has it.
//! `WARPFLOW_KERNELS=portable` in the environment forces the portable versions (to compare
//! them, or on a machine whose AVX2 misbehaves), `WARPFLOW_KERNELS=avx2` AVX2 without VNNI.
//! This module owns no data: callers lay out the panels ([`super::FeatureMatrix`], the
//! aligner's live window) and keep them.

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86_int8;
#[cfg(target_arch = "x86_64")]
mod x86_lowest;
#[cfg(target_arch = "x86_64")]
mod x86_panels;
#[cfg(target_arch = "x86_64")]
mod x86_rows;
#[cfg(target_arch = "x86_64")]
mod x86_scan;
#[cfg(target_arch = "x86_64")]
mod x86_slope;
#[cfg(target_arch = "x86_64")]
mod x86_wavefront;
#[cfg(target_arch = "x86_64")]
mod x86_wide;

use std::sync::OnceLock;

use super::{Distance, FeatureMatrix, StepWeights};
use crate::features::EncodedRows;

/// Frames per panel.
pub(crate) const PANEL_FRAMES: usize = 8;

/// Cells of a slope-limited column ([`slope_limited_column`]) computed together: a column whose
/// length is a multiple of it has no scalar tail.
pub(crate) const COLUMN_LANES: usize = 8;

/// Eight frames' integers for four dimensions: frame `f`'s at bytes `4f .. 4f + 4` (the layout
/// of [`super::int8_frames`]). Aligned so that a group never straddles two cache lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(32))]
pub(crate) struct Int8Group(pub [i8; 32]);

/// Which implementation of the kernels this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelSet {
    /// Plain Rust that the compiler vectorises for the baseline target.
    Portable,
    /// Explicit AVX2, FMA and F16C (x86-64 processors since about 2013).
    Avx2Fma,
}

impl KernelSet {
    /// The set in use: the fastest the processor supports, unless `WARPFLOW_KERNELS=portable`.
    pub fn active() -> KernelSet {
        static ACTIVE: OnceLock<KernelSet> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            let forced_portable = std::env::var("WARPFLOW_KERNELS").is_ok_and(|v| v == "portable");
            if !forced_portable && avx2_fma_available() {
                KernelSet::Avx2Fma
            } else {
                KernelSet::Portable
            }
        })
    }

    /// Short name for logs and benchmark tables.
    pub fn name(self) -> &'static str {
        match self {
            KernelSet::Portable => "portable",
            KernelSet::Avx2Fma if byte_dot_products_available() => "avx2+fma+vnni",
            KernelSet::Avx2Fma => "avx2+fma",
        }
    }
}

/// The vector distances are measured from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Query<'a> {
    /// Its values.
    pub values: &'a [f32],
    /// `1 / ‖values‖` (0 for a zero vector), for cosine.
    pub inverse_norm: f32,
    /// The distance measured.
    pub distance: Distance,
}

/// The frames distances are measured to: their values in the kernel's layout (panels or rows),
/// and their inverse L2 norms (needed for cosine only).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frames<'a> {
    /// Values, in panels or row by row.
    pub values: &'a [f32],
    /// One inverse norm per frame.
    pub inverse_norms: &'a [f32],
}

impl Frames<'_> {
    /// Checks that the frames hold `count` frames of `dim` values (and their norms, for cosine).
    fn check(&self, kernel: &str, count: usize, dim: usize, distance: Distance) {
        assert!(
            dim > 0
                && self.values.len() >= count * dim
                && (distance != Distance::Cosine || self.inverse_norms.len() >= count),
            "{kernel}: {count} outputs need {} values and {count} norms, got {} and {}",
            count * dim,
            self.values.len(),
            self.inverse_norms.len()
        );
    }
}

/// Frames stored row by row, in any encoding, for [`row_distances`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    /// The frames' values.
    pub values: EncodedRows<'a>,
    /// One inverse norm per frame.
    pub inverse_norms: &'a [f32],
}

/// Whether the int8 kernels of [`KernelSet::Avx2Fma`] multiply and add bytes with AVX-512 VNNI's
/// one instruction instead of AVX2's three (the relocation search spends most of its time
/// there): where the processor has it, unless `WARPFLOW_KERNELS=avx2` asks for AVX2 alone.
fn byte_dot_products_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| !std::env::var("WARPFLOW_KERNELS").is_ok_and(|v| v == "avx2") && vnni_detected())
}

/// Whether the processor has AVX-512 VNNI on 256-bit registers.
fn vnni_detected() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The instructions the x86 int8 kernels multiply bytes with on this processor.
#[cfg(target_arch = "x86_64")]
fn byte_products() -> x86_int8::ByteProducts {
    match byte_dot_products_available() {
        true => x86_int8::ByteProducts::Vnni,
        false => x86_int8::ByteProducts::Avx2,
    }
}

fn avx2_fma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Writes to `out` the distances from `query` to every frame of `panels` (whole panels of
/// `dim`-value frames; `out.len()` frames, a multiple of [`PANEL_FRAMES`]; norms padded like the
/// panels).
pub(crate) fn panel_distances(kernels: KernelSet, query: Query, panels: Frames, out: &mut [f32]) {
    assert!(
        out.len().is_multiple_of(PANEL_FRAMES),
        "panel_distances: {} outputs",
        out.len()
    );
    panels.check("panel_distances", out.len(), query.values.len(), query.distance);
    match kernels {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2Fma if avx2_fma_available() => x86_panels::panel_distances(query, panels, out),
        _ => portable::panel_distances(query, panels, out),
    }
}

/// Writes to `out` the distances from `query` to each of the `out.len()` frames stored row by
/// row in `rows` (`query.values.len()` values each).
pub(crate) fn row_distances(kernels: KernelSet, query: Query, rows: Rows, out: &mut [f32]) {
    let (count, dim) = (out.len(), query.values.len());
    let scales_ok = match rows.values {
        EncodedRows::Int8 { scales, .. } => scales.len() >= count,
        _ => true,
    };
    assert!(
        dim > 0
            && rows.values.value_count() >= count * dim
            && scales_ok
            && (query.distance != Distance::Cosine || rows.inverse_norms.len() >= count),
        "row_distances: {count} outputs need {} values, their scales and {count} norms, got {} values and {} norms",
        count * dim,
        rows.values.value_count(),
        rows.inverse_norms.len()
    );
    match kernels {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2Fma if avx2_fma_available() => x86_rows::row_distances(query, rows, out),
        _ => portable::row_distances(query, rows, out),
    }
}

/// Frames quantised to int8, in panels ([`super::int8_frames`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Int8PanelFrames<'a> {
    /// The panels' groups of four dimensions.
    pub groups: &'a [Int8Group],
    /// One per frame: the inverse L2 norm of its integers.
    pub inverse_norms: &'a [f32],
    /// One per frame: the sum of its integers (a kernel that offsets the query's integers to
    /// make them unsigned takes the offset's products back out with it).
    pub sums: &'a [i32],
}

impl<'a> Int8PanelFrames<'a> {
    /// Frame `frame` of these panels (of `per_panel` groups each) as a query, read in place.
    #[inline(always)]
    pub(crate) fn lane(&self, per_panel: usize, frame: usize) -> PanelLane<'a> {
        let panel = frame / PANEL_FRAMES;
        PanelLane {
            groups: &self.groups[panel * per_panel..(panel + 1) * per_panel],
            lane: frame % PANEL_FRAMES,
        }
    }
}

/// A quantised query's integers, read four at a time (one group) by the int8 kernels: a
/// vector of its own (`&[i8]`, padded to whole groups) or a frame stored in int8 panels, read
/// in place ([`PanelLane`]) rather than copied out first.
pub(crate) trait Int8QueryGroups: Copy {
    /// Groups of four integers.
    fn group_count(&self) -> usize;
    /// Group `g`'s integers, the first in the low byte.
    fn group(&self, g: usize) -> u32;
}

impl Int8QueryGroups for &[i8] {
    #[inline(always)]
    fn group_count(&self) -> usize {
        self.len() / 4
    }

    #[inline(always)]
    fn group(&self, g: usize) -> u32 {
        let q = &self[4 * g..4 * g + 4];
        u32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8])
    }
}

/// Frame `lane` of one int8 panel (its groups), as a query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PanelLane<'a> {
    /// The panel's groups.
    pub groups: &'a [Int8Group],
    /// The frame's lane, below [`PANEL_FRAMES`].
    pub lane: usize,
}

impl Int8QueryGroups for PanelLane<'_> {
    #[inline(always)]
    fn group_count(&self) -> usize {
        self.groups.len()
    }

    #[inline(always)]
    fn group(&self, g: usize) -> u32 {
        let q = &self.groups[g].0[4 * self.lane..4 * self.lane + 4];
        u32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8])
    }
}

/// Writes to `out` the cosine distances from the quantised `query` (and its integers' inverse
/// norm) to the frames of int8 panels `frames` (as many groups per panel as the query has,
/// `out.len() / 8` panels). Integer dot products are exact, so every kernel set gives the
/// same bits.
pub(crate) fn int8_panel_cosines<Q: Int8QueryGroups>(
    kernels: KernelSet,
    query: Q,
    query_inverse_norm: f32,
    frames: Int8PanelFrames<'_>,
    out: &mut [f32],
) {
    let per_panel = query.group_count();
    let panels = out.len() / PANEL_FRAMES;
    assert!(
        out.len().is_multiple_of(PANEL_FRAMES)
            && frames.groups.len() >= panels * per_panel
            && frames.inverse_norms.len() >= out.len()
            && frames.sums.len() >= out.len(),
        "int8_panel_cosines: {} outputs from a query of {} groups need whole panels, {} groups, and {} norms and sums, got {}, {} and {}",
        out.len(),
        per_panel,
        panels * per_panel,
        out.len(),
        frames.groups.len(),
        frames.inverse_norms.len(),
        frames.sums.len()
    );
    match kernels {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2Fma if avx2_fma_available() => {
            x86_int8::int8_panel_cosines(byte_products(), query, query_inverse_norm, frames, out)
        }
        _ => portable::int8_panel_cosines(query, query_inverse_norm, frames, out),
    }
}

/// Writes to `out` the cosine distances from every frame of the first `lane_panels` int8
/// panels of `lanes` to each of the eight frames of the single panel `panel`, by the panel's
/// columns: `out[c · 8 · lane_panels + i]` is frame `i` of `lanes` against the panel's frame
/// `c`, the value [`int8_panel_cosines`] gives for the same pair either way round. One call
/// covers what would otherwise take one call per frame of the panel, each with its own setup
/// and its own blocks, and each column comes out in one piece.
pub(crate) fn int8_lanes_to_panel(
    kernels: KernelSet,
    lanes: Int8PanelFrames<'_>,
    lane_panels: usize,
    panel: Int8PanelFrames<'_>,
    out: &mut [f32],
) {
    let per_panel = panel.groups.len();
    let frames = lane_panels * PANEL_FRAMES;
    assert!(
        out.len() == frames * PANEL_FRAMES
            && lanes.groups.len() >= lane_panels * per_panel
            && lanes.inverse_norms.len() >= frames
            && panel.inverse_norms.len() == PANEL_FRAMES
            && panel.sums.len() == PANEL_FRAMES,
        "int8_lanes_to_panel: {lane_panels} panels of lanes against one panel of {per_panel} groups need {} outputs, {} lane groups, {frames} lane norms and 8 panel norms and sums, got {}, {}, {}, {} and {}",
        frames * PANEL_FRAMES,
        lane_panels * per_panel,
        out.len(),
        lanes.groups.len(),
        lanes.inverse_norms.len(),
        panel.inverse_norms.len(),
        panel.sums.len()
    );
    match kernels {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2Fma if avx2_fma_available() => {
            x86_int8::int8_lanes_to_panel(byte_products(), lanes, lane_panels, panel, out)
        }
        _ => {
            let mut lane_out = [0.0; PANEL_FRAMES];
            for i in 0..frames {
                portable::int8_panel_cosines(lanes.lane(per_panel, i), lanes.inverse_norms[i], panel, &mut lane_out);
                for (c, &distance) in lane_out.iter().enumerate() {
                    out[c * frames + i] = distance;
                }
            }
        }
    }
}

/// The cosine distance from a dot product and the two inverse norms, in the order of
/// operations every kernel set uses.
#[inline]
pub(crate) fn cosine_from_inverse_norms(dot: f32, query_inverse_norm: f32, inverse_norm: f32) -> f32 {
    (1.0 - dot * (inverse_norm * query_inverse_norm)).clamp(0.0, 2.0)
}

/// The cost of full DTW of `live` against `reference`, or `None` when this kernel set has no
/// full-DTW kernel (the caller then runs its own row-by-row loop).
pub(crate) fn full_dtw_cost(
    kernels: KernelSet,
    live: &FeatureMatrix,
    reference: &FeatureMatrix,
    distance: Distance,
    weights: StepWeights,
) -> Option<f32> {
    match kernels {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2Fma if avx2_fma_available() => {
            Some(x86_wavefront::full_dtw_cost(live, reference, distance, weights))
        }
        _ => None,
    }
}

/// Writes `out[k] = min(entered[k], out[k−1] + step[k])` for every k, with `out[−1] = ∞`: the
/// costs of a strip of DTW cells given each cell's best entry from beside (`entered`) and the
/// cost of the step into it along the strip. All three slices have the same length.
pub(crate) fn min_plus_scan(kernels: KernelSet, entered: &[f32], step: &[f32], out: &mut [f32]) {
    assert!(
        entered.len() == out.len() && step.len() == out.len(),
        "min_plus_scan: lengths {} {} {} differ",
        entered.len(),
        step.len(),
        out.len()
    );
    match kernels {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2Fma if avx2_fma_available() => x86_scan::min_plus_scan(entered, step, out),
        _ => portable::min_plus_scan(entered, step, out),
    }
}

/// What a slope-limited step along the stream (one query frame held over two stream frames)
/// pays for its two cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeldQueryFrame {
    /// Both distances in full: every cell passed through counts once.
    PaysBoth,
    /// Their mean: every path pays one distance per query frame, whatever its tempo.
    PaysMean,
}

/// Cells 2.. of a column of the relocation search's slope-limited paths ([`super::subsequence`]),
/// each at the same offset `k` in every slice: the cell is entered diagonally
/// (`diagonal_cost`), two cells along the query through the cell between (`query_cost` plus
/// `query_through`) or two along the stream likewise (`stream_cost` plus `stream_through`), the
/// cheapest strictly (the diagonal, then the query, on ties); `here` is its own distance, and
/// each path's start goes with its cost. With [`HeldQueryFrame::PaysMean`] the candidates are
/// compared with `here` in them, the stream's two cells (`stream_through` and `here`) at half
/// weight.
#[derive(Debug)]
pub(crate) struct SlopeLimitedColumn<'a> {
    pub held: HeldQueryFrame,
    pub diagonal_cost: &'a [f32],
    pub diagonal_start: &'a [u32],
    pub query_cost: &'a [f32],
    pub query_start: &'a [u32],
    pub query_through: &'a [f32],
    pub stream_cost: &'a [f32],
    pub stream_start: &'a [u32],
    pub stream_through: &'a [f32],
    pub here: &'a [f32],
    pub next_cost: &'a mut [f32],
    pub next_start: &'a mut [u32],
}

/// Fills `column.next_cost` and `column.next_start`. Every choice is a compare, so both kernel
/// sets give the same bits. Marked for inlining: it runs once per stream frame for a few
/// registers of cells, and its caller's slicing already fixes the lengths it checks.
#[inline]
pub(crate) fn slope_limited_column(kernels: KernelSet, column: SlopeLimitedColumn<'_>) {
    let n = column.next_cost.len();
    let inputs = [
        column.diagonal_cost.len(),
        column.diagonal_start.len(),
        column.query_cost.len(),
        column.query_start.len(),
        column.query_through.len(),
        column.stream_cost.len(),
        column.stream_start.len(),
        column.stream_through.len(),
        column.here.len(),
        column.next_start.len(),
    ];
    assert!(
        inputs.iter().all(|&len| len == n),
        "slope_limited_column: {n} cells need every slice of that length, got {inputs:?}"
    );
    match kernels {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2Fma if avx2_fma_available() => x86_slope::slope_limited_column(column),
        _ => portable::slope_limited_column(column, 0),
    }
}

/// Work made of plain loops that vectorise better in wider registers: [`vectorised`] runs it
/// compiled for AVX2 and FMA where the processor has them.
pub(crate) trait WideWork {
    /// What the work returns.
    type Output;

    /// Does the work. Implementations mark it `#[inline(always)]`, and the functions it calls
    /// likewise, so that they are compiled into the caller and its instruction set.
    fn run(self) -> Self::Output;
}

/// Runs `work` compiled for the wider vectors of `kernels`: with AVX2 its loops run eight lanes
/// wide where the baseline target's run four. Results equal the portable set's (Rust never fuses
/// a multiply and an add of its own accord).
pub(crate) fn vectorised<W: WideWork>(kernels: KernelSet, work: W) -> W::Output {
    match kernels {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2Fma if avx2_fma_available() => x86_wide::vectorised(work),
        _ => work.run(),
    }
}

/// The position of the lowest value of `values`, the first on ties, or `None` if none is finite
/// (a NaN never wins).
pub(crate) fn lowest_finite(kernels: KernelSet, values: &[f32]) -> Option<usize> {
    match kernels {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2Fma if avx2_fma_available() => x86_lowest::lowest_finite(values),
        _ => portable::lowest_finite(values),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::{full_dtw, inverse_norm};
    use proptest::prelude::*;

    const ALL_DISTANCES: [Distance; 4] = [
        Distance::Cosine,
        Distance::Euclidean,
        Distance::SquaredEuclidean,
        Distance::Manhattan,
    ];

    fn matrix(dim: usize, len: usize, seed: &[f32]) -> FeatureMatrix {
        let values = (0..len * dim)
            .map(|k| seed[k % seed.len()] * (1.0 + (k / seed.len()) as f32))
            .collect();
        FeatureMatrix::new(dim, values).unwrap()
    }

    /// The x86 int8 kernels' byte products this processor runs: AVX2's, and VNNI's where it has
    /// them (none without AVX2).
    #[cfg(target_arch = "x86_64")]
    fn byte_products_here() -> Vec<x86_int8::ByteProducts> {
        [
            (x86_int8::ByteProducts::Avx2, avx2_fma_available()),
            (x86_int8::ByteProducts::Vnni, avx2_fma_available() && vnni_detected()),
        ]
        .into_iter()
        .filter_map(|(products, available)| available.then_some(products))
        .collect()
    }

    proptest! {
        /// Both kernel sets give the distances `Distance::between_with_inverse_norms` gives.
        #[test]
        fn panel_kernels_equal_single_distances(
            dim in 1usize..40,
            panels in 1usize..7,
            seed in proptest::collection::vec(-3.0f32..3.0, 64),
        ) {
            let frames = matrix(dim, panels * PANEL_FRAMES - 3, &seed);
            let query: Vec<f32> = seed.iter().rev().cycle().take(dim).copied().collect();
            for kernels in [KernelSet::Portable, KernelSet::active()] {
                for distance in ALL_DISTANCES {
                    let mut out = vec![f32::NAN; panels * PANEL_FRAMES];
                    let norms: Vec<f32> = (0..panels * PANEL_FRAMES)
                        .map(|k| if k < frames.len() { frames.frame_inverse_norm(k) } else { 0.0 })
                        .collect();
                    let mut all_panels = vec![0.0; panels * PANEL_FRAMES * dim];
                    for (p, panel) in all_panels.chunks_exact_mut(PANEL_FRAMES * dim).enumerate() {
                        frames.copy_panel(p, panel);
                    }
                    let from = Query { values: &query, inverse_norm: inverse_norm(&query), distance };
                    panel_distances(kernels, from, Frames { values: &all_panels, inverse_norms: &norms }, &mut out);
                    for (k, &got) in out.iter().enumerate().take(frames.len()) {
                        let expected = distance.between_with_inverse_norms(&query, inverse_norm(&query), &frames.frame(k), frames.frame_inverse_norm(k));
                        prop_assert!((got - expected).abs() <= 1e-4 * expected.abs().max(1.0), "{kernels:?} {distance:?} frame {k}: {got} vs {expected}");
                    }
                }
            }
        }

        /// Both kernel sets' row distances equal single distances, for any dimension.
        #[test]
        fn row_kernels_equal_single_distances(
            dim in 1usize..150,
            frames in 1usize..11,
            seed in proptest::collection::vec(-3.0f32..3.0, 64),
        ) {
            let rows = matrix(dim, frames, &seed);
            let query: Vec<f32> = seed.iter().rev().cycle().take(dim).copied().collect();
            let values: Vec<f32> = (0..frames).flat_map(|k| rows.frame(k).to_vec()).collect();
            let norms: Vec<f32> = (0..frames).map(|k| rows.frame_inverse_norm(k)).collect();
            for kernels in [KernelSet::Portable, KernelSet::active()] {
                for distance in ALL_DISTANCES {
                    let mut out = vec![f32::NAN; frames];
                    let from = Query { values: &query, inverse_norm: inverse_norm(&query), distance };
                    row_distances(kernels, from, Rows { values: EncodedRows::F32(&values), inverse_norms: &norms }, &mut out);
                    for (k, &got) in out.iter().enumerate() {
                        let expected = distance.between_with_inverse_norms(&query, inverse_norm(&query), &rows.frame(k), rows.frame_inverse_norm(k));
                        prop_assert!((got - expected).abs() <= 1e-4 * expected.abs().max(1.0), "{kernels:?} {distance:?} frame {k}: {got} vs {expected}");
                    }
                }
            }
        }

        /// Row distances over f16 and int8 rows equal, bit for bit, those over the same rows
        /// widened to f32 first, in both kernel sets: the kernels widen exactly as decoding does.
        #[test]
        fn encoded_rows_give_the_distances_of_their_decoded_values(
            dim in 1usize..150,
            frames in 1usize..11,
            seed in proptest::collection::vec(-3.0f32..3.0, 64),
            bytes in proptest::collection::vec(any::<i8>(), 1..300),
        ) {
            let values = (0..frames * dim).map(|k| seed[k % seed.len()] * (1.0 + (k / seed.len()) as f32));
            let halves: Vec<u16> = values.map(|v| half::f16::from_f32(v).to_bits()).collect();
            let scales: Vec<f32> = (0..frames).map(|k| seed[k % seed.len()].abs() / 127.0).collect();
            let ints: Vec<i8> = (0..frames * dim).map(|k| bytes[k % bytes.len()]).collect();
            let query: Vec<f32> = seed.iter().rev().cycle().take(dim).copied().collect();
            for encoded in [EncodedRows::F16(&halves), EncodedRows::Int8 { scales: &scales, values: &ints }] {
                let decoded = encoded.to_f32(dim);
                let norms: Vec<f32> = decoded.chunks_exact(dim).map(inverse_norm).collect();
                for kernels in [KernelSet::Portable, KernelSet::active()] {
                    for distance in ALL_DISTANCES {
                        let from = Query { values: &query, inverse_norm: inverse_norm(&query), distance };
                        let (mut got, mut expected) = (vec![f32::NAN; frames], vec![f32::NAN; frames]);
                        row_distances(kernels, from, Rows { values: encoded, inverse_norms: &norms }, &mut got);
                        row_distances(kernels, from, Rows { values: EncodedRows::F32(&decoded), inverse_norms: &norms }, &mut expected);
                        prop_assert_eq!(&got, &expected, "{:?} {:?} {:?}", kernels, distance, encoded);
                    }
                }
            }
        }

        /// Both kernel sets give, bit for bit, the cosine of the integers' dot product, for
        /// any number of groups and panels (crossing the four-panel blocks), the extremes ±127
        /// and zero vectors included.
        #[test]
        fn int8_panel_kernels_give_exact_integer_cosines(
            per_panel in 1usize..40,
            panels in 1usize..10,
            bytes in proptest::collection::vec(prop_oneof![4 => -127i8..=127, 1 => Just(127i8), 1 => Just(-127i8), 1 => Just(0i8)], 1..500),
            norms in proptest::collection::vec(0.0f32..0.1, 1..80),
        ) {
            let integer = |k: usize| bytes[(k * 7 + k / bytes.len()) % bytes.len()];
            let query: Vec<i8> = (0..per_panel * 4).map(|k| integer(k + 999)).collect();
            let groups: Vec<Int8Group> = (0..panels * per_panel)
                .map(|g| Int8Group(std::array::from_fn(|b| integer(g * 32 + b))))
                .collect();
            let inverse_norms: Vec<f32> = (0..panels * PANEL_FRAMES).map(|k| norms[k % norms.len()]).collect();
            let sums: Vec<i32> = (0..panels * PANEL_FRAMES)
                .map(|frame| {
                    let (panel, lane) = (frame / PANEL_FRAMES, frame % PANEL_FRAMES);
                    groups[panel * per_panel..(panel + 1) * per_panel]
                        .iter()
                        .flat_map(|group| &group.0[lane * 4..lane * 4 + 4])
                        .map(|&v| i32::from(v))
                        .sum()
                })
                .collect();
            let frames = Int8PanelFrames { groups: &groups, inverse_norms: &inverse_norms, sums: &sums };
            let query_inverse_norm = norms[0];
            let expected: Vec<f32> = (0..panels * PANEL_FRAMES)
                .map(|frame| {
                    let (panel, lane) = (frame / PANEL_FRAMES, frame % PANEL_FRAMES);
                    let dot: i32 = (0..per_panel * 4)
                        .map(|k| i32::from(groups[panel * per_panel + k / 4].0[lane * 4 + k % 4]) * i32::from(query[k]))
                        .sum();
                    cosine_from_inverse_norms(dot as f32, query_inverse_norm, inverse_norms[frame])
                })
                .collect();
            for kernels in [KernelSet::Portable, KernelSet::active()] {
                let mut out = vec![f32::NAN; panels * PANEL_FRAMES];
                int8_panel_cosines(kernels, query.as_slice(), query_inverse_norm, frames, &mut out);
                prop_assert_eq!(&out, &expected, "{:?}", kernels);
            }
            // AVX2's instructions where the active set uses VNNI's, and the other way.
            #[cfg(target_arch = "x86_64")]
            for products in byte_products_here() {
                let mut out = vec![f32::NAN; panels * PANEL_FRAMES];
                x86_int8::int8_panel_cosines(products, query.as_slice(), query_inverse_norm, frames, &mut out);
                prop_assert_eq!(&out, &expected, "{:?}", products);
            }
            // Every frame as a lane against the last panel's eight frames, by the panel's columns.
            let last = panels - 1;
            let lane_panels = (bytes.len() % panels).max(1);
            let panel = Int8PanelFrames {
                groups: &groups[last * per_panel..],
                inverse_norms: &inverse_norms[last * PANEL_FRAMES..],
                sums: &sums[last * PANEL_FRAMES..],
            };
            let value = |frame: usize, k: usize| {
                i32::from(groups[frame / PANEL_FRAMES * per_panel + k / 4].0[frame % PANEL_FRAMES * 4 + k % 4])
            };
            let rows = lane_panels * PANEL_FRAMES;
            let expected: Vec<f32> = (0..rows * PANEL_FRAMES)
                .map(|cell| {
                    let (column, lane) = (last * PANEL_FRAMES + cell / rows, cell % rows);
                    let dot: i32 = (0..per_panel * 4).map(|k| value(lane, k) * value(column, k)).sum();
                    cosine_from_inverse_norms(dot as f32, inverse_norms[lane], inverse_norms[column])
                })
                .collect();
            for kernels in [KernelSet::Portable, KernelSet::active()] {
                let mut out = vec![f32::NAN; rows * PANEL_FRAMES];
                int8_lanes_to_panel(kernels, frames, lane_panels, panel, &mut out);
                prop_assert_eq!(&out, &expected, "lanes to a panel, {:?}", kernels);
            }
            #[cfg(target_arch = "x86_64")]
            for products in byte_products_here() {
                let mut out = vec![f32::NAN; rows * PANEL_FRAMES];
                x86_int8::int8_lanes_to_panel(products, frames, lane_panels, panel, &mut out);
                prop_assert_eq!(&out, &expected, "lanes to a panel, {:?}", products);
            }
        }

        /// Both kernel sets find the first lowest finite value, as a plain search does.
        #[test]
        fn lowest_values_are_found_as_one_by_one(
            values in proptest::collection::vec(prop_oneof![
                4 => 0.0f32..10.0,
                1 => Just(f32::INFINITY),
                1 => Just(f32::NAN),
                2 => Just(3.0f32),
            ], 0..70),
        ) {
            let mut expected: Option<usize> = None;
            for (k, &value) in values.iter().enumerate() {
                if value.is_finite() && expected.is_none_or(|best| value < values[best]) {
                    expected = Some(k);
                }
            }
            for kernels in [KernelSet::Portable, KernelSet::active()] {
                prop_assert_eq!(lowest_finite(kernels, &values), expected, "{:?}", kernels);
            }
        }

        /// The eight-lane slope-limited column equals the cell-by-cell one bit for bit, for any
        /// length, with unreachable cells and ties, whatever a held query frame pays.
        #[test]
        fn slope_limited_columns_agree(
            cells in proptest::collection::vec(
                (proptest::collection::vec(prop_oneof![4 => 0.0f32..5.0, 1 => Just(1.0f32), 1 => Just(f32::INFINITY)], 6), 0u32..1_000, 0u32..1_000, 0u32..1_000),
                0..40,
            ),
            pays_mean in any::<bool>(),
        ) {
            let held = if pays_mean { HeldQueryFrame::PaysMean } else { HeldQueryFrame::PaysBoth };
            let value = |which: usize| -> Vec<f32> { cells.iter().map(|(v, ..)| v[which]).collect() };
            let (diagonal_cost, query_cost, query_through) = (value(0), value(1), value(2));
            let (stream_cost, stream_through, here) = (value(3), value(4), value(5));
            let diagonal_start: Vec<u32> = cells.iter().map(|c| c.1).collect();
            let query_start: Vec<u32> = cells.iter().map(|c| c.2).collect();
            let stream_start: Vec<u32> = cells.iter().map(|c| c.3).collect();
            let n = cells.len();
            let run = |kernels: KernelSet| {
                let (mut next_cost, mut next_start) = (vec![f32::NAN; n], vec![u32::MAX; n]);
                slope_limited_column(kernels, SlopeLimitedColumn {
                    held,
                    diagonal_cost: &diagonal_cost,
                    diagonal_start: &diagonal_start,
                    query_cost: &query_cost,
                    query_start: &query_start,
                    query_through: &query_through,
                    stream_cost: &stream_cost,
                    stream_start: &stream_start,
                    stream_through: &stream_through,
                    here: &here,
                    next_cost: &mut next_cost,
                    next_start: &mut next_start,
                });
                (next_cost.iter().map(|c| c.to_bits()).collect::<Vec<_>>(), next_start)
            };
            prop_assert_eq!(run(KernelSet::active()), run(KernelSet::Portable));
        }

        /// The eight-lane scan equals the cell-by-cell one (up to rounding: it adds in another
        /// order), for any length and with unreachable cells.
        #[test]
        fn min_plus_scans_agree(
            values in proptest::collection::vec((0.0f32..50.0, 0.0f32..3.0, proptest::bool::weighted(0.2)), 0..70),
        ) {
            let entered: Vec<f32> = values.iter().map(|&(e, _, unreachable)| if unreachable { f32::INFINITY } else { e }).collect();
            let step: Vec<f32> = values.iter().map(|&(_, s, _)| s).collect();
            let mut expected = vec![0.0; values.len()];
            portable::min_plus_scan(&entered, &step, &mut expected);
            let mut got = vec![0.0; values.len()];
            min_plus_scan(KernelSet::active(), &entered, &step, &mut got);
            for (k, (&g, &e)) in got.iter().zip(&expected).enumerate() {
                prop_assert!(g == e || (g - e).abs() <= 1e-5 * e.abs().max(1.0), "cell {k}: {g} vs {e}");
            }
        }

        /// The wavefront's full-DTW cost equals the full cost matrix's, for any shape, distance
        /// and step weights (shapes cross the 16-row blocks and the 4-step groups).
        #[test]
        fn wavefront_cost_equals_the_full_matrix(
            dim in 1usize..20,
            rows in 1usize..50,
            cols in 1usize..50,
            weights in (0.5f32..3.0, 0.5f32..3.0, 0.5f32..3.0),
            seed in proptest::collection::vec(-2.0f32..2.0, 97),
        ) {
            let live = matrix(dim, rows, &seed);
            let reference = matrix(dim, cols, &seed[13..]);
            let weights = StepWeights { live: weights.0, reference: weights.1, diagonal: weights.2 };
            for distance in ALL_DISTANCES {
                let expected = full_dtw(&live, &reference, distance, weights).unwrap().cost;
                match full_dtw_cost(KernelSet::active(), &live, &reference, distance, weights) {
                    Some(got) => prop_assert!(
                        (got - expected).abs() <= 1e-4 * expected.abs().max(1.0),
                        "{distance:?} {rows}x{cols}: {got} vs {expected}"
                    ),
                    None => prop_assert_eq!(KernelSet::active(), KernelSet::Portable),
                }
            }
        }
    }
}
