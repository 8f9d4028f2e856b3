//! Exact streaming subsequence DTW (SPRING, Sakurai et al. 2007): where in a long sequence
//! does a short query match best, with the long sequence fed one frame at a time.
//!
//! For a query of `m` frames, each frame of the stream updates one column of `m` path costs,
//! so the work per stream frame is O(m·d) and the memory O(m) whatever the stream's length.
//! Every path may start at any stream frame (the query's first cell costs nothing to enter),
//! and the best match is the cheapest path reaching the query's last frame. With
//! [`SubsequenceSteps::Symmetric`] steps are the symmetric ones (each cell's distance counted
//! once, whichever way the path enters it), so the result equals [`full_dtw`](super::full_dtw)
//! with unit weights, minimised over every start and end in the stream.
//!
//! With [`SubsequenceSteps::SlopeLimited`] the path keeps a tempo between half and twice the
//! query's: each step advances the stream by one frame and the query by one or two, or the
//! stream by two and the query by one, passing through (and paying for) the cell between.
//! Without the limit a whole query may collapse onto a few stream frames that resemble it on
//! average (a held chord). A slower match then passes more cells than a faster one of the same
//! fit and costs more, so matches come out short of the span really played: with
//! [`SubsequenceSteps::TempoNeutral`] one query frame held over two stream frames pays the mean
//! of the two, every path pays one distance per query frame, and the span found is the one
//! played (`locate` places snippets so; the relocation search, whose thresholds weigh its
//! costs, keeps the cells counted once).
//!
//! `warpflow` feeds the *reference* as the stream and a window of recent *live* frames as the
//! query: the answer is where in the reference the live stream has just been. In int8
//! ([`Precision`]) the search is exact over the quantised frames.
//!
//! A search may be told that only matches below a cost matter ([`SubsequenceSearch::with_cost_limit`]):
//! the relocation search wants nothing that does not clearly beat the tracked place. Costs only
//! grow along a path, so a path at the limit is abandoned, and with slope-limited steps (at most
//! two query frames a stream frame) the query frames no living path can reach need no
//! distances: where the query matches poorly, paths die a fraction of the way along it, and so
//! does the work.

use std::ops::Range;

use super::int8_frames::Int8Frame;
use super::kernels::{
    min_plus_scan, slope_limited_column, HeldQueryFrame, KernelSet, SlopeLimitedColumn, COLUMN_LANES, PANEL_FRAMES,
};
use super::{inverse_norm, AlignError, Distance, FeatureMatrix, Precision};

/// The best match found so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubsequenceMatch {
    /// Accumulated path cost (sum of local distances along the path).
    pub cost: f32,
    /// First stream frame of the match.
    pub start: usize,
    /// Last stream frame of the match.
    pub end: usize,
}

/// The steps a match's path may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubsequenceSteps {
    /// Along the stream, along the query or diagonally, each cell's distance counted once: any
    /// tempo, as [`full_dtw`](super::full_dtw) with unit weights.
    #[default]
    Symmetric,
    /// Diagonally, or two cells along one sequence for one along the other: a tempo between
    /// half and twice the query's, every cell passed through counted once (so a slower match
    /// pays for more cells than a faster one).
    SlopeLimited,
    /// The steps of [`SubsequenceSteps::SlopeLimited`], one distance paid per query frame: a
    /// query frame held over two stream frames pays their mean, so that no tempo is favoured
    /// and a match spans the stream as it was played.
    TempoNeutral,
}

/// Streaming subsequence search of one query.
#[derive(Debug)]
pub struct SubsequenceSearch {
    query: FeatureMatrix,
    distance: Distance,
    /// The stream frame being taken, quantised, when the search runs in int8.
    quantised: Option<Int8Frame>,
    /// Path cost ending at (current stream frame, query frame i).
    cost: Vec<f32>,
    /// Stream frame where that path started (32 bits, so that a column's choices fill as many
    /// SIMD lanes as its costs).
    start: Vec<u32>,
    next_cost: Vec<f32>,
    next_start: Vec<u32>,
    steps: SubsequenceSteps,
    /// With [`SubsequenceSteps::SlopeLimited`]: path costs, their starts and the local
    /// distances one stream frame further back than `cost`.
    cost_before: Vec<f32>,
    start_before: Vec<u32>,
    previous_distances: Vec<f32>,
    /// The next stream frame's distances to each query frame, where a frame's distances are
    /// computed on their own (a panel's stay where the panel's kernel wrote them).
    distances: Vec<f32>,
    /// A stored stream frame widened to f32.
    frame_scratch: Vec<f32>,
    /// In int8, the distances of every query frame to one panel of eight stored stream frames
    /// (see [`SubsequenceSearch::push_stored_frames`]).
    panel_distances: Vec<f32>,
    /// Each cell's cheapest entry from the previous stream frame, plus its local distance.
    entered: Vec<f32>,
    frames_seen: usize,
    best: Option<SubsequenceMatch>,
    /// The best match ending more than a query's length (in stream frames) from where `best`
    /// ends, as far as a streaming search can tell (see [`SubsequenceSearch::runner_up`]).
    runner_up: Option<SubsequenceMatch>,
    /// Paths costing this or more are of no interest (infinite: every path is).
    cost_limit: f32,
    /// The furthest query frame a path below the limit reached at the latest stream frame,
    /// and at the one before (`None`: no path did, or no frame yet).
    reach: [Option<usize>; 2],
}

