//! Relocation: finding the live stream again in the reference after a jump.
//!
//! Beside the local tracker, a [`SubsequenceSearch`] scans the whole reference for the last
//! `query_frames` live frames, spending at most `cells_per_frame` cost cells per live frame
//! (so its share of a core is bounded whatever the reference's length). It compares frames
//! pooled in groups of `pooled_frames` consecutive ones (their mean), on both sides: features
//! whose analysis window spans several hops change little from one frame to the next, so a
//! window of seconds is found as surely, and each pooling by 2 makes a scan a quarter of the
//! cells; and it compares frames projected onto the reference's few strongest directions
//! (see [`RelocatorConfig::search_dims`]), a fraction of the values, then checks the match it
//! found with whole frames. Its paths keep a tempo between half and twice the reference's
//! (slope-limited steps), so a window is not matched to a few frames that resemble it on
//! average. A scan looks only for matches that clearly beat the same window aligned where the
//! tracker placed it (`max_cost_ratio`), which keeps repeated passages (a chorus, a refrain)
//! from pulling the tracker away, and lets the scan drop every path as soon as it costs more
//! than that (where the tracker is right, most paths die early in the window, and the scan's
//! distances with them). When a scan ends, its best match is carried forward to the current
//! live frame along the match's own slope and offered as a candidate. A candidate is no
//! decision: the follower weighs it against the tracked place over the following seconds (see
//! [`super::Hypotheses`]). Then a new scan starts with the newest window.

use std::ops::Range;
use std::sync::Arc;

use half::f16;

use super::features::pooled_index;
use super::frame_scale::frames_in_time;
use super::projection::ProjectedFrames;
use super::{AlignError, Distance, FeatureMatrix, Precision, SubsequenceMatch, SubsequenceSearch, SubsequenceSteps};

/// Settings of relocation.
#[derive(Debug, Clone, PartialEq)]
pub struct RelocatorConfig {
    /// Live frames in the window searched for.
    pub query_frames: usize,
    /// Consecutive frames pooled (averaged) into one before they are compared, live and
    /// reference alike; 1 compares the frames themselves. A query shorter than two groups is
    /// pooled by fewer.
    pub pooled_frames: usize,
    /// Cost cells (pooled query frame × pooled reference frame) the search may compute per
    /// live frame.
    pub cells_per_frame: usize,
    /// A candidate must cost at most this fraction of the window aligned at the tracked position.
    pub max_cost_ratio: f32,
    /// The same bound while the tracked place is only assumed, not confirmed (see
    /// [`Relocator::set_tracked_place_confirmed`]): a stream's start taken for the reference's
    /// start has no claim to be kept against a place that matches somewhat better, so more
    /// candidates are offered then; the hypotheses decide on them as before.
    pub unconfirmed_max_cost_ratio: f32,
    /// Slowest tempo (reference frames per live frame over the matched window) a candidate may
    /// imply: a window matched to much less of the reference is a few frames that resemble
    /// everything (a held chord, a pause), not a place. Slope-limited steps keep a match
    /// within 0.5×–2× already; with symmetric ones this bound turns such matches away.
    pub min_tempo: f64,
    /// Fastest tempo a candidate may imply.
    pub max_tempo: f64,
    /// Values per frame the scan compares: frames of more values are projected onto the
    /// reference's `search_dims` strongest directions first ([`super::Projection`]), live and
    /// reference alike, which keeps most of what tells places apart (the bands of a spectrum
    /// move together) for a fraction of the work a distance costs. What the scan finds is then
    /// aligned again with whole frames, and offered only if it beats the tracked place
    /// (aligned with whole frames too) by `max_cost_ratio` there: the projection narrows the
    /// search, it does not decide. 0 scans whole frames.
    pub search_dims: usize,
    /// Local distance.
    pub distance: Distance,
    /// What the search's distances are computed in ([`Precision::Auto`]: int8 for cosine over
    /// frames of 64 values or more, as the online aligner's band).
    pub precision: Precision,
    /// The steps a match's path may take.
    pub steps: SubsequenceSteps,
}

