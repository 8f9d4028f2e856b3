//! Frames quantised to 8-bit integers for cosine distances: [`Int8Frame`] (one vector, the
//! query) and [`Int8Panels`] (many frames, laid out for [`super::kernels::int8_panel_cosines`]).
//!
//! Each frame is scaled on its own so that its largest magnitude becomes 127, and rounded:
//! every value is then within half a step (`max |x| / 254`) of the original. The cosine of two
//! quantised frames needs no scale at all (it cancels), only their integer dot product and the
//! inverse norms of their integer values, and integer dot products are exact: the kernels agree
//! bit for bit whatever order they add in. A quarter of the f32 bytes per value means a quarter
//! of the memory traffic, which is what bounds f32 distances once a band outgrows the L1 cache.
//!
//! Panel `p` holds frames `8p .. 8p + 8`, in groups of four dimensions: group `g` is 32 bytes,
//! frame `8p + f`'s values `4g .. 4g + 4` at bytes `4f .. 4f + 4`. Dimensions are padded with
//! zeros to a multiple of four, frames to a multiple of eight. This module owns the layout and
//! the quantisation; the arithmetic lives in the kernels.

use std::ops::Range;

use super::kernels::{
    cosine_from_inverse_norms, int8_lanes_to_panel, int8_panel_cosines, vectorised, Int8Group, Int8PanelFrames,
    Int8QueryGroups, KernelSet, PanelLane, WideWork, PANEL_FRAMES,
};

/// Dimensions per group.
pub(crate) const GROUP_DIMS: usize = 4;

/// 1.5 · 2²³: a float of this size has no fraction bits, so adding it rounds to an integer,
/// which for sums within ±2²² is the low bits of the sum's representation.
const ROUNDING: f32 = 12_582_912.0;

/// Writes `frame` quantised into `out` (at least `frame.len()` values; the rest are zeroed)
/// and returns the inverse L2 norm of the integers (0 for a frame of zeros).
fn quantise_into(frame: &[f32], out: &mut [i8]) -> f32 {
    vectorised(KernelSet::active(), Quantise { frame, out })
}

/// One frame's quantisation, as loops without early exits that run in SIMD lanes (eight wide
/// where the processor has AVX2: a frame is quantised for every live step, and twice more
/// for its row and column).
struct Quantise<'a> {
    frame: &'a [f32],
    out: &'a mut [i8],
}

impl WideWork for Quantise<'_> {
    type Output = f32;

    #[inline(always)]
    fn run(self) -> f32 {
        let Quantise { frame, out } = self;
        out.fill(0);
        // A frame with a value that is not a number has no direction to keep: it is treated as
        // silence, not scaled by an infinite or undefined step.
        let finite = frame.iter().fold(true, |finite, v| finite & v.is_finite());
        let largest = frame.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if !finite || largest == 0.0 {
            return 0.0;
        }
        for (step, &value) in out.iter_mut().zip(frame) {
            // Divided first: `127 / largest` overflows for the smallest subnormal largest
            // values. Rounded by adding 1.5 · 2²³, which leaves the nearest integer (ties to
            // even) in the low bits of the sum: a float add and an integer subtraction, where
            // `f32::round` is a library call on the baseline target and a checked conversion
            // keeps the loop out of SIMD lanes.
            let scaled = value / largest * 127.0;
            *step = ((scaled + ROUNDING).to_bits() as i32 - ROUNDING.to_bits() as i32) as i8;
        }
        let squares: i32 = out.iter().map(|&step| i32::from(step) * i32::from(step)).sum();
        if squares == 0 {
            0.0
        } else {
            (1.0 / f64::from(squares).sqrt()) as f32
        }
    }
}

/// The sum of a frame's integers.
fn integer_sum(values: &[i8]) -> i32 {
    values.iter().map(|&v| i32::from(v)).sum()
}

/// One vector quantised, padded with zeros to whole groups.
#[derive(Debug, Clone)]
pub(crate) struct Int8Frame {
    values: Vec<i8>,
    inverse_norm: f32,
}