impl SubsequenceSearch {
    /// A search for `query` (at least one frame) along symmetric steps, in f32.
    pub fn new(query: FeatureMatrix, distance: Distance) -> Result<Self, AlignError> {
        Self::with_steps(query, distance, Precision::F32, SubsequenceSteps::Symmetric)
    }

    /// A search for `query` (at least one frame) along paths of `steps`, whose distances are
    /// computed in `precision` (int8 for cosine only).
    pub fn with_steps(
        query: FeatureMatrix,
        distance: Distance,
        precision: Precision,
        steps: SubsequenceSteps,
    ) -> Result<Self, AlignError> {
        if query.is_empty() {
            return Err(AlignError::EmptyReference);
        }
        precision.check_distance(distance, "precision")?;
        let m = query.len();
        let int8 = precision.resolve(query.dim(), distance) == Precision::Int8;
        Ok(Self {
            quantised: int8.then(|| Int8Frame::new(query.dim())),
            // In int8 the distances come from the query's quantised panels alone; f32 panels
            // would be a second copy of every value, made again for every scan.
            query: if int8 { query } else { query.with_panels() },
            distance,
            cost: vec![f32::INFINITY; m],
            start: vec![0; m],
            next_cost: vec![f32::INFINITY; m],
            next_start: vec![0; m],
            steps,
            cost_before: vec![f32::INFINITY; m],
            start_before: vec![0; m],
            previous_distances: vec![f32::INFINITY; m],
            distances: Vec::with_capacity(m),
            frame_scratch: Vec::new(),
            panel_distances: Vec::new(),
            entered: Vec::with_capacity(m),
            frames_seen: 0,
            best: None,
            runner_up: None,
            cost_limit: f32::INFINITY,
            reach: [None; 2],
        })
    }

    /// The same search, reporting only matches that cost less than `limit`: [`Self::best`] is
    /// then the best match below `limit`, exactly as without one, or `None` where there is
    /// none. With slope-limited steps, distances are computed only for the query frames a
    /// path below the limit can reach at each stream frame (in whole panels of eight); with
    /// symmetric ones a path may run along the whole query within one stream frame, and every
    /// distance is computed. Given before the first stream frame: the reach of paths taken
    /// without a limit is not known.
    pub fn with_cost_limit(mut self, limit: f32) -> Self {
        debug_assert_eq!(self.frames_seen, 0, "a cost limit is set before the search starts");
        self.cost_limit = limit;
        self
    }

    /// Frames in the query.
    pub fn query_len(&self) -> usize {
        self.query.len()
    }

    /// Ends the search and gives back its query (with its panels), for another search of it.
    pub fn into_query(self) -> FeatureMatrix {
        self.query
    }

    /// Stream frames taken so far.
    pub fn frames_seen(&self) -> usize {
        self.frames_seen
    }

    /// The best match so far: `None` until a path has reached the query's last frame (with
    /// slope-limited steps, not before half the query's length in stream frames).
    pub fn best(&self) -> Option<SubsequenceMatch> {
        self.best
    }

    /// The best match found elsewhere than [`SubsequenceSearch::best`]: ending more than the
    /// query's length in stream frames from it. Kept as the search streams: a match that was
    /// runner-up to an earlier best and falls near a later one is dropped, not replaced by
    /// the next best elsewhere, which the search no longer knows. For searches whose best can
    /// be turned down by a closer check (the relocation scan over projected frames).
    pub fn runner_up(&self) -> Option<SubsequenceMatch> {
        self.runner_up
    }

    /// Takes the next stream frame.
    pub fn push_frame(&mut self, frame: &[f32]) -> Result<(), AlignError> {
        self.check_frame(frame.len())?;
        let reachable = self.reachable_query_frames();
        match self.quantised.as_mut() {
            Some(quantised) => {
                quantised.quantise(frame);
                self.query.int8_cosines_to(quantised, 0..reachable, &mut self.distances);
            }
            None => self.query.distances_to(
                frame,
                inverse_norm(frame),
                0..reachable,
                self.distance,
                &mut self.distances,
            ),
        }
        self.advance_by_own_distances(reachable);
        Ok(())
    }

    /// Takes frame `index` of `stream` as the next stream frame: what [`Self::push_frame`]
    /// does with it, its quantisation (in int8) and norm read from `stream` rather than
    /// computed, so that a reference many searches scan is quantised once.
    pub fn push_stored_frame(&mut self, stream: &FeatureMatrix, index: usize) -> Result<(), AlignError> {
        self.check_frame(stream.dim())?;
        let reachable = self.reachable_query_frames();
        match self.quantised {
            Some(_) => self
                .query
                .int8_cosines_to_stored(stream, index, 0..reachable, &mut self.distances),
            None => {
                let frame = stream.frame_in(index, &mut self.frame_scratch);
                let norm = stream.frame_inverse_norm(index);
                self.query
                    .distances_to(frame, norm, 0..reachable, self.distance, &mut self.distances);
            }
        }
        self.advance_by_own_distances(reachable);
        Ok(())
    }

