//! The online aligner's frontier: one row or one column of the DTW cost matrix, each cell holding
//! the cost of the best path to it and that path's total step weight, and the recurrence that
//! fills a new strip from the one beside it.
//!
//! Costs and weights are kept in two arrays (not as pairs) so that the scans over a strip and
//! the recurrence's independent parts vectorise. Each change also brings the normalised costs
//! (cost / weight) and the cheapest cell up to date: the aligner asks for the cheapest cell of
//! a strip several times a step (for the step decision, the report, the confidence's rivals),
//! and one division pass per change serves them all. This module knows nothing of live frames, the
//! reference or step decisions; [`super::OnlineTimeWarper`] drives it.

use std::ops::Range;

use super::path_history::{ENTRY_DIAGONAL, ENTRY_LIVE, ENTRY_REFERENCE};
use super::StepWeights;
use crate::align::kernels::{lowest_finite, min_plus_scan, vectorised, KernelSet, WideWork};

/// One cell of the cost matrix: the best path's cost and its total step weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Cell {
    pub(super) cost: f32,
    pub(super) weight: f32,
}

impl Cell {
    pub(super) const UNREACHED: Cell = Cell {
        cost: f32::INFINITY,
        weight: 1.0,
    };

    pub(super) fn normalized(self) -> f32 {
        self.cost / self.weight
    }

    /// Whether this cell's normalised cost is below `other`'s, without dividing (weights are
    /// positive, so the comparison can be cross-multiplied).
    pub(super) fn cheaper_than(self, other: Cell) -> bool {
        self.cost * other.weight < other.cost * self.weight
    }

    /// The cheapest way into a cell from its three predecessors, for local distance `d`; on
    /// a tie the diagonal wins, then the live step. Which predecessor wins is data: a branch
    /// on it would be mispredicted often, so the costs are selected with compares the compiler
    /// keeps branch-free (`if a < b { a } else { b }` is one `minss`) and the weights blended
    /// arithmetically with a `0.0`/`1.0` factor (exact, as weights are finite), which the
    /// compiler cannot turn into branches.
    #[inline(always)]
    fn best(from_live: Cell, from_reference: Cell, from_diagonal: Cell, d: f32, w: StepWeights) -> (Cell, u8) {
        let live = from_live.cost + w.live * d;
        let diagonal = from_diagonal.cost + w.diagonal * d;
        let across = if live < diagonal { live } else { diagonal };
        let diagonal_factor = 1.0 - f32::from(u8::from(live < diagonal));
        let across_weight = diagonal_factor * (from_diagonal.weight + w.diagonal)
            + (1.0 - diagonal_factor) * (from_live.weight + w.live);
        let along = from_reference.cost + w.reference * d;
        let across_factor = 1.0 - f32::from(u8::from(along < across));
        let cell = Cell {
            cost: if along < across { along } else { across },
            weight: across_factor * across_weight + (1.0 - across_factor) * (from_reference.weight + w.reference),
        };
        let entry = if along < across {
            ENTRY_REFERENCE
        } else if live < diagonal {
            ENTRY_LIVE
        } else {
            ENTRY_DIAGONAL
        };
        (cell, entry)
    }
}

/// Which way a strip runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StripKind {
    /// A live frame's row: cells along the reference, entered from the row above.
    Row,
    /// A reference frame's column: cells along the live frames, entered from the column before.
    Column,
}

/// What [`Strip::fill_after`] builds a strip from.
#[derive(Debug, Clone, Copy)]
pub(super) struct StripStep<'a> {
    /// Whether the new strip is a row or a column.
    pub(super) kind: StripKind,
    /// Index along the strip's axis of its first cell.
    pub(super) first: usize,
    /// Local distance of each cell.
    pub(super) distances: &'a [f32],
    /// How much each step adds to a path's cost, in multiples of the local distance.
    pub(super) weights: StepWeights,
    /// How much each step adds to a path's weight, the normaliser of its cost.
    pub(super) lengths: StepWeights,
    /// Weight of any path to the first cell, when weights depend on position only.
    pub(super) first_weight: f32,
    /// Whether to note how each cell was entered.
    pub(super) record_entries: bool,
}

/// [`Strip::fill_after`] as work for [`vectorised`].
struct Fill<'a> {
    strip: &'a mut Strip,
    beside: &'a Strip,
    step: StripStep<'a>,
}

impl WideWork for Fill<'_> {
    type Output = Cell;

    #[inline(always)]
    fn run(self) -> Cell {
        self.strip.fill_here(self.beside, self.step)
    }
}

