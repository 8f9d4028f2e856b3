//! A reference's feature frames, stored row-major, with their inverse norms, and — for frames of
//! few dimensions — a second time in panels for computing many distances at once.
//!
//! A panel holds 8 consecutive frames dimension by dimension (see [`super::kernels`]), so that
//! the distances from one vector to many frames run across frames in SIMD lanes, not along one
//! frame's few dimensions. From [`PANELS_BELOW_DIM`] dimensions on, a frame's own dimensions fill
//! the lanes well enough, so distances run along the rows and the second copy, which would
//! double the memory of an hour-long reference, is not kept.
//!
//! The values are either owned (f32) or shared read-only from elsewhere ([`SharedValues`]), e.g.
//! a memory-mapped reference file, in any of the encodings of [`EncodedRows`]: an hour-long
//! reference then costs the process its inverse norms (4 bytes a frame) and pages the kernel may
//! drop and read again, not a private copy, and an f16 or int8 file is aligned on as it is
//! stored, at a half or a quarter of the f32 size.
//!
//! An aligner whose band runs in int8 ([`super::Precision`]) asks for the frames quantised too:
//! they are made once, on that first request, laid out for the int8 kernels, and kept up as the
//! matrix grows.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use super::int8_frames::{Int8Frame, Int8Panels};
use super::kernels::{panel_distances, row_distances, Frames, KernelSet, Query, Rows, PANEL_FRAMES};
use super::projection::ProjectedFrames;
use super::{inverse_norm, AlignError, Distance};
use crate::features::{CacheAligned, EncodedRows, FeatureValues, SharedValues};

/// Frames of at least this many values are not kept in panels.
pub const PANELS_BELOW_DIM: usize = 32;

/// `len` frames of `dim` features each, stored contiguously. Each frame's inverse L2 norm is kept
/// beside it so that cosine distances against it cost one dot product.
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    values: FeatureValues,
    /// One per frame, then zeros up to a whole number of panels.
    inverse_norms: Vec<f32>,
    /// Panel `b`, value `k` of frame `8b + lane`, at `(b · dim + k) · 8 + lane`; frames past the
    /// end are zeros. Empty from [`PANELS_BELOW_DIM`] dimensions on, unless asked for.
    panels: CacheAligned,
    keeps_panels: bool,
    /// The frames quantised, for aligners whose band runs in int8 ([`super::Precision`]):
    /// made the first time one asks for them, then kept up as the matrix grows.
    int8_panels: OnceLock<Int8Panels>,
    /// The spread of the frames under each [`Distance`] (in declaration order), with the lag it
    /// was measured at, measured the first time an aligner asks: every follower of a shared
    /// reference starts from it, and measuring costs thousands of distances. Forgotten when the
    /// matrix grows.
    spreads: [OnceLock<(usize, f32)>; 4],
    /// The frames averaged in groups of 2 to [`KEPT_POOLING_GROUPS`] (at `group − 2`), in each
    /// phase: made the first time a relocation search asks (every follower of a shared
    /// reference scans the same pooled frames, which are then quantised once too, whatever its
    /// window), each phase when first asked. Forgotten when the matrix grows.
    pooled: [OnceLock<PooledPhases>; KEPT_POOLING_GROUPS - 1],
    /// The frames projected onto their strongest directions, at the size first asked (see
    /// [`FeatureMatrix::projected`]). Forgotten when the matrix grows.
    projected: OnceLock<Arc<ProjectedFrames>>,
}

impl FeatureMatrix {
    /// Wraps row-major feature values; `values.len()` must be a multiple of `dim`.
    pub fn new(dim: usize, values: Vec<f32>) -> Result<Self, AlignError> {
        Ok(Self::from_values(FeatureValues::new(dim, values)?))
    }