    /// Takes frames `frames` of `stream` as the next stream frames, one by one as
    /// [`Self::push_stored_frame`] takes them, with the same result. In int8, where the paths
    /// below the limit reach at least half of the query, the distances of eight stored frames
    /// that share an int8 panel are computed together, every query frame against the panel,
    /// which spares seven of the eight setups of the per-frame kernel.
    pub fn push_stored_frames(&mut self, stream: &FeatureMatrix, frames: Range<usize>) -> Result<(), AlignError> {
        let mut index = frames.start;
        while index < frames.end {
            let whole_panel =
                index.is_multiple_of(PANEL_FRAMES) && index + PANEL_FRAMES <= frames.end.min(stream.len());
            let m = self.query.len();
            // A panel costs every query frame's distance for each of its frames, but a distance
            // computed there costs about half as much as in one frame's column: worth it where
            // at least half of the query is reachable.
            if !(whole_panel && self.quantised.is_some() && 2 * self.reachable_query_frames() >= m) {
                self.push_stored_frame(stream, index)?;
                index += 1;
                continue;
            }
            self.check_frame(stream.dim())?;
            let mut panel_distances = std::mem::take(&mut self.panel_distances);
            self.query
                .int8_cosines_to_stored_panel(stream, index / PANEL_FRAMES, &mut panel_distances);
            let column_len = m.next_multiple_of(PANEL_FRAMES);
            // Each column is advanced where the panel's distances hold it, the one before it
            // read there too; the last is kept as the one before the next stream frame.
            let mut previous = std::mem::take(&mut self.previous_distances);
            let mut outcome = Ok(());
            let mut last_column: Option<&[f32]> = None;
            for column in panel_distances.chunks_exact_mut(column_len) {
                if let Err(error) = self.check_frame(stream.dim()) {
                    outcome = Err(error);
                    break;
                }
                let reachable = self.reachable_query_frames();
                let column = &mut column[..m];
                column[reachable..].fill(f32::INFINITY);
                self.advance(reachable, column, last_column.unwrap_or(&previous));
                last_column = Some(column);
            }
            if let Some(last) = last_column {
                previous.copy_from_slice(last);
            }
            self.previous_distances = previous;
            self.panel_distances = panel_distances;
            outcome?;
            index += PANEL_FRAMES;
        }
        Ok(())
    }

    /// How many query frames, from the first, the next stream frame needs distances to: all of
    /// them without a limit or with symmetric steps; with slope-limited ones, up to the
    /// furthest a path below the limit can reach (two past the latest reach, one past the
    /// reach before: the steps that enter a cell), in whole panels. A path starts at the first
    /// frame at every stream frame, so that one is always needed.
    fn reachable_query_frames(&self) -> usize {
        let m = self.query.len();
        if self.cost_limit == f32::INFINITY || self.steps == SubsequenceSteps::Symmetric {
            return m;
        }
        let [latest, before] = self.reach;
        let furthest = latest.map_or(0, |r| r + 2).max(before.map_or(0, |r| r + 1));
        (furthest + 1).next_multiple_of(PANEL_FRAMES).min(m)
    }

    /// Stream frames must have the query's dimension, and a search takes fewer than 2³² of
    /// them (more than two years of frames of 20 ms).
    fn check_frame(&self, dim: usize) -> Result<(), AlignError> {
        if dim != self.query.dim() {
            return Err(AlignError::DimensionMismatch {
                expected: self.query.dim(),
                actual: dim,
            });
        }
        match u32::try_from(self.frames_seen) {
            Ok(t) if t < u32::MAX => Ok(()),
            _ => Err(AlignError::BadParameter {
                name: "subsequence search stream",
                expected: "fewer than 2^32 frames",
                actual: format!("frame {}", self.frames_seen),
            }),
        }
    }

    /// Keeps `found` as the best match or the runner-up if it beats them.
    fn keep_match(&mut self, found: SubsequenceMatch) {
        let apart = |a: SubsequenceMatch, b: SubsequenceMatch| a.end.abs_diff(b.end) > self.query.len();
        match self.best {
            Some(best) if found.cost >= best.cost => {
                if apart(found, best) && self.runner_up.is_none_or(|r| found.cost < r.cost) {
                    self.runner_up = Some(found);
                }
            }
            best => {
                let runners = [best, self.runner_up].into_iter().flatten();
                self.runner_up = runners
                    .filter(|&r| apart(r, found))
                    .min_by(|a, b| a.cost.total_cmp(&b.cost));
                self.best = Some(found);
            }
        }
    }

    /// [`Self::advance`] with the distances in `self.distances` (the first `reachable`), which
    /// then become the previous stream frame's.
    fn advance_by_own_distances(&mut self, reachable: usize) {
        let mut distances = std::mem::take(&mut self.distances);
        let previous = std::mem::take(&mut self.previous_distances);
        distances.resize(self.query.len(), f32::INFINITY);
        self.advance(reachable, &distances, &previous);
        self.previous_distances = distances;
        self.distances = previous;
    }