impl Int8Frame {
    /// Zeros, for vectors of `dim` values.
    pub(crate) fn new(dim: usize) -> Self {
        Self {
            values: vec![0; dim.div_ceil(GROUP_DIMS) * GROUP_DIMS],
            inverse_norm: 0.0,
        }
    }

    /// Holds `frame` quantised from now on; it has the `dim` values given to [`Int8Frame::new`].
    pub(crate) fn quantise(&mut self, frame: &[f32]) {
        self.inverse_norm = quantise_into(frame, &mut self.values);
    }

    /// The integers, padded to whole groups.
    pub(crate) fn values(&self) -> &[i8] {
        &self.values
    }

    /// Inverse L2 norm of the integers.
    pub(crate) fn inverse_norm(&self) -> f32 {
        self.inverse_norm
    }
}

/// Frames quantised, in panels (see the module documentation), each in a numbered slot.
#[derive(Debug, Clone)]
pub(crate) struct Int8Panels {
    groups_per_panel: usize,
    /// `groups_per_panel` groups per panel.
    groups: Vec<Int8Group>,
    /// One per slot, 0 for empty slots.
    inverse_norms: Vec<f32>,
    /// One per slot: the sum of its frame's integers, 0 for empty slots.
    sums: Vec<i32>,
    /// A frame's integers, before they are spread into the groups.
    scratch: Vec<i8>,
}

impl Int8Panels {
    /// Empty slots (zeros) for at least `slots` frames of `dim` values.
    pub(crate) fn new(dim: usize, slots: usize) -> Self {
        let mut panels = Self {
            groups_per_panel: dim.div_ceil(GROUP_DIMS),
            groups: Vec::new(),
            inverse_norms: Vec::new(),
            sums: Vec::new(),
            scratch: vec![0; dim.div_ceil(GROUP_DIMS) * GROUP_DIMS],
        };
        panels.grow_to(slots);
        panels
    }

    /// Slots held: a multiple of [`PANEL_FRAMES`].
    pub(crate) fn slots(&self) -> usize {
        self.inverse_norms.len()
    }

    /// Adds empty slots until there are at least `slots`.
    pub(crate) fn grow_to(&mut self, slots: usize) {
        let slots = slots.next_multiple_of(PANEL_FRAMES);
        if slots > self.slots() {
            self.inverse_norms.resize(slots, 0.0);
            self.sums.resize(slots, 0);
            self.groups
                .resize(slots / PANEL_FRAMES * self.groups_per_panel, Int8Group([0; 32]));
        }
    }

    /// Puts `frame` quantised into slot `slot` (which must be held).
    pub(crate) fn set(&mut self, slot: usize, frame: &[f32]) {
        let inverse_norm = quantise_into(frame, &mut self.scratch);
        Self::spread(&mut self.groups, self.groups_per_panel, slot, &self.scratch);
        self.inverse_norms[slot] = inverse_norm;
        self.sums[slot] = integer_sum(&self.scratch);
    }

    /// Puts a frame already quantised into slot `slot` (which must be held).
    pub(crate) fn set_quantised(&mut self, slot: usize, frame: &Int8Frame) {
        Self::spread(&mut self.groups, self.groups_per_panel, slot, frame.values());
        self.inverse_norms[slot] = frame.inverse_norm();
        self.sums[slot] = integer_sum(frame.values());
    }

    /// Writes slot `slot`'s frame, quantised as it is held, to `out`.
    pub(crate) fn get(&self, slot: usize, out: &mut Int8Frame) {
        let (panel, lane) = (slot / PANEL_FRAMES, slot % PANEL_FRAMES);
        let groups = &self.groups[panel * self.groups_per_panel..(panel + 1) * self.groups_per_panel];
        for (values, group) in out.values.chunks_exact_mut(GROUP_DIMS).zip(groups) {
            values.copy_from_slice(&group.0[lane * GROUP_DIMS..(lane + 1) * GROUP_DIMS]);
        }
        out.inverse_norm = self.inverse_norms[slot];
    }