    /// Reads row-major feature values kept elsewhere, without copying or widening them; the
    /// matrix keeps the inverse norms (and, below `PANELS_BELOW_DIM` values a frame, the
    /// panels, in f32). Int8 rows need one scale per frame.
    pub fn from_shared(dim: usize, values: Arc<dyn SharedValues>) -> Result<Self, AlignError> {
        Ok(Self::from_values(FeatureValues::from_shared(dim, values)?))
    }

    /// The matrix over `values` (a reference file's, for instance), with their inverse norms
    /// and panels computed now.
    pub fn from_values(values: FeatureValues) -> Self {
        let keeps_panels = values.dim() < PANELS_BELOW_DIM;
        let mut matrix = Self {
            values,
            inverse_norms: Vec::new(),
            panels: CacheAligned::default(),
            keeps_panels,
            int8_panels: OnceLock::new(),
            spreads: Default::default(),
            pooled: Default::default(),
            projected: OnceLock::new(),
        };
        matrix.rebuild_panels_from(0);
        matrix
    }

    /// The values, without the norms and panels (to write them to a reference file).
    pub fn into_values(self) -> FeatureValues {
        self.values
    }

    /// The same frames, kept in panels too whatever their dimension: for small matrices that
    /// many distances are computed against (a relocation query), where the panels cost little
    /// memory and are faster than rows up to about 64 values.
    pub fn with_panels(mut self) -> Self {
        if !self.keeps_panels {
            self.keeps_panels = true;
            self.rebuild_panels_from(0);
        }
        self
    }

    /// Rewrites the panels from the one holding frame `first` to the end.
    fn rebuild_panels_from(&mut self, first: usize) {
        let (dim, len) = (self.dim(), self.len());
        let rows = self.values.rows();
        let first_panel = first / PANEL_FRAMES;
        let panels = len.div_ceil(PANEL_FRAMES);
        self.inverse_norms.truncate(first_panel * PANEL_FRAMES);
        let mut frame_scratch = Vec::new();
        self.inverse_norms
            .extend((first_panel * PANEL_FRAMES..panels * PANEL_FRAMES).map(|frame| {
                if frame < len {
                    inverse_norm(rows.frame_in(frame, dim, &mut frame_scratch))
                } else {
                    0.0
                }
            }));
        if !self.has_panels() {
            return;
        }
        self.panels.resize(panels * dim * PANEL_FRAMES, 0.0);
        for panel in first_panel..panels {
            let start = (panel * dim) * PANEL_FRAMES;
            copy_panel_from(
                rows,
                dim,
                len,
                panel,
                &mut self.panels.as_mut_slice()[start..start + dim * PANEL_FRAMES],
            );
        }
    }

    /// Writes to `out` the distances from `query` (whose inverse norm is `query_inverse_norm`)
    /// to each frame in `frames`, in order.
    pub fn distances_to(
        &self,
        query: &[f32],
        query_inverse_norm: f32,
        frames: Range<usize>,
        distance: Distance,
        out: &mut Vec<f32>,
    ) {
        out.clear();
        let frames = frames.start..frames.end.min(self.len());
        if frames.is_empty() || query.len() != self.dim() {
            return;
        }
        let query = Query {
            values: query,
            inverse_norm: query_inverse_norm,
            distance,
        };
        if !self.has_panels() {
            out.resize(frames.len(), 0.0);
            let rows = Rows {
                values: self.values.rows().frames(frames.clone(), self.dim()),
                inverse_norms: &self.inverse_norms[frames.clone()],
            };
            row_distances(KernelSet::active(), query, rows, out);
            return;
        }
        let first_panel = frames.start / PANEL_FRAMES;
        let panels = (frames.end - 1) / PANEL_FRAMES + 1 - first_panel;
        let panel_len = self.dim() * PANEL_FRAMES;
        out.resize(panels * PANEL_FRAMES, 0.0);
        let panels = Frames {
            values: &self.panels.as_slice()[first_panel * panel_len..],
            inverse_norms: &self.inverse_norms[first_panel * PANEL_FRAMES..],
        };
        panel_distances(KernelSet::active(), query, panels, out);
        let skipped = frames.start - first_panel * PANEL_FRAMES;
        out.truncate(skipped + frames.len());
        out.drain(..skipped);
    }