/// A run of cells along one axis, from index `first`. Contiguous, so the recurrence reads it as
/// slices. The oldest cells [`Strip::push`] drops stay in the arrays until as many have gone as
/// the strip holds, and then all move at once: a push moves no values at all most of the time.
#[derive(Debug, Default)]
pub(super) struct Strip {
    first: usize,
    /// Cells dropped at the front of the arrays, before `first`.
    dropped: usize,
    costs: Vec<f32>,
    weights: Vec<f32>,
    /// `costs[k] / weights[k]`.
    normalised: Vec<f32>,
    /// Offset (from `first`) of the cell of lowest normalised cost, the first on ties; `None` if
    /// none is reached.
    cheapest_at: Option<usize>,
    /// Scratch for the recurrence: each cell's best entry from beside, and the cost of the
    /// step along the strip into it.
    from_beside: Vec<f32>,
    step_along: Vec<f32>,
    /// How each cell was entered (see [`super::path_history`]), when asked for.
    entries: Vec<u8>,
}

impl Strip {
    /// A strip of one cell at `index`.
    pub(super) fn single(index: usize, cell: Cell) -> Self {
        let mut strip = Self {
            first: index,
            costs: vec![cell.cost],
            weights: vec![cell.weight],
            ..Self::default()
        };
        strip.renormalise();
        strip
    }

    /// Recomputes the normalised costs and the cheapest cell from the costs and weights.
    #[inline(always)]
    fn renormalise(&mut self) {
        self.normalised.clear();
        self.normalised.extend(
            self.costs
                .iter()
                .zip(&self.weights)
                .map(|(&cost, &weight)| cost / weight),
        );
        self.cheapest_at = lowest_finite(KernelSet::active(), self.normalised());
    }

    /// The costs of the cells held, from `first`.
    fn costs(&self) -> &[f32] {
        &self.costs[self.dropped..]
    }

    /// The normalised costs of the cells held, from `first`.
    fn normalised(&self) -> &[f32] {
        &self.normalised[self.dropped..]
    }

    /// Index of the first cell along the strip's axis.
    pub(super) fn first(&self) -> usize {
        self.first
    }

    pub(super) fn len(&self) -> usize {
        self.costs.len() - self.dropped
    }

    /// How each cell was entered, as of the last [`Strip::fill_after`] that recorded them.
    pub(super) fn entries(&self) -> &[u8] {
        &self.entries
    }

    /// The index along the strip's axis of the first cell any path reaches.
    pub(super) fn first_reached(&self) -> Option<usize> {
        self.costs()
            .iter()
            .position(|cost| cost.is_finite())
            .map(|k| self.first + k)
    }

    pub(super) fn get(&self, index: usize) -> Cell {
        match index.checked_sub(self.first) {
            Some(k) if k < self.len() => Cell {
                cost: self.costs[self.dropped + k],
                weight: self.weights[self.dropped + k],
            },
            _ => Cell::UNREACHED,
        }
    }

    /// Appends a cell, dropping the oldest beyond `capacity`.
    pub(super) fn push(&mut self, cell: Cell, capacity: usize) {
        self.costs.push(cell.cost);
        self.weights.push(cell.weight);
        self.normalised.push(cell.normalized());
        let (at, value) = (self.len() - 1, cell.normalized());
        // The first on ties: the new last cell wins only if strictly cheaper (and reached).
        if value.is_finite() && self.cheapest_at.is_none_or(|best| value < self.normalised()[best]) {
            self.cheapest_at = Some(at);
        }
        if self.len() > capacity {
            self.dropped += 1;
            self.first += 1;
            if self.dropped >= self.len() {
                for values in [&mut self.costs, &mut self.weights, &mut self.normalised] {
                    values.drain(..self.dropped);
                }
                self.dropped = 0;
            }
            self.cheapest_at = match self.cheapest_at {
                Some(0) => lowest_finite(KernelSet::active(), self.normalised()),
                other => other.map(|at| at - 1),
            };
        }
    }

    /// The index along the strip's axis and the cell of lowest normalised cost among the cells
    /// whose indices are in `indices`, the first on ties; unreached (and NaN) cells never win.
    pub(super) fn cheapest_within(&self, indices: Range<usize>) -> Option<(usize, Cell)> {
        let from = indices.start.saturating_sub(self.first).min(self.len());
        let to = indices.end.saturating_sub(self.first).clamp(from, self.len());
        let at = if from == 0 && to == self.len() {
            self.cheapest_at
        } else {
            lowest_finite(KernelSet::active(), &self.normalised()[from..to]).map(|k| from + k)
        };
        at.map(|k| (self.first + k, self.get(self.first + k)))
    }

    pub(super) fn cheapest(&self) -> Option<(usize, Cell)> {
        self.cheapest_at.map(|k| (self.first + k, self.get(self.first + k)))
    }