    /// Moves the paths on to the next stream frame, whose distances to each query frame are
    /// `distances` (infinite from `reachable` on: no path below the limit enters those), the
    /// stream frame before's `previous`.
    fn advance(&mut self, reachable: usize, distances: &[f32], previous: &[f32]) {
        // Below 2³² − 1: every frame passes `check_frame` first.
        let t = self.frames_seen as u32;
        let m = self.query.len();
        match self.steps {
            SubsequenceSteps::Symmetric => self.advance_symmetric(t, distances),
            SubsequenceSteps::SlopeLimited => {
                self.advance_slope_limited(t, HeldQueryFrame::PaysBoth, reachable, distances, previous)
            }
            SubsequenceSteps::TempoNeutral => {
                self.advance_slope_limited(t, HeldQueryFrame::PaysMean, reachable, distances, previous)
            }
        }
        if self.cost_limit < f32::INFINITY {
            let below_limit = self.cost[..reachable].iter().rposition(|&cost| cost < self.cost_limit);
            self.reach = [below_limit, self.reach[0]];
        }
        let last = m - 1;
        let cost = self.cost[last];
        if cost.is_finite() && cost < self.cost_limit {
            self.keep_match(SubsequenceMatch {
                cost,
                start: self.start[last] as usize,
                end: self.frames_seen,
            });
        }
        self.frames_seen += 1;
    }

    /// Moves the path costs on to stream frame `t` with symmetric steps.
    fn advance_symmetric(&mut self, t: u32, distances: &[f32]) {
        let m = self.query.len();
        // Costs first, as a min-plus scan (eight cells at a time where the kernels can): cell i
        // is entered from the previous stream frame (same or previous query frame) or along
        // the query from cell i − 1; the query's first frame may also begin a new path here,
        // for free, which no path undercuts.
        self.entered.clear();
        self.entered.push(distances[0]);
        self.entered.extend(
            distances[1..]
                .iter()
                .zip(self.cost[1..].iter().zip(&self.cost[..m - 1]))
                .map(|(&d, (&up, &diagonal))| d + if up < diagonal { up } else { diagonal }),
        );
        min_plus_scan(KernelSet::active(), &self.entered, distances, &mut self.next_cost);
        // Then where each path started, following the same choices (the previous stream frame
        // first, then along the query, then diagonally, each only when strictly cheaper). Only
        // the start carries from cell to cell here: a conditional move, no branch.
        let mut left_start = if self.cost[0] > 0.0 { t } else { self.start[0] };
        self.next_start[0] = left_start;
        let earlier = self.cost[1..]
            .iter()
            .zip(&self.start[1..])
            .zip(self.cost[..m - 1].iter().zip(&self.start[..m - 1]));
        for ((next_start, &left_cost), ((&up_cost, &up_start), (&diagonal_cost, &diagonal_start))) in self.next_start
            [1..]
            .iter_mut()
            .zip(&self.next_cost[..m - 1])
            .zip(earlier)
        {
            let take_left = left_cost < up_cost;
            let lowest = if take_left { left_cost } else { up_cost };
            let start = if take_left { left_start } else { up_start };
            let start = if diagonal_cost < lowest { diagonal_start } else { start };
            *next_start = start;
            left_start = start;
        }
        std::mem::swap(&mut self.cost, &mut self.next_cost);
        std::mem::swap(&mut self.start, &mut self.next_start);
    }

    /// Moves the path costs on to stream frame `t` with slope-limited steps, for the first
    /// `reachable` query frames (the rest are out of reach: infinitely costly). Each cell
    /// depends on the two stream frames before only, never on its neighbour along the query, so
    /// the loop carries no dependency, and its choices are selects rather than branches (the
    /// criterion bench `subsequence_push_frame` compares it with symmetric steps' scan).
    fn advance_slope_limited(
        &mut self,
        t: u32,
        held: HeldQueryFrame,
        reachable: usize,
        distances: &[f32],
        previous: &[f32],
    ) {
        let m = self.query.len();
        self.next_cost[0] = distances[0];
        self.next_start[0] = t;
        if m >= 2 {
            // Cell 1 has no cell two along the query before it.
            let here = distances[1];
            let (diagonal, along_stream) = match held {
                HeldQueryFrame::PaysBoth => (self.cost[0], self.cost_before[0] + previous[1]),
                HeldQueryFrame::PaysMean => (self.cost[0] + here, self.cost_before[0] + 0.5 * (previous[1] + here)),
            };
            let take_stream = along_stream < diagonal;
            let cheapest = if take_stream { along_stream } else { diagonal };
            self.next_cost[1] = match held {
                HeldQueryFrame::PaysBoth => here + cheapest,
                HeldQueryFrame::PaysMean => cheapest,
            };
            self.next_start[1] = if take_stream {
                self.start_before[0]
            } else {
                self.start[0]
            };
        }
        // Cells 2.. with every candidate at the same offset k: the diagonal from (i − 1, t − 1),
        // two along the query through (i − 1, t), two along the stream through (i, t − 1).
        if m < 3 {
            self.rotate_slope_limited_columns();
            return;
        }
        // Whole registers of cells where the query has them: a cell past the reachable ones is
        // as cheap to compute (infinite) as to fill, and a shorter tail is scalar.
        let n = (reachable.max(2) - 2).next_multiple_of(COLUMN_LANES).min(m - 2);
        self.next_cost[2 + n..].fill(f32::INFINITY);
        let cells = SlopeLimitedColumn {
            held,
            diagonal_cost: &self.cost[1..][..n],
            diagonal_start: &self.start[1..][..n],
            query_cost: &self.cost[..n],
            query_start: &self.start[..n],
            query_through: &distances[1..][..n],
            stream_cost: &self.cost_before[1..][..n],
            stream_start: &self.start_before[1..][..n],
            stream_through: &previous[2..][..n],
            here: &distances[2..][..n],
            next_cost: &mut self.next_cost[2..][..n],
            next_start: &mut self.next_start[2..][..n],
        };
        slope_limited_column(KernelSet::active(), cells);
        self.rotate_slope_limited_columns();
    }