    /// Writes to `out` the cosine distances from the quantised `query` to each frame in
    /// `frames` quantised, in order. The first call quantises the whole matrix (a byte a value)
    /// unless [`FeatureMatrix::int8_panels`] has.
    pub(crate) fn int8_cosines_to(&self, query: &Int8Frame, frames: Range<usize>, out: &mut Vec<f32>) {
        self.int8_cosines_over(frames, out, |panels, range, out| panels.cosines_to(query, range, out));
    }

    /// [`FeatureMatrix::int8_cosines_to`] from frame `index` of `stream` quantised, read where
    /// `stream` holds it (which quantises `stream` the first time, as the frames here).
    pub(crate) fn int8_cosines_to_stored(
        &self,
        stream: &FeatureMatrix,
        index: usize,
        frames: Range<usize>,
        out: &mut Vec<f32>,
    ) {
        self.int8_cosines_over(frames, out, |panels, range, out| {
            panels.cosines_to_stored(stream.int8_panels(), index, range, out)
        });
    }

    /// Writes to `out` the cosine distances from each of this matrix's frames (and the empty
    /// slots after them, up to a multiple of eight) to each of the eight frames of `stream`'s
    /// int8 panel `panel` (frames `8 · panel ..`, which `stream` must hold), by `stream`'s
    /// frames: `out[c · len8 + i]`, with `len8` this matrix's length rounded up to eight, is
    /// frame `i` against `stream`'s frame `8 · panel + c`, as [`Self::int8_cosines_to_stored`]
    /// gives it.
    pub(crate) fn int8_cosines_to_stored_panel(&self, stream: &FeatureMatrix, panel: usize, out: &mut Vec<f32>) {
        self.int8_panels()
            .lanes_to_stored_panel(self.len().div_ceil(PANEL_FRAMES), stream.int8_panels(), panel, out);
    }

    /// Runs `cosines` over the panels holding `frames` (within the matrix), then keeps in
    /// `out` the distances of those frames alone.
    fn int8_cosines_over(
        &self,
        frames: Range<usize>,
        out: &mut Vec<f32>,
        cosines: impl FnOnce(&Int8Panels, Range<usize>, &mut Vec<f32>),
    ) {
        let frames = frames.start..frames.end.min(self.len());
        if frames.is_empty() {
            out.clear();
            return;
        }
        let first_panel = frames.start / PANEL_FRAMES;
        cosines(
            self.int8_panels(),
            first_panel..(frames.end - 1) / PANEL_FRAMES + 1,
            out,
        );
        let skipped = frames.start - first_panel * PANEL_FRAMES;
        out.truncate(skipped + frames.len());
        out.drain(..skipped);
    }

    /// The cosine distance from the quantised `query` to frame `index` quantised (the value
    /// [`FeatureMatrix::int8_cosines_to`] gives for it).
    pub(crate) fn int8_cosine_to(&self, query: &Int8Frame, index: usize) -> f32 {
        self.int8_panels().cosine_to(query, index)
    }

    /// Writes frame `index` quantised to `out` (as the int8 distances see it).
    pub(crate) fn int8_frame(&self, index: usize, out: &mut Int8Frame) {
        self.int8_panels().get(index, out);
    }

    /// The frames quantised, made now if they are not yet.
    pub(crate) fn int8_panels(&self) -> &Int8Panels {
        self.int8_panels.get_or_init(|| {
            let mut panels = Int8Panels::new(self.dim(), self.len());
            self.quantise_from(0, &mut panels);
            panels
        })
    }

    /// Quantises frames `first..` into `panels`' slots of the same numbers.
    fn quantise_from(&self, first: usize, panels: &mut Int8Panels) {
        panels.grow_to(self.len());
        let mut scratch = Vec::new();
        for frame in first..self.len() {
            panels.set(frame, self.frame_in(frame, &mut scratch));
        }
    }