impl Default for RelocatorConfig {
    fn default() -> Self {
        Self {
            query_frames: 150,
            // Frames of 20 ms from windows of 93 ms change little within a group of three, and
            // each pooled cell then stands for nine pairs of frames: a scan covers 300 pooled
            // reference frames (900 frames, 18 s) per live frame for half the cells that pairs
            // needed to cover 800, so a core follows more streams with the search on, and a
            // jump is found as soon (`benches/RESULTS.md` has the comparison).
            pooled_frames: 3,
            cells_per_frame: 15_000,
            max_cost_ratio: 0.7,
            unconfirmed_max_cost_ratio: 0.9,
            min_tempo: 0.5,
            max_tempo: 2.0,
            search_dims: 32,
            distance: Distance::Cosine,
            precision: Precision::Auto,
            // Measured on the evaluation's jumps and repeats (`examples/eval.rs`, three feature
            // sets × six cases): slope-limited steps relocated 0.12-0.78 s sooner than
            // symmetric ones on 13 of the 18, as soon on 3, 0.16 and 0.2 s later on 2. Within
            // 50 ms by the causal rule (jump / repeat): `semitone-flux --transposition` 93.5 /
            // 92.5% against 90.9 / 91.7%, `logmel` 92.9 / 92.8% against 92.2 / 91.7%,
            // `logmel-flux` 92.2 / 92.1% against 92.2 / 91.7%; tempo warps and performance
            // pairs the same.
            steps: SubsequenceSteps::SlopeLimited,
        }
    }
}

impl RelocatorConfig {
    /// These settings for frames `factor` times as many per second (see
    /// [`super::FollowerConfig::scaled_in_time`]): the window and the pooled groups cover as
    /// much time, so a scan compares as many pooled frames as before, and the budget per live
    /// frame is divided by `factor`, so that a scan takes as long and as much of a core.
    pub fn scaled_in_time(&self, factor: f64) -> Self {
        Self {
            query_frames: frames_in_time(self.query_frames, factor, 2),
            pooled_frames: frames_in_time(self.pooled_frames, factor, 1),
            cells_per_frame: frames_in_time(self.cells_per_frame, 1.0 / factor, 1),
            ..self.clone()
        }
    }
}

/// Where the relocation search found the live stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelocationCandidate {
    /// Live frame the candidate is for (the newest one).
    pub live_index: usize,
    /// Reference frame matching it, carried forward from the match's end.
    pub ref_index: usize,
    /// The matched window: live frames `live_start..=live_end` against reference frames
    /// `ref_start..=ref_end`.
    pub live_start: usize,
    /// Last live frame of the matched window.
    pub live_end: usize,
    /// First reference frame of the match.
    pub ref_start: usize,
    /// Last reference frame of the match.
    pub ref_end: usize,
    /// Path cost of the match per query frame.
    pub cost_per_frame: f32,
}

/// Which of the reference's frames a search compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frames {
    /// The frames as they are.
    Whole,
    /// The frames the scan compares: projected where `search_dims` asks it, whole otherwise.
    Scanned,
}

#[derive(Debug)]
struct Scan {
    /// The search of the pooled query (projected where the scan compares projected frames),
    /// which holds the query.
    search: SubsequenceSearch,
    /// Where the scan compares projected frames: the pooled query whole, to check its match.
    whole_query: Option<FeatureMatrix>,
    /// A match must cost less than this share of the window aligned at the tracked place.
    ratio: f32,
    query_end_live: usize,
    /// Where the tracker placed the query's newest frame.
    tracked_at_query_end: usize,
}

/// The newest live frames, up to a fixed count, in one block of memory: a follower keeps them
/// for as long as it runs, and a frame a hop must not cost an allocation. The block is taken
/// with the first frame (a stream waiting for its source holds none), and holds the values as
/// f16: they are only ever pooled into the search's query, which the search then quantises to
/// 8 bits (or, in f32, compares by cosine), so half-precision steps of 1/2048 of a value are
/// far below what the comparison resolves, and the block is half the size.
#[derive(Debug)]
struct RecentFrames {
    dim: usize,
    capacity_frames: usize,
    /// `capacity_frames` slots of `dim` values once the first frame came, empty before; the
    /// oldest frame at slot `oldest`.
    values: Vec<f16>,
    oldest: usize,
    len: usize,
}