    /// Frame t − 1 becomes the one before, frame t (just computed) the latest.
    fn rotate_slope_limited_columns(&mut self) {
        std::mem::swap(&mut self.cost_before, &mut self.cost);
        std::mem::swap(&mut self.start_before, &mut self.start);
        std::mem::swap(&mut self.cost, &mut self.next_cost);
        std::mem::swap(&mut self.start, &mut self.next_start);
    }

    /// Takes every frame of `stream`, first to last: a whole recording searched at once.
    pub fn push_frames(&mut self, stream: &FeatureMatrix) -> Result<(), AlignError> {
        let mut scratch = Vec::new();
        for k in 0..stream.len() {
            self.push_frame(stream.frame_in(k, &mut scratch))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::test_sequences::{quantised_as_f32, spread_frames};
    use crate::align::{full_dtw, StepWeights};
    use proptest::prelude::*;

    const UNIT: StepWeights = StepWeights {
        live: 1.0,
        reference: 1.0,
        diagonal: 1.0,
    };

    /// Every (start, end) of the stream, with full DTW each time.
    fn brute_force(query: &FeatureMatrix, stream: &FeatureMatrix) -> f32 {
        let mut best = f32::INFINITY;
        for a in 0..stream.len() {
            for b in a..stream.len() {
                let rows: Vec<f32> = (a..=b).flat_map(|k| stream.frame(k).to_vec()).collect();
                let span = FeatureMatrix::new(stream.dim(), rows).unwrap();
                best = best.min(full_dtw(query, &span, Distance::Euclidean, UNIT).unwrap().cost);
            }
        }
        best
    }

    proptest! {
        #[test]
        fn equals_brute_force_subsequence_dtw(
            query_len in 1usize..6,
            stream_len in 1usize..14,
            values in proptest::collection::vec(-1.0f32..1.0, 2 * 20),
        ) {
            let query = FeatureMatrix::new(2, values[..query_len * 2].to_vec()).unwrap();
            let stream = FeatureMatrix::new(2, values[40 - stream_len * 2..].to_vec()).unwrap();
            let mut search = SubsequenceSearch::new(query.clone(), Distance::Euclidean).unwrap();
            for k in 0..stream.len() {
                search.push_frame(&stream.frame(k)).unwrap();
            }
            let found = search.best().unwrap();
            let exact = brute_force(&query, &stream);
            prop_assert!((found.cost - exact).abs() <= 1e-4 * exact.max(1.0), "streaming {} brute force {exact}", found.cost);
            prop_assert!(found.start <= found.end && found.end < stream.len());
            // The reported span itself achieves the cost.
            let rows: Vec<f32> = (found.start..=found.end).flat_map(|k| stream.frame(k).to_vec()).collect();
            let span = FeatureMatrix::new(2, rows).unwrap();
            let span_cost = full_dtw(&query, &span, Distance::Euclidean, UNIT).unwrap().cost;
            prop_assert!((span_cost - found.cost).abs() <= 1e-4 * exact.max(1.0));
        }
    }

    proptest! {
        /// In int8 the search is exact over the quantised frames: it equals brute force with
        /// cosine distance over the frames' integers.
        #[test]
        fn int8_equals_brute_force_over_the_quantised_frames(
            query_len in 1usize..6,
            stream_len in 1usize..14,
            dim in 1usize..6,
            values in proptest::collection::vec(-1.0f32..1.0, 6 * 20),
        ) {
            let query = FeatureMatrix::new(dim, values[..query_len * dim].to_vec()).unwrap();
            let stream = FeatureMatrix::new(dim, values[values.len() - stream_len * dim..].to_vec()).unwrap();
            let mut search =
                SubsequenceSearch::with_steps(query.clone(), Distance::Cosine, Precision::Int8, SubsequenceSteps::Symmetric)
                    .unwrap();
            search.push_frames(&stream).unwrap();
            let found = search.best().unwrap();
            let (query, stream) = (quantised_as_f32(&query), quantised_as_f32(&stream));
            let mut exact = f32::INFINITY;
            for a in 0..stream.len() {
                for b in a..stream.len() {
                    let rows: Vec<f32> = (a..=b).flat_map(|k| stream.frame(k).to_vec()).collect();
                    let span = FeatureMatrix::new(dim, rows).unwrap();
                    exact = exact.min(full_dtw(&query, &span, Distance::Cosine, UNIT).unwrap().cost);
                }
            }
            prop_assert!((found.cost - exact).abs() <= 1e-4 * exact.max(1.0), "streaming {} brute force {exact}", found.cost);
        }
    }

    /// DTW of `query` against all of `span` with slope-limited steps, path from first cells to
    /// last, every cell passed through counted once or, `tempo_neutral`, the two cells of a
    /// step along the span at half weight each.
    fn slope_limited_dtw(query: &FeatureMatrix, span: &FeatureMatrix, distance: Distance, tempo_neutral: bool) -> f32 {
        let held_weight = if tempo_neutral { 0.5 } else { 1.0 };
        let (m, n) = (query.len(), span.len());
        let d = |i: usize, j: usize| distance.between(&query.frame(i), &span.frame(j));
        let mut cost = vec![vec![f32::INFINITY; n]; m];
        cost[0][0] = d(0, 0);
        for j in 1..n {
            for i in 1..m {
                let mut lowest = cost[i - 1][j - 1];
                if i >= 2 {
                    lowest = lowest.min(cost[i - 2][j - 1] + d(i - 1, j));
                }
                let mut lowest = d(i, j) + lowest;
                if j >= 2 {
                    lowest = lowest.min(cost[i - 1][j - 2] + held_weight * (d(i, j - 1) + d(i, j)));
                }
                cost[i][j] = lowest;
            }
        }
        cost[m - 1][n - 1]
    }

    proptest! {
        /// Slope-limited, the search equals brute force: the cheapest slope-limited DTW over
        /// every span of the stream, in f32 and, over the quantised frames, in int8, with cells
        /// counted once or tempo-neutral.
        #[test]
        fn slope_limited_equals_brute_force(
            query_len in 1usize..7,
            stream_len in 1usize..16,
            dim in 1usize..4,
            int8 in any::<bool>(),
            tempo_neutral in any::<bool>(),
            values in proptest::collection::vec(-1.0f32..1.0, 4 * 22),
        ) {
            let steps = if tempo_neutral { SubsequenceSteps::TempoNeutral } else { SubsequenceSteps::SlopeLimited };
            let query = FeatureMatrix::new(dim, values[..query_len * dim].to_vec()).unwrap();
            let stream = FeatureMatrix::new(dim, values[values.len() - stream_len * dim..].to_vec()).unwrap();
            let (distance, precision) = if int8 { (Distance::Cosine, Precision::Int8) } else { (Distance::Euclidean, Precision::F32) };
            let mut search = SubsequenceSearch::with_steps(query.clone(), distance, precision, steps).unwrap();
            search.push_frames(&stream).unwrap();
            let (query, stream) = if int8 { (quantised_as_f32(&query), quantised_as_f32(&stream)) } else { (query, stream) };
            let span = |a: usize, b: usize| {
                FeatureMatrix::new(dim, (a..=b).flat_map(|k| stream.frame(k).to_vec()).collect()).unwrap()
            };
            let mut exact = f32::INFINITY;
            for a in 0..stream.len() {
                for b in a..stream.len() {
                    exact = exact.min(slope_limited_dtw(&query, &span(a, b), distance, tempo_neutral));
                }
            }
            if exact.is_finite() {
                let found = search.best().unwrap();
                prop_assert!((found.cost - exact).abs() <= 1e-4 * exact.max(1.0), "streaming {} brute force {exact}", found.cost);
                // The reported span itself achieves the cost.
                let span_cost = slope_limited_dtw(&query, &span(found.start, found.end), distance, tempo_neutral);
                prop_assert!((span_cost - found.cost).abs() <= 1e-4 * exact.max(1.0));
            } else {
                // The query is more than twice the stream: no path fits.
                prop_assert!(search.best().is_none());
            }
        }
    }

    proptest! {
        /// With a cost limit the search reports the best match exactly as without one where
        /// that costs less than the limit, and nothing otherwise, whatever the steps and the
        /// precision; queries longer than a panel, so that whole panels go uncomputed.
        #[test]
        fn a_cost_limit_keeps_every_match_below_it(
            query_len in 1usize..30,
            stream_len in 1usize..60,
            dim in 1usize..5,
            steps in prop_oneof![
                Just(SubsequenceSteps::Symmetric),
                Just(SubsequenceSteps::SlopeLimited),
                Just(SubsequenceSteps::TempoNeutral),
            ],
            int8 in any::<bool>(),
            limit_ratio in 0.3f32..2.0,
            values in proptest::collection::vec(-1.0f32..1.0, 5 * 90),
        ) {
            let query = FeatureMatrix::new(dim, values[..query_len * dim].to_vec()).unwrap();
            let stream = FeatureMatrix::new(dim, values[values.len() - stream_len * dim..].to_vec()).unwrap();
            let (distance, precision) = if int8 { (Distance::Cosine, Precision::Int8) } else { (Distance::Euclidean, Precision::F32) };
            let mut unlimited = SubsequenceSearch::with_steps(query.clone(), distance, precision, steps).unwrap();
            unlimited.push_frames(&stream).unwrap();
            let Some(best) = unlimited.best() else {
                return Ok(());
            };
            // Limits above and below the best match, and one at it (which excludes it).
            for limit in [best.cost * limit_ratio + 1e-3, best.cost] {
                let mut limited = SubsequenceSearch::with_steps(query.clone(), distance, precision, steps)
                    .unwrap()
                    .with_cost_limit(limit);
                limited.push_frames(&stream).unwrap();
                let expected = (best.cost < limit).then_some(best);
                prop_assert_eq!(limited.best(), expected, "limit {}", limit);
            }
        }
    }

    #[test]
    fn paths_at_the_limit_leave_the_rest_of_the_query_uncomputed() {
        // A query of one direction against a stream of the opposite one: every distance is 2,
        // so a path dies within a few query frames of a limit of 5.
        let dim = 4;
        let query = FeatureMatrix::new(dim, [1.0, 0.0, 0.0, 0.0].repeat(40)).unwrap();
        let stream = FeatureMatrix::new(dim, [-1.0, 0.0, 0.0, 0.0].repeat(100)).unwrap();
        for steps in [SubsequenceSteps::SlopeLimited, SubsequenceSteps::TempoNeutral] {
            let mut search = SubsequenceSearch::with_steps(query.clone(), Distance::Cosine, Precision::Int8, steps)
                .unwrap()
                .with_cost_limit(5.0);
            search.push_frames(&stream).unwrap();
            assert_eq!(search.reachable_query_frames(), PANEL_FRAMES, "{steps:?}");
            assert_eq!(search.best(), None);
        }
        // Symmetric steps can cross the whole query in one stream frame: all of it is computed.
        let search =
            SubsequenceSearch::with_steps(query, Distance::Cosine, Precision::Int8, SubsequenceSteps::Symmetric)
                .unwrap()
                .with_cost_limit(5.0);
        assert_eq!(search.reachable_query_frames(), 40);
    }

    #[test]
    fn a_slope_limited_match_keeps_its_tempo_within_half_and_double() {
        // A query of one frame held long; the stream has it for a single frame. Symmetric
        // steps match the whole query to that frame, slope-limited ones need a stream span of
        // at least half the query.
        let mut stream: Vec<f32> = (0..40).map(|k| if k % 2 == 0 { 0.0 } else { 1.0 }).collect();
        stream[20] = 5.0;
        let stream = FeatureMatrix::new(1, stream).unwrap();
        let query = FeatureMatrix::new(1, vec![5.0; 9]).unwrap();
        let search = |steps| {
            let mut search =
                SubsequenceSearch::with_steps(query.clone(), Distance::Euclidean, Precision::F32, steps).unwrap();
            search.push_frames(&stream).unwrap();
            search.best().unwrap()
        };
        let symmetric = search(SubsequenceSteps::Symmetric);
        assert_eq!((symmetric.start, symmetric.end, symmetric.cost), (20, 20, 0.0));
        let limited = search(SubsequenceSteps::SlopeLimited);
        assert!(limited.end - limited.start >= 4, "{limited:?}");
        assert!(limited.cost > 0.0);
    }

    #[test]
    fn a_tempo_neutral_match_spans_a_faster_rendition_as_played() {
        // Slowly changing frames (as features of 93 ms windows every 20 ms are), and a snippet of
        // stream frames 300..600 played 1.5 times as fast by another instrument (noise of its
        // own on every value, so that every cell costs something, the right ones least).
        // Counting every cell passed, a step over two stream frames pays two distances for one
        // snippet frame, and the match sheds stream frames at its ends; paying per snippet
        // frame, it spans what was played.
        let dim = 8;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut centred_uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 1_000) as f32 / 1_000.0 - 0.5
        };
        let mut walk = vec![0.0f32; dim];
        let mut stream = Vec::new();
        for _ in 0..1_000 {
            for value in &mut walk {
                *value = 0.995 * *value + 0.1 * centred_uniform();
            }
            stream.extend(walk.iter().map(|v| v + 4.0));
        }
        let mut snippet = Vec::new();
        for i in 0..200 {
            let at = 300.0 + 1.5 * i as f32;
            let (k, fraction) = (at as usize, at.fract());
            for d in 0..dim {
                let (a, b) = (stream[k * dim + d], stream[(k + 1) * dim + d]);
                snippet.push(a + fraction * (b - a) + 0.5 * centred_uniform());
            }
        }
        let stream = FeatureMatrix::new(dim, stream).unwrap();
        let snippet = FeatureMatrix::new(dim, snippet).unwrap();
        let span = |steps| {
            let mut search =
                SubsequenceSearch::with_steps(snippet.clone(), Distance::Cosine, Precision::F32, steps).unwrap();
            search.push_frames(&stream).unwrap();
            let found = search.best().unwrap();
            (found.start, found.end)
        };
        let (start, end) = span(SubsequenceSteps::TempoNeutral);
        assert!(
            start.abs_diff(300) <= 3 && end.abs_diff(599) <= 3,
            "tempo-neutral {start}..{end}"
        );
        let (start, end) = span(SubsequenceSteps::SlopeLimited);
        assert!(end - start < 290, "cells counted once {start}..{end}");
    }