    /// Makes this strip the successor of `beside` (the previous row for a row, the previous
    /// column for a column), starting at `step.first` with one cell per value of
    /// `step.distances`, and returns its last cell. Cell k is entered along the strip from cell
    /// k−1, from beside at the same index, and diagonally from beside at the index before. Steps
    /// add `step.weights` times the local distance to a path's cost and `step.lengths` to its
    /// weight, the normaliser costs are compared by.
    ///
    /// When the diagonal's length is that of the two single steps together (Dixon's 1, 1, 2
    /// among them), every path to a cell weighs the same, so weights follow from position and
    /// the costs are a min-plus scan, `cost[k] = min(from_beside[k], cost[k−1] + step_along[k])`,
    /// which the kernels compute eight cells at a time. Otherwise (then the lengths are the
    /// weights) each cell carries the weight of the path it took, one cell after the other.
    ///
    /// The passes over the strip are plain loops, run compiled for AVX2 where the processor has
    /// it ([`vectorised`]): eight cells per instruction where the baseline target does four.
    pub(super) fn fill_after(&mut self, beside: &Strip, step: StripStep<'_>) -> Cell {
        vectorised(
            KernelSet::active(),
            Fill {
                strip: self,
                beside,
                step,
            },
        )
    }

    /// [`Strip::fill_after`]'s work, compiled into the vectorised caller with the passes it runs.
    #[inline(always)]
    fn fill_here(&mut self, beside: &Strip, step: StripStep<'_>) -> Cell {
        let StripStep {
            kind,
            first,
            distances,
            weights: w,
            lengths: length,
            first_weight,
            record_entries,
        } = step;
        let len = match kind {
            StripKind::Row => distances.len(),
            StripKind::Column => distances.len().min(beside.len()),
        };
        self.first = first;
        self.dropped = 0;
        self.costs.clear();
        self.costs.resize(len, f32::INFINITY);
        self.weights.clear();
        self.weights.resize(len, 1.0);
        if len == 0 {
            self.renormalise();
            return Cell::UNREACHED;
        }
        // Cells before the strip beside starts have nothing beside them; it never starts before
        // this one (a row's band only moves forward, a column starts where the last did).
        debug_assert!(beside.first >= first);
        let offset = beside.first.saturating_sub(first).min(len);
        let (w_along, w_across) = match kind {
            StripKind::Row => (w.reference, w.live),
            StripKind::Column => (w.live, w.reference),
        };
        if length.diagonal == length.live + length.reference {
            let weights = (w_along, w_across, w.diagonal);
            self.fill_positional(beside, offset, &distances[..len], weights);
            let length_along = match kind {
                StripKind::Row => length.reference,
                StripKind::Column => length.live,
            };
            // Counted in i32, which converts to f32 eight at a time; a usize converts one by one.
            // A strip is at most a band wide, far below i32::MAX.
            for (k, weight) in (0i32..).zip(self.weights.iter_mut()) {
                *weight = first_weight + length_along * k as f32;
            }
            if record_entries {
                self.record_positional_entries(beside, kind, offset, &distances[..len], weights);
            }
        } else {
            debug_assert_eq!(w, length);
            self.fill_path_weighted(beside, kind, offset, &distances[..len], w);
        }
        self.renormalise();
        self.get(first + len - 1)
    }

    #[inline(always)]
    fn fill_positional(&mut self, beside: &Strip, offset: usize, distances: &[f32], weights: (f32, f32, f32)) {
        let (w_along, w_across, w_diagonal) = weights;
        let len = distances.len();
        self.step_along.clear();
        self.step_along.extend(distances.iter().map(|&d| w_along * d));
        self.from_beside.clear();
        self.from_beside.resize(len, f32::INFINITY);
        // Cells `offset .. offset + reach` have a cell beside them.
        let reach = (len - offset).min(beside.len());
        let beside_costs = &beside.costs()[..reach];
        let entered = &mut self.from_beside[offset..offset + reach];
        let entered_distances = &distances[offset..offset + reach];
        if let (Some(value), Some(&across), Some(&d)) =
            (entered.first_mut(), beside_costs.first(), entered_distances.first())
        {
            *value = across + w_across * d;
        }
        for (((value, &d), &across), &diagonal) in entered
            .iter_mut()
            .zip(entered_distances)
            .zip(beside_costs)
            .skip(1)
            .zip(beside_costs)
        {
            let (across, diagonal) = (across + w_across * d, diagonal + w_diagonal * d);
            *value = if across < diagonal { across } else { diagonal };
        }
        min_plus_scan(
            KernelSet::active(),
            &self.from_beside,
            &self.step_along,
            &mut self.costs,
        );
    }