    fn has_panels(&self) -> bool {
        self.keeps_panels
    }

    /// Writes panel `index` (frames `8 · index .. 8 · index + 8`, zeros past the last) to `out`,
    /// which must hold `8 · dim` values.
    pub(crate) fn copy_panel(&self, index: usize, out: &mut [f32]) {
        copy_panel_from(self.values.rows(), self.dim(), self.len(), index, out);
    }

    /// Features per frame.
    pub fn dim(&self) -> usize {
        self.values.dim()
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no frames.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether the values are read from elsewhere ([`FeatureMatrix::from_shared`]) rather than
    /// held by the matrix.
    pub fn is_shared(&self) -> bool {
        self.values.is_shared()
    }

    /// The values as they are stored (f32, or f16 or int8 read in place).
    pub fn rows(&self) -> EncodedRows<'_> {
        self.values.rows()
    }

    /// Frame `index`: borrowed where the values are f32, widened into a copy where they are f16
    /// or int8. Panics if out of range, which is a caller bug, not bad input.
    pub fn frame(&self, index: usize) -> Cow<'_, [f32]> {
        self.values.frame(index)
    }

    /// Frame `index`, as [`FeatureMatrix::frame`], widened into `scratch` where the values are
    /// f16 or int8: for loops over many frames, which then allocate nothing.
    pub fn frame_in<'s>(&'s self, index: usize, scratch: &'s mut Vec<f32>) -> &'s [f32] {
        self.values.frame_in(index, scratch)
    }

    /// Frames `range` as a matrix of their own, in f32 (a stretch of a recording searched
    /// apart). Panics if the range runs past the end, which is a caller bug, not bad input.
    pub fn frames(&self, range: Range<usize>) -> Result<FeatureMatrix, AlignError> {
        let mut scratch = Vec::new();
        let mut rows = Vec::with_capacity(range.len() * self.dim());
        for k in range {
            rows.extend_from_slice(self.frame_in(k, &mut scratch));
        }
        FeatureMatrix::new(self.dim(), rows)
    }

    /// `1 / ‖frame index‖` (0 for a zero frame).
    pub fn frame_inverse_norm(&self, index: usize) -> f32 {
        self.inverse_norms[index]
    }

    /// Appends frames given row-major.
    pub fn extend_from_rows(&mut self, rows: &[f32]) -> Result<(), AlignError> {
        let first = self.len();
        self.values.extend_from_rows(rows)?;
        self.rebuild_panels_from(first);
        if let Some(mut panels) = self.int8_panels.take() {
            self.quantise_from(first, &mut panels);
            self.int8_panels = OnceLock::from(panels);
        }
        self.spreads = Default::default();
        self.pooled = Default::default();
        self.projected = OnceLock::new();
        Ok(())
    }

    /// The frames averaged in consecutive groups of `group`, the groups starting at the frames
    /// that leave `phase` when divided by `group` (so the first and the last group may hold
    /// fewer): kept for groups of 2 to [`KEPT_POOLING_GROUPS`], made afresh for others. A group
    /// that ends at frame `f` is pooled in phase `(f + 1) % group`, at index
    /// [`pooled_index`]`(f, ...)`.
    pub(crate) fn pooled(&self, group: usize, phase: usize) -> Result<Arc<FeatureMatrix>, AlignError> {
        let group = group.max(1);
        let phase = phase % group;
        let Some(slot) = group.checked_sub(2).and_then(|k| self.pooled.get(k)) else {
            return self.pool(group, phase).map(Arc::new);
        };
        let phases = slot.get_or_init(|| (0..group).map(|_| OnceLock::new()).collect());
        if let Some(pooled) = phases[phase].get() {
            return Ok(pooled.clone());
        }
        let pooled = Arc::new(self.pool(group, phase)?);
        Ok(phases[phase].get_or_init(|| pooled).clone())
    }

    fn pool(&self, group: usize, phase: usize) -> Result<FeatureMatrix, AlignError> {
        let dim = self.dim();
        let shift = pooling_shift(group, phase);
        let mut rows = Vec::with_capacity((self.len() + shift).div_ceil(group) * dim);
        let mut scratch = Vec::new();
        for pooled in 0..(self.len() + shift).div_ceil(group) {
            let first = (pooled * group).saturating_sub(shift);
            let last = ((pooled + 1) * group - shift).min(self.len());
            let start = rows.len();
            rows.extend_from_slice(self.frame_in(first, &mut scratch));
            for k in first + 1..last {
                let frame = self.frame_in(k, &mut scratch);
                rows[start..].iter_mut().zip(frame).for_each(|(sum, v)| *sum += v);
            }
            let count = (last - first) as f32;
            rows[start..].iter_mut().for_each(|sum| *sum /= count);
        }
        FeatureMatrix::new(dim, rows)
    }

    /// The frames projected onto their `output_dim` strongest directions, with the projection
    /// (for the live frames compared with them): made the first time a relocation search asks
    /// and kept for that size, since every follower of a shared reference searches the same
    /// projected frames (and their poolings, kept by the projected matrix); another size is
    /// made afresh.
    pub(crate) fn projected(&self, output_dim: usize) -> Result<Arc<ProjectedFrames>, AlignError> {
        if let Some(kept) = self.projected.get() {
            if kept.projection.output_dim() == output_dim {
                return Ok(kept.clone());
            }
            return ProjectedFrames::of(self, output_dim).map(Arc::new);
        }
        let made = Arc::new(ProjectedFrames::of(self, output_dim)?);
        Ok(self.projected.get_or_init(|| made).clone())
    }

    /// The spread of the frames under `distance` at `lag_frames`: `measure`'s answer, kept for
    /// the first lag asked of each distance (a matrix's frames have one length, so its
    /// followers ask one lag; another is measured each time).
    pub(crate) fn spread(&self, distance: Distance, lag_frames: usize, measure: impl Fn(&Self) -> f32) -> f32 {
        let slot = match distance {
            Distance::Cosine => 0,
            Distance::Euclidean => 1,
            Distance::SquaredEuclidean => 2,
            Distance::Manhattan => 3,
        };
        let &(kept_lag, spread) = self.spreads[slot].get_or_init(|| (lag_frames, measure(self)));
        if kept_lag == lag_frames {
            spread
        } else {
            measure(self)
        }
    }
}