    #[test]
    fn int8_needs_cosine() {
        let query = FeatureMatrix::new(2, vec![1.0, 0.0]).unwrap();
        assert!(matches!(
            SubsequenceSearch::with_steps(query, Distance::Euclidean, Precision::Int8, SubsequenceSteps::Symmetric),
            Err(AlignError::BadParameter { name: "precision", .. })
        ));
    }

    /// `len` values uniform in [0, 1), the same every call.
    fn uniform_values(len: usize) -> Vec<f32> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect()
    }

    #[test]
    fn finds_a_planted_copy() {
        let stream = FeatureMatrix::new(1, uniform_values(400)).unwrap();
        let query = FeatureMatrix::new(1, (250..270).map(|k| stream.frame(k)[0]).collect()).unwrap();
        let mut search = SubsequenceSearch::new(query, Distance::Euclidean).unwrap();
        search.push_frames(&stream).unwrap();
        let found = search.best().unwrap();
        assert_eq!((found.start, found.end), (250, 269));
        assert_eq!(found.cost, 0.0);
    }

    #[test]
    fn the_runner_up_is_the_best_match_elsewhere() {
        let mut values = uniform_values(400);
        let passage: Vec<f32> = values[250..270].to_vec();
        // A copy a little off at 100, an exact one at 250: the exact one is best, the other the
        // best match more than a query's length away from it.
        for (k, &v) in passage.iter().enumerate() {
            values[100 + k] = v + 0.01;
        }
        let stream = FeatureMatrix::new(1, values).unwrap();
        let mut search = SubsequenceSearch::new(FeatureMatrix::new(1, passage).unwrap(), Distance::Euclidean).unwrap();
        search.push_frames(&stream).unwrap();
        let best = search.best().unwrap();
        let runner_up = search.runner_up().unwrap();
        assert_eq!((best.start, best.end), (250, 269));
        assert_eq!((runner_up.start, runner_up.end), (100, 119));
        assert!(runner_up.cost > best.cost);
        let mut once = SubsequenceSearch::new(FeatureMatrix::new(1, vec![0.5]).unwrap(), Distance::Euclidean).unwrap();
        once.push_frame(&[0.5]).unwrap();
        assert_eq!(once.runner_up(), None, "no match elsewhere yet");
    }

    #[test]
    fn a_stored_frame_is_searched_as_the_same_frame_given_whole() {
        let dim = 96;
        let stream = FeatureMatrix::new(dim, spread_frames(300, dim, 0x9e37_79b9_7f4a_7c15)).unwrap();
        let query = FeatureMatrix::new(dim, (120..150).flat_map(|k| stream.frame(k).to_vec()).collect()).unwrap();
        for (distance, precision) in [
            (Distance::Cosine, Precision::Int8),
            (Distance::Cosine, Precision::F32),
            (Distance::Euclidean, Precision::F32),
        ] {
            let search = || {
                SubsequenceSearch::with_steps(query.clone(), distance, precision, SubsequenceSteps::SlopeLimited)
                    .unwrap()
            };
            let (mut whole, mut stored) = (search(), search());
            for k in 0..stream.len() {
                whole.push_frame(&stream.frame(k)).unwrap();
                stored.push_stored_frame(&stream, k).unwrap();
                assert_eq!(
                    whole.distances, stored.distances,
                    "{distance:?} {precision:?} frame {k}"
                );
            }
            assert_eq!(whole.best(), stored.best());
            assert_eq!(stored.best().map(|b| (b.start, b.end)), Some((120, 149)));
        }
        let other = FeatureMatrix::new(dim + 1, vec![0.0; dim + 1]).unwrap();
        assert!(search_err(&query, &other));
    }

    proptest! {
        /// Stored frames taken a range at a time (eight sharing a panel at once where the
        /// paths reach far enough) leave every cost, match and reach as one at a time does.
        #[test]
        fn stored_frames_in_a_range_are_searched_as_one_by_one(
            seed in any::<u64>(),
            query_start in 0usize..200,
            query_len in 2usize..40,
            limit in prop_oneof![Just(f32::INFINITY), 0.5f32..20.0],
            cuts in proptest::collection::vec(0usize..300, 0..6),
        ) {
            let dim = 68;
            let stream = FeatureMatrix::new(dim, spread_frames(300, dim, seed)).unwrap();
            let query = FeatureMatrix::new(
                dim,
                (query_start..query_start + query_len).flat_map(|k| stream.frame(k).to_vec()).collect(),
            )
            .unwrap();
            let search = || {
                SubsequenceSearch::with_steps(query.clone(), Distance::Cosine, Precision::Int8, SubsequenceSteps::SlopeLimited)
                    .unwrap()
                    .with_cost_limit(limit)
            };
            let (mut one_by_one, mut ranges) = (search(), search());
            (0..stream.len()).try_for_each(|k| one_by_one.push_stored_frame(&stream, k)).unwrap();
            let mut bounds: Vec<usize> = cuts.into_iter().chain([0, stream.len()]).collect();
            bounds.sort_unstable();
            for range in bounds.windows(2) {
                ranges.push_stored_frames(&stream, range[0]..range[1]).unwrap();
            }
            prop_assert_eq!(one_by_one.best(), ranges.best());
            prop_assert_eq!(one_by_one.runner_up(), ranges.runner_up());
            prop_assert_eq!(&one_by_one.cost, &ranges.cost);
            prop_assert_eq!(one_by_one.reach, ranges.reach);
            prop_assert_eq!(one_by_one.frames_seen(), ranges.frames_seen());
        }
    }

    fn search_err(query: &FeatureMatrix, other: &FeatureMatrix) -> bool {
        let mut search = SubsequenceSearch::new(query.clone(), Distance::Cosine).unwrap();
        matches!(
            search.push_stored_frame(other, 0),
            Err(AlignError::DimensionMismatch { .. })
        )
    }
}