    /// Notes how each cell of a strip filled by [`Strip::fill_positional`] was entered: the
    /// cheapest of its three entries, with the recurrence's order on ties (diagonal, then live).
    #[inline(always)]
    fn record_positional_entries(
        &mut self,
        beside: &Strip,
        kind: StripKind,
        offset: usize,
        distances: &[f32],
        (w_along, w_across, w_diagonal): (f32, f32, f32),
    ) {
        let len = distances.len();
        let along_entry = match kind {
            StripKind::Row => ENTRY_REFERENCE,
            StripKind::Column => ENTRY_LIVE,
        };
        // Which entry wins is data, so it is computed arithmetically: a branch on it would be
        // mispredicted on about every other cell of a strip.
        let choose = |along: f32, across: f32, diagonal: f32| {
            let (live, reference) = match kind {
                StripKind::Row => (across, along),
                StripKind::Column => (along, across),
            };
            let live_wins = live <= reference;
            let fewer_steps = if live_wins { live } else { reference };
            let single = ENTRY_REFERENCE - u8::from(live_wins) * (ENTRY_REFERENCE - ENTRY_LIVE);
            single + u8::from(diagonal <= fewer_steps) * (ENTRY_DIAGONAL - single)
        };
        // Cells with nothing beside them are entered along the strip.
        self.entries.clear();
        self.entries.resize(len, along_entry);
        let reach = (len - offset).min(beside.len());
        if reach == 0 {
            return;
        }
        let along_into = |k: usize| {
            if k > 0 {
                self.costs[k - 1] + w_along * distances[k]
            } else {
                f32::INFINITY
            }
        };
        self.entries[offset] = choose(
            along_into(offset),
            beside.costs()[0] + w_across * distances[offset],
            f32::INFINITY,
        );
        let cells = offset + 1..offset + reach;
        for ((((entry, &previous), &d), &across), &diagonal) in self.entries[cells.clone()]
            .iter_mut()
            .zip(&self.costs[cells.start - 1..cells.end - 1])
            .zip(&distances[cells])
            .zip(&beside.costs()[1..reach])
            .zip(&beside.costs()[..reach - 1])
        {
            *entry = choose(previous + w_along * d, across + w_across * d, diagonal + w_diagonal * d);
        }
    }

    #[inline(always)]
    fn fill_path_weighted(
        &mut self,
        beside: &Strip,
        kind: StripKind,
        offset: usize,
        distances: &[f32],
        w: StepWeights,
    ) {
        self.entries.clear();
        self.entries.resize(distances.len(), ENTRY_REFERENCE);
        let mut along = Cell::UNREACHED;
        let mut diagonal = Cell::UNREACHED;
        for (k, &d) in distances.iter().enumerate() {
            let across = if k >= offset {
                beside.get(beside.first + k - offset)
            } else {
                Cell::UNREACHED
            };
            let (next, entry) = match kind {
                StripKind::Row => Cell::best(across, along, diagonal, d, w),
                StripKind::Column => Cell::best(along, across, diagonal, d, w),
            };
            self.costs[k] = next.cost;
            self.weights[k] = next.weight;
            self.entries[k] = entry;
            along = next;
            diagonal = across;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The cheapest of `strip`'s cells in `indices`, cell by cell.
    fn cheapest_one_by_one(strip: &Strip, indices: Range<usize>) -> Option<(usize, Cell)> {
        let mut best: Option<(usize, Cell)> = None;
        for index in indices.start.max(strip.first())..indices.end.min(strip.first() + strip.len()) {
            let cell = strip.get(index);
            let value = cell.normalized();
            if value.is_finite() && best.is_none_or(|(_, b)| value < b.normalized()) {
                best = Some((index, cell));
            }
        }
        best
    }

    proptest! {
        /// The cheapest cell kept up to date across pushes that drop the oldest cell equals the
        /// cheapest found cell by cell, over the whole strip and any part of it.
        #[test]
        fn the_kept_cheapest_cell_is_the_cheapest(
            cells in proptest::collection::vec((prop_oneof![
                4 => 0.0f32..10.0,
                1 => Just(f32::INFINITY),
                1 => Just(f32::NAN),
                1 => Just(3.0f32),
            ], 1.0f32..4.0), 1..60),
            capacity in 1usize..12,
            part in (0usize..70, 0usize..70),
        ) {
            let mut strip = Strip::single(5, Cell { cost: 2.0, weight: 1.0 });
            for (cost, weight) in cells {
                strip.push(Cell { cost, weight }, capacity);
                let whole = strip.first()..strip.first() + strip.len();
                prop_assert_eq!(strip.cheapest().map(|(k, _)| k), cheapest_one_by_one(&strip, whole).map(|(k, _)| k));
                let part = part.0.min(part.1)..part.0.max(part.1);
                prop_assert_eq!(
                    strip.cheapest_within(part.clone()).map(|(k, _)| k),
                    cheapest_one_by_one(&strip, part).map(|(k, _)| k)
                );
            }
        }
    }
}