/// The largest group of frames whose pooling a matrix keeps (a relocation search pools by 3,
/// fewer for windows of under six frames).
const KEPT_POOLING_GROUPS: usize = 8;

/// The frames pooled in each phase of one group size, each made when first asked for.
type PooledPhases = Box<[OnceLock<Arc<FeatureMatrix>>]>;

/// Frames a pooling in `phase` puts before frame 0 to start its groups at frames that leave
/// `phase` when divided by `group` (the first group then holds only the rest).
fn pooling_shift(group: usize, phase: usize) -> usize {
    (group - phase % group) % group
}

/// The index, in the frames pooled by `group` in `phase` ([`FeatureMatrix::pooled`]), of the
/// group holding frame `frame`.
pub(crate) fn pooled_index(frame: usize, group: usize, phase: usize) -> usize {
    let group = group.max(1);
    (frame + pooling_shift(group, phase)) / group
}

impl PartialEq for FeatureMatrix {
    /// Equal frames of equal dimension, however each matrix stores them.
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

/// Writes panel `index` of the `len` frames in `rows` to `out` (`8 · dim` values), zeros past
/// the last frame.
fn copy_panel_from(rows: EncodedRows<'_>, dim: usize, len: usize, index: usize, out: &mut [f32]) {
    for lane in 0..PANEL_FRAMES {
        let frame = index * PANEL_FRAMES + lane;
        for k in 0..dim {
            out[k * PANEL_FRAMES + lane] = if frame < len { rows.value(frame, dim, k) } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pooled_frames_are_group_means_kept_for_each_group_and_forgotten_when_it_grows() {
        let mut matrix = FeatureMatrix::new(2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let pooled = matrix.pooled(2, 0).unwrap();
        assert_eq!(pooled.len(), 2);
        assert_eq!(&*pooled.frame(0), &[2.0, 3.0]);
        assert_eq!(&*pooled.frame(1), &[5.0, 6.0], "the last group holds fewer");
        assert!(Arc::ptr_eq(&pooled, &matrix.pooled(2, 0).unwrap()), "kept");
        assert!(Arc::ptr_eq(&pooled, &matrix.pooled(2, 2).unwrap()), "phases wrap");
        let threes = matrix.pooled(3, 0).unwrap();
        assert_eq!(&*threes.frame(0), &[3.0, 4.0]);
        assert!(
            Arc::ptr_eq(&threes, &matrix.pooled(3, 0).unwrap()),
            "another group kept too"
        );
        assert!(Arc::ptr_eq(&pooled, &matrix.pooled(2, 0).unwrap()), "beside the first");
        let nines = matrix.pooled(9, 0).unwrap();
        assert_eq!(&*nines.frame(0), &[3.0, 4.0]);
        assert!(
            !Arc::ptr_eq(&nines, &matrix.pooled(9, 0).unwrap()),
            "made afresh past 8"
        );
        matrix.extend_from_rows(&[7.0, 8.0]).unwrap();
        assert_eq!(&*matrix.pooled(2, 0).unwrap().frame(1), &[6.0, 7.0]);
    }

    #[test]
    fn a_phase_starts_its_groups_at_the_frames_it_names() {
        let matrix = FeatureMatrix::new(1, (0..8).map(|v| v as f32).collect()).unwrap();
        // Groups of three starting at frames 1, 4, 7: {0}, {1, 2, 3}, {4, 5, 6}, {7}.
        let phase_one = matrix.pooled(3, 1).unwrap();
        let means: Vec<f32> = (0..phase_one.len()).map(|k| phase_one.frame(k)[0]).collect();
        assert_eq!(means, vec![0.0, 2.0, 5.0, 7.0]);
        assert!(Arc::ptr_eq(&phase_one, &matrix.pooled(3, 1).unwrap()), "kept");
        // Groups starting at 2, 5: {0, 1}, {2, 3, 4}, {5, 6, 7}.
        let phase_two = matrix.pooled(3, 2).unwrap();
        let means: Vec<f32> = (0..phase_two.len()).map(|k| phase_two.frame(k)[0]).collect();
        assert_eq!(means, vec![0.5, 3.0, 6.0]);
        for frame in 0..8 {
            // The group of three ending at a frame (fewer at the start) is in the phase after it.
            let phase = (frame + 1) % 3;
            let pooled = matrix.pooled(3, phase).unwrap();
            let mean = pooled.frame(pooled_index(frame, 3, phase))[0];
            let first = frame.saturating_sub(2);
            let expected = (first..=frame).sum::<usize>() as f32 / (frame + 1 - first) as f32;
            assert_eq!(mean, expected, "the group ending at {frame}");
        }
    }

    proptest! {
        /// Distances over panels (few dimensions) or rows (many) equal one-at-a-time distances,
        /// for any range and any growth.
        #[test]
        fn panelled_distances_equal_single_ones(
            dim in prop_oneof![1usize..20, 30usize..70],
            len in 1usize..40,
            extra in 0usize..12,
            range in (0usize..52, 0usize..52),
            seed in proptest::collection::vec(-2.0f32..2.0, 52 * 70 + 70),
        ) {
            let mut matrix = FeatureMatrix::new(dim, seed[..len * dim].to_vec()).unwrap();
            matrix.extend_from_rows(&seed[len * dim..(len + extra) * dim]).unwrap();
            let query = &seed[seed.len() - dim..];
            let frames = range.0.min(range.1)..range.0.max(range.1).min(matrix.len());
            let panelled = matrix.clone().with_panels();
            for (distance, matrix) in [Distance::Cosine, Distance::Euclidean, Distance::SquaredEuclidean, Distance::Manhattan]
                .into_iter()
                .flat_map(|distance| [(distance, &matrix), (distance, &panelled)])
            {
                let mut out = Vec::new();
                matrix.distances_to(query, inverse_norm(query), frames.clone(), distance, &mut out);
                prop_assert_eq!(out.len(), frames.len());
                for (k, &d) in frames.clone().zip(&out) {
                    let single = distance.between_with_inverse_norms(query, inverse_norm(query), &matrix.frame(k), matrix.frame_inverse_norm(k));
                    prop_assert!((d - single).abs() <= 1e-4 * single.abs().max(1.0), "{distance:?} frame {k}: {d} vs {single}");
                }
            }
        }
    }

    proptest! {
        /// Int8 distances over any range equal, bit for bit, those to each frame quantised
        /// alone, when the matrix grows after it was first quantised too.
        #[test]
        fn int8_distances_follow_ranges_and_growth(
            dim in 1usize..40,
            len in 1usize..30,
            extra in 0usize..12,
            range in (0usize..45, 0usize..45),
            seed in proptest::collection::vec(-2.0f32..2.0, 45 * 40 + 40),
        ) {
            let mut matrix = FeatureMatrix::new(dim, seed[..len * dim].to_vec()).unwrap();
            let mut query = Int8Frame::new(dim);
            query.quantise(&seed[seed.len() - dim..]);
            let mut out = Vec::new();
            matrix.int8_cosines_to(&query, 0..1, &mut out);
            matrix.extend_from_rows(&seed[len * dim..(len + extra) * dim]).unwrap();
            let frames = range.0.min(range.1)..range.0.max(range.1).min(matrix.len());
            matrix.int8_cosines_to(&query, frames.clone(), &mut out);
            prop_assert_eq!(out.len(), frames.len());
            let mut alone = Vec::new();
            for (k, &d) in frames.zip(&out) {
                let mut single = Int8Panels::new(dim, 1);
                single.set(0, &matrix.frame(k));
                single.cosines_to(&query, 0..1, &mut alone);
                prop_assert_eq!(d, alone[0], "frame {}", k);
            }
        }
    }

    #[derive(Debug)]
    struct Kept(Vec<f32>);

    impl SharedValues for Kept {
        fn rows(&self) -> EncodedRows<'_> {
            EncodedRows::F32(&self.0)
        }
    }

    #[test]
    fn shared_values_read_like_owned_ones_and_are_copied_to_grow() {
        for dim in [3, 40] {
            let values: Vec<f32> = (0..dim * 11).map(|k| (k % 7) as f32 - 3.0).collect();
            let owned = FeatureMatrix::new(dim, values.clone()).unwrap();
            let mut shared = FeatureMatrix::from_shared(dim, Arc::new(Kept(values.clone()))).unwrap();
            assert!(shared.is_shared() && !owned.is_shared());
            assert_eq!(shared, owned);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            owned.distances_to(
                &values[..dim],
                inverse_norm(&values[..dim]),
                2..9,
                Distance::Cosine,
                &mut a,
            );
            shared.distances_to(
                &values[..dim],
                inverse_norm(&values[..dim]),
                2..9,
                Distance::Cosine,
                &mut b,
            );
            assert_eq!(a, b);
            shared.extend_from_rows(&values[..dim]).unwrap();
            assert!(!shared.is_shared());
            assert_eq!((shared.len(), &*shared.frame(11)), (12, &values[..dim]));
        }
        assert!(FeatureMatrix::from_shared(3, Arc::new(Kept(vec![0.0; 7]))).is_err());
    }

    #[derive(Debug)]
    enum Encoded {
        Halves(Vec<u16>),
        Bytes(Vec<f32>, Vec<i8>),
    }

    impl SharedValues for Encoded {
        fn rows(&self) -> EncodedRows<'_> {
            match self {
                Encoded::Halves(bits) => EncodedRows::F16(bits),
                Encoded::Bytes(scales, values) => EncodedRows::Int8 { scales, values },
            }
        }
    }

    #[test]
    fn f16_and_int8_values_are_read_in_place_as_their_decoded_values() {
        for dim in [3, 40] {
            let frames = 13;
            let halves: Vec<u16> = (0..dim * frames)
                .map(|k| half::f16::from_f32((k % 11) as f32 * 0.37 - 2.0).to_bits())
                .collect();
            let scales: Vec<f32> = (0..frames).map(|k| 0.01 + k as f32 / 100.0).collect();
            let bytes: Vec<i8> = (0..dim * frames).map(|k| ((k * 37) % 255) as u8 as i8).collect();
            for encoded in [
                Encoded::Halves(halves.clone()),
                Encoded::Bytes(scales.clone(), bytes.clone()),
            ] {
                let shared = FeatureMatrix::from_shared(dim, Arc::new(encoded)).unwrap();
                let decoded = FeatureMatrix::new(dim, shared.rows().to_f32(dim)).unwrap();
                assert!(shared.is_shared() && !shared.rows().is_f32());
                assert_eq!(shared, decoded);
                let query: Vec<f32> = (0..dim).map(|k| (k % 5) as f32 - 1.5).collect();
                for distance in [Distance::Cosine, Distance::Euclidean, Distance::Manhattan] {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    shared.distances_to(&query, inverse_norm(&query), 1..12, distance, &mut a);
                    decoded.distances_to(&query, inverse_norm(&query), 1..12, distance, &mut b);
                    assert_eq!(a, b, "dim {dim} {distance:?}");
                }
            }
        }
        let short_scales = Encoded::Bytes(vec![1.0; 2], vec![0; 9]);
        assert_eq!(
            FeatureMatrix::from_shared(3, Arc::new(short_scales)).unwrap_err(),
            AlignError::Features(crate::features::FeatureValuesError::MissingScales { frames: 3, scales: 2 })
        );
    }

    #[test]
    fn a_spread_is_measured_once_per_distance_until_the_matrix_grows() {
        let mut matrix = FeatureMatrix::new(2, vec![0.0, 1.0, 1.0, 0.0]).unwrap();
        let measured = std::cell::Cell::new(0);
        let measure = |value: f32| {
            let measured = &measured;
            move |_: &FeatureMatrix| {
                measured.set(measured.get() + 1);
                value
            }
        };
        assert_eq!(matrix.spread(Distance::Cosine, 25, measure(0.5)), 0.5);
        assert_eq!(matrix.spread(Distance::Cosine, 25, measure(9.0)), 0.5);
        assert_eq!(matrix.spread(Distance::Manhattan, 25, measure(2.0)), 2.0);
        assert_eq!(measured.get(), 2);
        assert_eq!(matrix.spread(Distance::Cosine, 50, measure(0.6)), 0.6, "another lag");
        assert_eq!(matrix.spread(Distance::Cosine, 25, measure(9.0)), 0.5, "the first kept");
        assert_eq!(measured.get(), 3);
        matrix.extend_from_rows(&[1.0, 1.0]).unwrap();
        assert_eq!(matrix.spread(Distance::Cosine, 25, measure(0.7)), 0.7);
        assert_eq!(measured.get(), 4);
    }

    #[test]
    fn ragged_data_is_refused() {
        assert!(FeatureMatrix::new(3, vec![0.0; 7]).is_err());
        assert!(FeatureMatrix::new(0, vec![]).is_err());
        let m = FeatureMatrix::new(3, vec![0.0; 6]).unwrap();
        assert_eq!((m.len(), m.dim()), (2, 3));
    }
}