    /// Writes a frame's integers (`values`, whole groups) into lane `slot mod 8` of its panel.
    fn spread(groups: &mut [Int8Group], groups_per_panel: usize, slot: usize, values: &[i8]) {
        let (panel, lane) = (slot / PANEL_FRAMES, slot % PANEL_FRAMES);
        let groups = &mut groups[panel * groups_per_panel..(panel + 1) * groups_per_panel];
        for (group, values) in groups.iter_mut().zip(values.chunks_exact(GROUP_DIMS)) {
            group.0[lane * GROUP_DIMS..(lane + 1) * GROUP_DIMS].copy_from_slice(values);
        }
    }

    /// The cosine distance from `query` to the frame in slot `slot` alone: the same value the
    /// panel kernels give for it.
    pub(crate) fn cosine_to(&self, query: &Int8Frame, slot: usize) -> f32 {
        let (panel, lane) = (slot / PANEL_FRAMES, slot % PANEL_FRAMES);
        let groups = &self.groups[panel * self.groups_per_panel..(panel + 1) * self.groups_per_panel];
        let dot: i32 = groups
            .iter()
            .zip(query.values().chunks_exact(GROUP_DIMS))
            .flat_map(|(group, q)| group.0[lane * GROUP_DIMS..(lane + 1) * GROUP_DIMS].iter().zip(q))
            .map(|(&v, &q)| i32::from(v) * i32::from(q))
            .sum();
        cosine_from_inverse_norms(dot as f32, query.inverse_norm(), self.inverse_norms[slot])
    }

    /// Writes to `out` the cosine distances from `query` to the frames of panels `panels`
    /// (8 per panel, empty slots included: they are 1 away, as from a zero vector).
    pub(crate) fn cosines_to(&self, query: &Int8Frame, panels: Range<usize>, out: &mut Vec<f32>) {
        self.cosines_to_groups(query.values(), query.inverse_norm(), panels, out);
    }

    /// [`Int8Panels::cosines_to`] from the frame in slot `slot` of `stored` (of the same
    /// dimension), read where it is held.
    pub(crate) fn cosines_to_stored(&self, stored: &Int8Panels, slot: usize, panels: Range<usize>, out: &mut Vec<f32>) {
        let panel = slot / PANEL_FRAMES;
        let query = PanelLane {
            groups: &stored.groups[panel * stored.groups_per_panel..(panel + 1) * stored.groups_per_panel],
            lane: slot % PANEL_FRAMES,
        };
        self.cosines_to_groups(query, stored.inverse_norms[slot], panels, out);
    }

    /// Writes to `out` the cosine distances from every frame of this store's first
    /// `lane_panels` panels to each frame of panel `panel` of `stored` (of the same dimension),
    /// by `stored`'s frames: `out[c · 8 · lane_panels + i]` is frame `i` against `stored`'s slot
    /// `8 · panel + c`, as [`Int8Panels::cosines_to_stored`] gives it.
    pub(crate) fn lanes_to_stored_panel(
        &self,
        lane_panels: usize,
        stored: &Int8Panels,
        panel: usize,
        out: &mut Vec<f32>,
    ) {
        out.resize(lane_panels * PANEL_FRAMES * PANEL_FRAMES, 0.0);
        let slots = panel * PANEL_FRAMES..(panel + 1) * PANEL_FRAMES;
        let panel = Int8PanelFrames {
            groups: &stored.groups[panel * stored.groups_per_panel..(panel + 1) * stored.groups_per_panel],
            inverse_norms: &stored.inverse_norms[slots.clone()],
            sums: &stored.sums[slots],
        };
        let lanes = Int8PanelFrames {
            groups: &self.groups,
            inverse_norms: &self.inverse_norms,
            sums: &self.sums,
        };
        int8_lanes_to_panel(KernelSet::active(), lanes, lane_panels, panel, out);
    }