impl RecentFrames {
    fn new(dim: usize, capacity_frames: usize) -> Self {
        Self {
            dim,
            capacity_frames,
            values: Vec::new(),
            oldest: 0,
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Keeps `frame` (of `dim` values), forgetting the oldest when full.
    fn push(&mut self, frame: &[f32]) {
        if self.values.is_empty() {
            self.values = vec![f16::ZERO; self.dim * self.capacity_frames];
        }
        let slot = (self.oldest + self.len) % self.capacity_frames;
        self.values[slot * self.dim..(slot + 1) * self.dim]
            .iter_mut()
            .zip(frame)
            .for_each(|(kept, &value)| *kept = f16::from_f32(value));
        if self.len < self.capacity_frames {
            self.len += 1;
        } else {
            self.oldest = (self.oldest + 1) % self.capacity_frames;
        }
    }

    /// Adds frame `k`, counted from the oldest kept, to `sums` (`dim` values).
    fn add_frame_to(&self, k: usize, sums: &mut [f32]) {
        let slot = (self.oldest + k) % self.capacity_frames;
        sums.iter_mut()
            .zip(&self.values[slot * self.dim..(slot + 1) * self.dim])
            .for_each(|(sum, value)| *sum += value.to_f32());
    }

    /// Forgets every frame (the storage is kept).
    fn clear(&mut self) {
        self.oldest = 0;
        self.len = 0;
    }
}

/// Budgeted whole-reference search for the recent live window.
#[derive(Debug)]
pub struct Relocator {
    reference: Arc<FeatureMatrix>,
    /// The reference projected onto its strongest directions, and the projection, where the
    /// scan compares projected frames (see `search_dims`).
    projected: Option<Arc<ProjectedFrames>>,
    config: RelocatorConfig,
    recent: RecentFrames,
    live_frames: usize,
    scan: Option<Scan>,
    /// Whether the tracker's place has been confirmed (see
    /// [`Relocator::set_tracked_place_confirmed`]).
    tracked_place_confirmed: bool,
    /// The share of `cells_per_frame` a live frame may spend (see
    /// [`Relocator::set_scan_budget_share`]).
    scan_budget_share: f64,
}

impl Relocator {
    /// A relocator over `reference`.
    pub fn new(reference: Arc<FeatureMatrix>, mut config: RelocatorConfig) -> Result<Self, AlignError> {
        if config.query_frames < 2 || config.pooled_frames == 0 || config.cells_per_frame == 0 {
            return Err(AlignError::BadParameter {
                name: "relocation",
                expected: "a query of at least 2 frames, pooled by at least 1, and a budget above 0",
                actual: format!(
                    "{} frames pooled by {}, {} cells",
                    config.query_frames, config.pooled_frames, config.cells_per_frame
                ),
            });
        }
        if !(config.max_cost_ratio > 0.0 && config.max_cost_ratio <= config.unconfirmed_max_cost_ratio)
            || config.unconfirmed_max_cost_ratio >= 1.0
        {
            return Err(AlignError::BadParameter {
                name: "relocation max_cost_ratio",
                expected: "0 < max_cost_ratio <= unconfirmed_max_cost_ratio < 1",
                actual: format!("{} and {}", config.max_cost_ratio, config.unconfirmed_max_cost_ratio),
            });
        }
        if !(config.min_tempo > 0.0 && config.min_tempo < 1.0 && config.max_tempo > 1.0 && config.max_tempo.is_finite())
        {
            return Err(AlignError::BadParameter {
                name: "relocation tempo bounds",
                expected: "0 < min_tempo < 1 < max_tempo",
                actual: format!("{}/{}", config.min_tempo, config.max_tempo),
            });
        }
        config
            .precision
            .check_distance(config.distance, "relocation precision")?;
        config.pooled_frames = config.pooled_frames.min(config.query_frames / 2);
        if reference.is_empty() {
            return Err(AlignError::EmptyReference);
        }
        let projected = if config.search_dims > 0 && config.search_dims < reference.dim() {
            // Chosen for the frames as they come: projected ones are as fit for int8 (each is
            // quantised on its own scale), and the projection is what makes them few.
            config.precision = config.precision.resolve(reference.dim(), config.distance);
            Some(reference.projected(config.search_dims)?)
        } else {
            None
        };
        Ok(Self {
            recent: RecentFrames::new(reference.dim(), config.query_frames),
            reference,
            projected,
            config,
            live_frames: 0,
            scan: None,
            tracked_place_confirmed: true,
            scan_budget_share: 1.0,
        })
    }

    /// Pooled frames in the reference (the last group may hold fewer frames).
    fn pooled_reference_len(&self) -> usize {
        self.reference.len().div_ceil(self.config.pooled_frames)
    }

    /// The query: the recent frames pooled, the newest group ending with the newest frame.
    fn pooled_query(&self) -> Result<FeatureMatrix, AlignError> {
        let group = self.config.pooled_frames;
        let len = self.recent.len();
        let used = len / group * group;
        let dim = self.reference.dim();
        let mut rows = vec![0.0; used / group * dim];
        for (row, first) in rows.chunks_exact_mut(dim).zip((len - used..len).step_by(group)) {
            for member in first..first + group {
                self.recent.add_frame_to(member, row);
            }
            row.iter_mut().for_each(|sum| *sum /= group as f32);
        }
        FeatureMatrix::new(dim, rows)
    }

    /// The reference pooled in `phase`, whole or as the scan compares them, kept with it (shared
    /// by every follower of it).
    fn pooled_reference(&self, frames: Frames, phase: usize) -> Result<Arc<FeatureMatrix>, AlignError> {
        let matrix = match (frames, &self.projected) {
            (Frames::Scanned, Some(projected)) => &projected.frames,
            _ => &self.reference,
        };
        match self.config.pooled_frames {
            0 | 1 => Ok(matrix.clone()),
            group => matrix.pooled(group, phase),
        }
    }

    /// Feeds `search` the reference frames pooled in `phase`, `range`, whole or projected.
    fn scan_pooled(
        &self,
        search: &mut SubsequenceSearch,
        frames: Frames,
        phase: usize,
        range: Range<usize>,
    ) -> Result<(), AlignError> {
        let pooled = self.pooled_reference(frames, phase)?;
        search.push_stored_frames(&pooled, range)
    }

    /// The cost of `query`'s best match among the reference's pooled frames `range` in
    /// `phase` (infinite if none), and the search that found it.
    fn aligned_in(
        &self,
        query: FeatureMatrix,
        frames: Frames,
        phase: usize,
        range: Range<usize>,
    ) -> Result<(f32, SubsequenceSearch), AlignError> {
        let mut search =
            SubsequenceSearch::with_steps(query, self.config.distance, self.config.precision, self.config.steps)?;
        self.scan_pooled(&mut search, frames, phase, range)?;
        Ok((search.best().map_or(f32::INFINITY, |b| b.cost), search))
    }

    /// A scan of the whole reference for the recent frames, the newest of which is live frame
    /// `live_index` and placed by the tracker at `tracked_ref`. First the same window is aligned
    /// around the tracked place, pooled in the phase whose groups end where the query's do
    /// there (a place pooled out of step with the query can cost more than a repeat of it
    /// elsewhere that happens to be in step), in the scan's frames, precision and steps, so
    /// that the two costs are of one kind: the scan then looks only for what costs less than
    /// `max_cost_ratio` of that, which keeps repeated passages (a chorus, a refrain) from
    /// pulling the tracker away and spares the scan the paths that cannot.
    fn start_scan(&self, live_index: usize, tracked_ref: usize) -> Result<Scan, AlignError> {
        let query = self.pooled_query()?;
        let tracked_at_query_end = tracked_ref.min(self.reference.len() - 1);
        let (phase, local) = self.tracked_stretch(tracked_at_query_end, query.len());
        let ratio = self.max_cost_ratio();
        // Projected frames only narrow the search: their costs are those of whole frames with
        // the residual energy left out, so a match that whole frames put below `ratio` may
        // sit above it projected. Their scan keeps what costs less than halfway between
        // `ratio` and the tracked place itself, and the check with whole frames applies
        // `ratio` (see `confirmed_with_whole_frames`).
        let (query, whole_query, scan_ratio) = match &self.projected {
            None => (query, None, ratio),
            Some(projected) => (
                projected.projection.project_matrix(&query)?,
                Some(query),
                (1.0 + ratio) / 2.0,
            ),
        };
        let (local_cost, local) = self.aligned_in(query, Frames::Scanned, phase, local)?;
        let search = SubsequenceSearch::with_steps(
            local.into_query(),
            self.config.distance,
            self.config.precision,
            self.config.steps,
        )?
        .with_cost_limit(scan_ratio * local_cost);
        Ok(Scan {
            search,
            whole_query,
            ratio,
            query_end_live: live_index,
            tracked_at_query_end,
        })
    }

    /// Where a query of `query_len` pooled frames ending at reference frame
    /// `tracked_at_query_end` is aligned: the phase whose groups end where the query's do
    /// there, and the pooled frames from two query lengths before to half of one after.
    fn tracked_stretch(&self, tracked_at_query_end: usize, query_len: usize) -> (usize, Range<usize>) {
        let group = self.config.pooled_frames;
        let m = query_len * group;
        let last_ref = self.reference.len() - 1;
        let phase = (tracked_at_query_end + 1) % group;
        let start = pooled_index(tracked_at_query_end.saturating_sub(2 * m), group, phase);
        let end = pooled_index((tracked_at_query_end + m / 2).min(last_ref), group, phase);
        (phase, start..end + 1)
    }

    /// The ended scan's matches (of the projected query: its best, then its runner-up
    /// elsewhere) checked with whole frames: the first whose stretch, and a query's length
    /// either side, holds a match of the whole query costing less than `ratio` of the whole
    /// query aligned at the tracked place, as a scan of whole frames asks. Returns that match
    /// with whole frames. The margin lets a match move to where whole frames place it best: a
    /// projected match just beyond the tracked place may be, with whole frames, the tracked
    /// place itself, which a scan of whole frames would have found best and offered nothing for.
    fn confirmed_with_whole_frames(
        &self,
        scan: &Scan,
        whole: FeatureMatrix,
    ) -> Result<Option<SubsequenceMatch>, AlignError> {
        let (phase, local) = self.tracked_stretch(scan.tracked_at_query_end, whole.len());
        let (local_cost, local) = self.aligned_in(whole, Frames::Whole, phase, local)?;
        let whole = local.into_query();
        let margin = whole.len();
        for found in [scan.search.best(), scan.search.runner_up()].into_iter().flatten() {
            let stretch = found.start.saturating_sub(margin)..(found.end + margin + 1).min(self.pooled_reference_len());
            let offset = stretch.start;
            let (cost, search) = self.aligned_in(whole.clone(), Frames::Whole, 0, stretch)?;
            if let Some(best) = search.best().filter(|_| cost < scan.ratio * local_cost) {
                return Ok(Some(SubsequenceMatch {
                    start: best.start + offset,
                    end: best.end + offset,
                    ..best
                }));
            }
        }
        Ok(None)
    }

    /// Says whether the tracker's place is confirmed (the default) or only assumed: while it
    /// is assumed, scans started from then on offer candidates up to
    /// `unconfirmed_max_cost_ratio` of the tracked place's cost.
    pub fn set_tracked_place_confirmed(&mut self, confirmed: bool) {
        self.tracked_place_confirmed = confirmed;
    }

    /// Lets each live frame spend `share` of `cells_per_frame` (1, all of it, by default;
    /// clamped to (0, 1]): a worker short of time for its streams lowers it, so that a scan
    /// takes longer to cover the reference (a jump is found later) and the trackers keep up.
    /// The scan under way goes on at the new pace; what it finds is the same.
    pub fn set_scan_budget_share(&mut self, share: f64) {
        self.scan_budget_share = if share > 0.0 { share.min(1.0) } else { f64::MIN_POSITIVE };
    }

    fn max_cost_ratio(&self) -> f32 {
        if self.tracked_place_confirmed {
            self.config.max_cost_ratio
        } else {
            self.config.unconfirmed_max_cost_ratio
        }
    }

    /// The live stream skipped `missing_frames` frames (an outage, a gap): the recent frames
    /// and the scan over them are dropped, since a query spanning the gap would be no stretch
    /// the stream really played.
    pub fn skip_live_frames(&mut self, missing_frames: usize) {
        self.recent.clear();
        self.scan = None;
        self.live_frames += missing_frames;
    }

    /// Takes the next live frame; `tracked_ref` is where the tracker puts it. Returns a
    /// candidate when a scan ends with a match that clearly beats the tracked position.
    pub fn push_live(&mut self, frame: &[f32], tracked_ref: usize) -> Result<Option<RelocationCandidate>, AlignError> {
        if frame.len() != self.reference.dim() {
            return Err(AlignError::DimensionMismatch {
                expected: self.reference.dim(),
                actual: frame.len(),
            });
        }
        self.recent.push(frame);
        let live_index = self.live_frames;
        self.live_frames += 1;
        if self.scan.is_none() && self.recent.len() == self.config.query_frames {
            self.scan = Some(self.start_scan(live_index, tracked_ref)?);
        }
        let Some(mut scan) = self.scan.take() else {
            return Ok(None);
        };
        let pooled_len = self.pooled_reference_len();
        let cells = (self.config.cells_per_frame as f64 * self.scan_budget_share) as usize;
        let per_step = (cells / scan.search.query_len()).max(1);
        let seen = scan.search.frames_seen();
        self.scan_pooled(
            &mut scan.search,
            Frames::Scanned,
            0,
            seen..(seen + per_step).min(pooled_len),
        )?;
        if scan.search.frames_seen() < pooled_len {
            self.scan = Some(scan);
            return Ok(None);
        }
        // The search reports only matches below its limit, clearly better than the tracked place
        // (with projected frames, once checked with whole frames).
        let Some(found) = scan.search.best() else {
            return Ok(None);
        };
        let found = match scan.whole_query.take() {
            None => found,
            Some(whole) => match self.confirmed_with_whole_frames(&scan, whole)? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        let group = self.config.pooled_frames;
        let last_ref = self.reference.len() - 1;
        let (found_start, found_end) = (found.start * group, (found.end * group + group - 1).min(last_ref));
        let m = scan.search.query_len() * group;
        // A match at the tracked place is no relocation.
        let elsewhere = found_end.abs_diff(scan.tracked_at_query_end) > m;
        let slope = (found_end - found_start + 1) as f64 / m as f64;
        let playable = (self.config.min_tempo..=self.config.max_tempo).contains(&slope);
        if !(elsewhere && playable) {
            return Ok(None);
        }
        let carried = found_end as f64 + slope * (live_index - scan.query_end_live) as f64;
        Ok(Some(RelocationCandidate {
            live_index,
            ref_index: (carried.round() as usize).min(last_ref),
            live_start: scan.query_end_live + 1 - m,
            live_end: scan.query_end_live,
            ref_start: found_start,
            ref_end: found_end,
            cost_per_frame: found.cost / m as f32,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::test_sequences::{blurred_and_true_passage, symbols};

    #[test]
    fn recent_frames_keep_the_newest_in_order_across_wraps_and_clears() {
        let mut recent = RecentFrames::new(2, 3);
        assert!(recent.values.is_empty(), "no storage before the first frame");
        let frame = |recent: &RecentFrames, k| {
            let mut values = [0.0; 2];
            recent.add_frame_to(k, &mut values);
            values
        };
        let kept = |recent: &RecentFrames| (0..recent.len()).map(|k| frame(recent, k)[0]).collect::<Vec<_>>();
        for v in 1..=5 {
            recent.push(&[v as f32, -(v as f32)]);
        }
        assert_eq!(kept(&recent), [3.0, 4.0, 5.0]);
        assert_eq!(frame(&recent, 2), [5.0, -5.0]);
        recent.clear();
        assert_eq!(recent.len(), 0);
        recent.push(&[7.0, -7.0]);
        recent.push(&[8.0, -8.0]);
        assert_eq!(kept(&recent), [7.0, 8.0]);
        for v in 9..=10 {
            recent.push(&[v as f32, -(v as f32)]);
        }
        assert_eq!(kept(&recent), [8.0, 9.0, 10.0]);
    }

    #[test]
    fn finds_the_stream_after_a_jump() {
        let dim = 12;
        let reference = Arc::new(FeatureMatrix::new(dim, symbols(1_500, dim, 99)).unwrap());
        let config = RelocatorConfig {
            query_frames: 60,
            cells_per_frame: 30_000,
            ..RelocatorConfig::default()
        };
        let mut relocator = Relocator::new(reference.clone(), config).unwrap();
        // The live stream plays 0..500, then jumps to 1100 and plays on; the tracker is lost
        // and still believes in the old place.
        let live: Vec<usize> = (0..500).chain(1_100..1_400).collect();
        let mut found = None;
        for (i, &r) in live.iter().enumerate() {
            let tracked = if i < 500 { r } else { 500 };
            if let Some(candidate) = relocator.push_live(&reference.frame(r), tracked).unwrap() {
                if candidate.live_start >= 500 && found.is_none() {
                    found = Some((i, candidate));
                }
            }
        }
        let (i, candidate) = found.expect("a candidate after the jump");
        assert!(
            candidate.ref_index.abs_diff(live[i]) <= 3,
            "candidate {} for truth {}",
            candidate.ref_index,
            live[i]
        );
        assert!(i - 500 < 150, "found {} frames after the jump", i - 500);
    }

    /// The live stream plays `live` (0..500, then a jump) while the tracker, lost after the
    /// jump, still believes in frame 500: the first candidate for a window after the jump, and
    /// the live frame it came at.
    fn first_candidate_after_the_jump(
        relocator: &mut Relocator,
        reference: &FeatureMatrix,
        live: &[usize],
    ) -> (usize, RelocationCandidate) {
        live.iter()
            .enumerate()
            .find_map(|(i, &r)| {
                let tracked = if i < 500 { r } else { 500 };
                let candidate = relocator.push_live(&reference.frame(r), tracked).unwrap()?;
                (candidate.live_start >= 500).then_some((i, candidate))
            })
            .expect("a candidate after the jump")
    }

    #[test]
    fn frames_projected_for_the_scan_find_the_jump_whole_frames_find() {
        // One-hot frames over 96 values: projected onto the 32 most frequent, a third of the
        // frames keep their symbol and the rest become silence, so the scan narrows and the
        // check with whole frames places the match.
        let dim = 96;
        let reference = Arc::new(FeatureMatrix::new(dim, symbols(1_500, dim, 99)).unwrap());
        let live: Vec<usize> = (0..500).chain(1_100..1_400).collect();
        let first_after_jump = |search_dims| {
            let config = RelocatorConfig {
                query_frames: 60,
                cells_per_frame: 30_000,
                search_dims,
                ..RelocatorConfig::default()
            };
            let mut relocator = Relocator::new(reference.clone(), config).unwrap();
            first_candidate_after_the_jump(&mut relocator, &reference, &live)
        };
        let (i, projected) = first_after_jump(32);
        assert!(
            projected.ref_index.abs_diff(live[i]) <= 3,
            "{projected:?} for truth {}",
            live[i]
        );
        assert!(i - 500 < 150, "found {} frames after the jump", i - 500);
        let (whole_i, whole) = first_after_jump(0);
        assert_eq!((i, projected.ref_index), (whole_i, whole.ref_index), "{whole:?}");
    }

    #[test]
    fn a_smaller_share_of_the_budget_finds_the_same_jump_later() {
        let dim = 12;
        let reference = Arc::new(FeatureMatrix::new(dim, symbols(1_500, dim, 99)).unwrap());
        let live: Vec<usize> = (0..500).chain(1_100..1_400).collect();
        // 500 pooled reference frames, 100 a live frame: a scan takes 5 live frames at the
        // whole budget.
        let first_after_jump = |share| {
            let config = RelocatorConfig {
                query_frames: 60,
                cells_per_frame: 2_000,
                ..RelocatorConfig::default()
            };
            let mut relocator = Relocator::new(reference.clone(), config).unwrap();
            relocator.set_scan_budget_share(share);
            first_candidate_after_the_jump(&mut relocator, &reference, &live)
        };
        let (whole_i, whole) = first_after_jump(1.0);
        for share in [0.5, 0.1] {
            let (i, candidate) = first_after_jump(share);
            assert!(
                i > whole_i,
                "share {share}: found at {i}, the whole budget at {whole_i}"
            );
            assert!(
                candidate.ref_index.abs_diff(live[i]) <= 3,
                "share {share}: {candidate:?} for truth {}",
                live[i]
            );
        }
        assert!(whole.ref_index.abs_diff(live[whole_i]) <= 3, "{whole:?}");
    }

    #[test]
    fn an_assumed_place_is_searched_beyond_with_a_laxer_ratio() {
        // The live stream matches the reference's second half at about 0.83 of the cost of the
        // first half's frames where the tracker has it.
        let (reference, live) = blurred_and_true_passage(0.25, 0.5);
        let reference = Arc::new(reference);
        let candidates = |confirmed: bool| {
            let config = RelocatorConfig {
                query_frames: 100,
                cells_per_frame: 30_000,
                ..RelocatorConfig::default()
            };
            let mut relocator = Relocator::new(reference.clone(), config).unwrap();
            relocator.set_tracked_place_confirmed(confirmed);
            live.iter()
                .enumerate()
                .filter_map(|(k, frame)| relocator.push_live(frame, 100 + k).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(candidates(true), [], "a confirmed place is beaten only clearly");
        let found = candidates(false);
        assert!(!found.is_empty(), "an assumed place is searched beyond");
        for candidate in found {
            assert!(
                candidate.ref_index.abs_diff(600 + candidate.live_index) <= 5,
                "{candidate:?}"
            );
        }
    }

    #[test]
    fn a_window_matched_to_a_few_frames_is_no_place() {
        let dim = 12;
        let reference = Arc::new(FeatureMatrix::new(dim, symbols(1_500, dim, 99)).unwrap());
        let config = RelocatorConfig {
            query_frames: 60,
            ..RelocatorConfig::default()
        };
        let candidates = |config: RelocatorConfig| {
            let mut relocator = Relocator::new(reference.clone(), config).unwrap();
            // The live stream plays 0..300, then holds reference frame 1000 for 300 frames (a
            // note far longer than any of the reference's) while the tracker waits at 300.
            let live = (0..300).chain(std::iter::repeat_n(1_000, 300));
            let mut found = Vec::new();
            for (i, r) in live.enumerate() {
                if let Some(candidate) = relocator.push_live(&reference.frame(r), i.min(300)).unwrap() {
                    found.push(candidate);
                }
            }
            found
        };
        let too_slow = |c: &RelocationCandidate| 2 * (c.ref_end + 1 - c.ref_start) < c.live_end + 1 - c.live_start;
        // Symmetric steps let the window collapse onto a few frames; the tempo bound turns
        // those matches away.
        let symmetric = RelocatorConfig {
            steps: SubsequenceSteps::Symmetric,
            ..config.clone()
        };
        let unbounded = candidates(RelocatorConfig {
            min_tempo: 1e-6,
            ..symmetric.clone()
        });
        assert!(
            unbounded.iter().any(too_slow),
            "without the bound, the held frame matches a few frames: {unbounded:?}"
        );
        assert_eq!(candidates(symmetric), vec![], "60 live frames on one reference frame");
        // Slope-limited steps (the default) never make such a match, bound or not.
        let slope_limited = candidates(RelocatorConfig {
            min_tempo: 1e-6,
            ..config.clone()
        });
        assert!(!slope_limited.iter().any(too_slow), "{slope_limited:?}");
        assert_eq!(candidates(config), vec![], "60 live frames on one reference frame");
        assert!(Relocator::new(
            reference.clone(),
            RelocatorConfig {
                min_tempo: 1.5,
                ..RelocatorConfig::default()
            }
        )
        .is_err());
    }

    /// Symbols held for 2 to 6 frames each, as features hold through a note.
    fn held_symbols(len: usize, dim: usize, seed: u64) -> Vec<f32> {
        let distinct = symbols(len, dim, seed);
        let mut values = Vec::with_capacity(len * dim);
        for (k, symbol) in distinct.chunks_exact(dim).enumerate() {
            for _ in 0..2 + k % 5 {
                values.extend_from_slice(symbol);
            }
        }
        values.truncate(len * dim);
        values
    }

    #[test]
    fn pooled_frames_find_a_jump_whatever_their_phase() {
        let dim = 12;
        let reference = Arc::new(FeatureMatrix::new(dim, held_symbols(2_000, dim, 3)).unwrap());
        for pooled_frames in [1, 2, 3] {
            // Jumps to even and odd frames, so that live groups meet reference groups in and
            // out of step.
            for jump_to in [1_100, 1_101, 1_102] {
                let config = RelocatorConfig {
                    query_frames: 60,
                    pooled_frames,
                    cells_per_frame: 10_000,
                    ..RelocatorConfig::default()
                };
                let mut relocator = Relocator::new(reference.clone(), config).unwrap();
                let live: Vec<usize> = (0..500).chain(jump_to..jump_to + 300).collect();
                let found = live.iter().enumerate().find_map(|(i, &r)| {
                    let tracked = if i < 500 { r } else { 500 };
                    let candidate = relocator.push_live(&reference.frame(r), tracked).unwrap()?;
                    (candidate.live_start >= 500).then_some((i, candidate))
                });
                let (i, candidate) =
                    found.unwrap_or_else(|| panic!("no candidate, pooled {pooled_frames}, to {jump_to}"));
                // Held symbols let a match end anywhere in the last one's run and stretch at no
                // cost, which the carried position inherits: within the 25 frames a hypothesis
                // is taken as the same place by, and its own tracker takes it from there.
                assert!(
                    candidate.ref_index.abs_diff(live[i]) <= 25,
                    "pooled {pooled_frames}: candidate {} for truth {}",
                    candidate.ref_index,
                    live[i]
                );
            }
        }
        let refused = RelocatorConfig {
            pooled_frames: 0,
            ..RelocatorConfig::default()
        };
        assert!(Relocator::new(reference.clone(), refused).is_err());
        let stricter_when_assumed = RelocatorConfig {
            unconfirmed_max_cost_ratio: 0.5,
            ..RelocatorConfig::default()
        };
        let error = Relocator::new(reference.clone(), stricter_when_assumed).unwrap_err();
        assert!(error.to_string().contains("max_cost_ratio"), "{error}");
        let too_short = RelocatorConfig {
            query_frames: 1,
            ..RelocatorConfig::default()
        };
        assert!(Relocator::new(reference.clone(), too_short).is_err());
        let short = RelocatorConfig {
            query_frames: 3,
            pooled_frames: 2,
            ..RelocatorConfig::default()
        };
        assert!(Relocator::new(reference, short).is_ok(), "pooled by 1 instead");
    }

    #[test]
    fn a_repeated_passage_does_not_pull_the_tracker_away() {
        let dim = 12;
        // The reference plays a passage twice: frames 200..600 again from `copy_at`, whatever
        // the copy's pooling phase against the original's.
        for copy_at in [1_000, 1_001, 1_002] {
            let mut values = symbols(2_000, dim, 7);
            let copy: Vec<f32> = values[200 * dim..600 * dim].to_vec();
            values[copy_at * dim..(copy_at + 400) * dim].copy_from_slice(&copy);
            let reference = Arc::new(FeatureMatrix::new(dim, values).unwrap());
            for pooled_frames in [2, 3] {
                let config = RelocatorConfig {
                    query_frames: 60,
                    pooled_frames,
                    cells_per_frame: 30_000,
                    ..RelocatorConfig::default()
                };
                let mut relocator = Relocator::new(reference.clone(), config).unwrap();
                for r in 0..700 {
                    let candidate = relocator.push_live(&reference.frame(r), r).unwrap();
                    assert!(
                        candidate.is_none(),
                        "pooled {pooled_frames}, copy at {copy_at}: spurious candidate {candidate:?} at {r}"
                    );
                }
            }
        }
    }
}