    fn cosines_to_groups<Q: Int8QueryGroups>(
        &self,
        query: Q,
        query_inverse_norm: f32,
        panels: Range<usize>,
        out: &mut Vec<f32>,
    ) {
        // Every value is written by the kernel: only a new length needs filling.
        out.resize(panels.len() * PANEL_FRAMES, 0.0);
        let slots = panels.start * PANEL_FRAMES..panels.end * PANEL_FRAMES;
        let frames = Int8PanelFrames {
            groups: &self.groups[panels.start * self.groups_per_panel..panels.end * self.groups_per_panel],
            inverse_norms: &self.inverse_norms[slots.clone()],
            sums: &self.sums[slots],
        };
        int8_panel_cosines(KernelSet::active(), query, query_inverse_norm, frames, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::{cosine_distance, Distance};
    use proptest::prelude::*;

    #[test]
    fn quantised_values_are_within_half_a_step() {
        let frame = [0.5f32, -2.0, 0.013, 1.999, 0.0];
        let mut q = Int8Frame::new(frame.len());
        q.quantise(&frame);
        assert_eq!(q.values().len(), 8);
        assert_eq!(q.values()[1], -127);
        let step = 2.0 / 127.0;
        for (&v, &x) in q.values().iter().zip(&frame) {
            assert!((f32::from(v) * step - x).abs() <= step / 2.0 + 1e-6, "{v} for {x}");
        }
        assert!(q.values()[5..].iter().all(|&v| v == 0));
    }

    #[test]
    fn frames_read_back_as_they_were_quantised() {
        let frame = [0.3f32, -1.0, 0.25, 0.5, 0.0, 0.125];
        let mut quantised = Int8Frame::new(frame.len());
        quantised.quantise(&frame);
        let mut panels = Int8Panels::new(frame.len(), 20);
        panels.set(13, &frame);
        panels.set_quantised(2, &quantised);
        for slot in [2, 13] {
            let mut read = Int8Frame::new(frame.len());
            panels.get(slot, &mut read);
            assert_eq!(read.values(), quantised.values(), "slot {slot}");
            assert_eq!(read.inverse_norm(), quantised.inverse_norm(), "slot {slot}");
        }
    }

    #[test]
    fn zero_and_unusable_frames_quantise_to_zeros() {
        let mut q = Int8Frame::new(3);
        for frame in [[0.0f32; 3], [f32::NAN, 1.0, 2.0], [f32::INFINITY, 0.0, 1.0]] {
            q.quantise(&frame);
            assert!(
                q.values().iter().all(|&v| v == 0) && q.inverse_norm() == 0.0,
                "{frame:?}"
            );
        }
    }

    proptest! {
        /// The cosine distance of two quantised frames is within what half a step on every
        /// value can move it: each frame moves by at most `√d · max / 254`, at most `√d / 254`
        /// of its length, which turns it by at most that angle (times π/2), and a cosine moves
        /// no more than the angle between the frames does.
        #[test]
        fn quantised_cosines_are_close_to_exact_ones(
            dim in 1usize..70,
            frames in 1usize..20,
            seed in proptest::collection::vec(-3.0f32..3.0, 97),
        ) {
            let frame = |k: usize| -> Vec<f32> { (0..dim).map(|d| seed[(k * 31 + d * 7) % seed.len()]).collect() };
            let mut panels = Int8Panels::new(dim, frames);
            for k in 0..frames {
                panels.set(k, &frame(k));
            }
            let live = frame(1000);
            let mut query = Int8Frame::new(dim);
            query.quantise(&live);
            let mut out = Vec::new();
            panels.cosines_to(&query, 0..panels.slots() / PANEL_FRAMES, &mut out);
            let bound = std::f32::consts::PI * (dim as f32).sqrt() / 254.0 + 1e-5;
            for (k, &got) in out.iter().enumerate().take(frames) {
                let exact = cosine_distance(&live, &frame(k));
                prop_assert!((got - exact).abs() <= bound, "frame {k}: {got} vs {exact} (bound {bound})");
            }
            for (k, &got) in out.iter().enumerate() {
                prop_assert_eq!(panels.cosine_to(&query, k), got, "slot {}", k);
            }
            for &empty in &out[frames..] {
                prop_assert_eq!(empty, Distance::Cosine.between(&[0.0], &[0.0]));
            }
            // A frame read where other panels hold it gives the distances of the same frame
            // read out first.
            let mut stored = Int8Panels::new(dim, 12);
            stored.set(11, &live);
            let mut in_place = Vec::new();
            panels.cosines_to_stored(&stored, 11, 0..panels.slots() / PANEL_FRAMES, &mut in_place);
            prop_assert_eq!(&in_place, &out);
        }
    }
}
