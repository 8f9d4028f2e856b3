//! The online aligner's frontier: one row or one column of the DTW cost matrix, each cell holding
//! the cost of the best path to it and that path's total step weight, and the recurrence that
//! fills a new strip from the one beside it.
//!
//! Costs and weights are kept in two arrays (not as pairs) so that the scans over a strip and
//! the recurrence's independent parts vectorise. This module knows nothing of live frames, the
//! reference or step decisions; [`super::OnlineTimeWarper`] drives it.

use std::ops::Range;

use super::path_history::{ENTRY_DIAGONAL, ENTRY_LIVE, ENTRY_REFERENCE};
use super::StepWeights;
use crate::align::kernels::{min_plus_scan, KernelSet};

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

/// A run of cells along one axis, from index `first`. Contiguous, so the recurrence reads it as
/// slices; dropping the oldest cell moves at most `band_frames` values, which is small next to
/// the distance work of the step that does it.
#[derive(Debug, Default)]
pub(super) struct Strip {
    first: usize,
    costs: Vec<f32>,
    weights: Vec<f32>,
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
        Self {
            first: index,
            costs: vec![cell.cost],
            weights: vec![cell.weight],
            ..Self::default()
        }
    }

    /// Index of the first cell along the strip's axis.
    pub(super) fn first(&self) -> usize {
        self.first
    }

    pub(super) fn len(&self) -> usize {
        self.costs.len()
    }

    /// How each cell was entered, as of the last [`Strip::fill_after`] that recorded them.
    pub(super) fn entries(&self) -> &[u8] {
        &self.entries
    }

    /// The index along the strip's axis of the first cell any path reaches.
    pub(super) fn first_reached(&self) -> Option<usize> {
        self.costs
            .iter()
            .position(|cost| cost.is_finite())
            .map(|k| self.first + k)
    }

    pub(super) fn get(&self, index: usize) -> Cell {
        match index.checked_sub(self.first) {
            Some(k) if k < self.costs.len() => Cell {
                cost: self.costs[k],
                weight: self.weights[k],
            },
            _ => Cell::UNREACHED,
        }
    }

    /// Appends a cell, dropping the oldest beyond `capacity`.
    pub(super) fn push(&mut self, cell: Cell, capacity: usize) {
        self.costs.push(cell.cost);
        self.weights.push(cell.weight);
        if self.costs.len() > capacity {
            self.costs.remove(0);
            self.weights.remove(0);
            self.first += 1;
        }
    }

    /// The index along the strip's axis and the cell of lowest normalised cost among the cells
    /// whose indices are in `indices`, the first on ties; unreached (and NaN) cells never win.
    pub(super) fn cheapest_within(&self, indices: Range<usize>) -> Option<(usize, Cell)> {
        let from = indices.start.saturating_sub(self.first).min(self.len());
        let to = indices.end.saturating_sub(self.first).clamp(from, self.len());
        lowest_ratio(&self.costs[from..to], &self.weights[from..to]).map(|k| {
            let index = self.first + from + k;
            (index, self.get(index))
        })
    }

    pub(super) fn cheapest(&self) -> Option<(usize, Cell)> {
        self.cheapest_within(0..usize::MAX)
    }

    /// Makes this strip the successor of `beside` (the previous row for a row, the previous
    /// column for a column), starting at `first` with one cell per value of `distances`, and
    /// returns its last cell. Cell k is entered along the strip from cell k−1, from beside at
    /// the same index, and diagonally from beside at the index before. Steps add `w` times the
    /// local distance to a path's cost and `length` to its weight, the normaliser costs are
    /// compared by; `first_weight` is the weight of any path to the first cell when weights
    /// depend on position only (see below).
    ///
    /// When the diagonal's length is that of the two single steps together (Dixon's 1, 1, 2
    /// among them), every path to a cell weighs the same, so weights follow from position and
    /// the costs are a min-plus scan, `cost[k] = min(from_beside[k], cost[k−1] + step_along[k])`,
    /// which the kernels compute eight cells at a time. Otherwise (then `length` is `w`) each
    /// cell carries the weight of the path it took, one cell after the other. With
    /// `record_entries`, the strip also notes how each cell was entered.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fill_after(
        &mut self,
        beside: &Strip,
        kind: StripKind,
        first: usize,
        distances: &[f32],
        w: StepWeights,
        length: StepWeights,
        first_weight: f32,
        record_entries: bool,
    ) -> Cell {
        let len = match kind {
            StripKind::Row => distances.len(),
            StripKind::Column => distances.len().min(beside.len()),
        };
        self.first = first;
        self.costs.clear();
        self.costs.resize(len, f32::INFINITY);
        self.weights.clear();
        self.weights.resize(len, 1.0);
        if len == 0 {
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
            for (k, weight) in self.weights.iter_mut().enumerate() {
                *weight = first_weight + length_along * k as f32;
            }
            if record_entries {
                self.record_positional_entries(beside, kind, offset, &distances[..len], weights);
            }
        } else {
            debug_assert_eq!(w, length);
            self.fill_path_weighted(beside, kind, offset, &distances[..len], w);
        }
        self.get(first + len - 1)
    }

    fn fill_positional(&mut self, beside: &Strip, offset: usize, distances: &[f32], weights: (f32, f32, f32)) {
        let (w_along, w_across, w_diagonal) = weights;
        let len = distances.len();
        self.step_along.clear();
        self.step_along.extend(distances.iter().map(|&d| w_along * d));
        self.from_beside.clear();
        self.from_beside.resize(len, f32::INFINITY);
        // Cells `offset .. offset + reach` have a cell beside them.
        let reach = (len - offset).min(beside.len());
        let beside_costs = &beside.costs[..reach];
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
        let choose = |along: f32, across: f32, diagonal: f32| {
            let (live, reference) = match kind {
                StripKind::Row => (across, along),
                StripKind::Column => (along, across),
            };
            let fewer_steps = if live <= reference { live } else { reference };
            if diagonal <= fewer_steps {
                ENTRY_DIAGONAL
            } else if live <= reference {
                ENTRY_LIVE
            } else {
                ENTRY_REFERENCE
            }
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
            beside.costs[0] + w_across * distances[offset],
            f32::INFINITY,
        );
        let cells = offset + 1..offset + reach;
        for ((((entry, &previous), &d), &across), &diagonal) in self.entries[cells.clone()]
            .iter_mut()
            .zip(&self.costs[cells.start - 1..cells.end - 1])
            .zip(&distances[cells])
            .zip(&beside.costs[1..reach])
            .zip(&beside.costs[..reach - 1])
        {
            *entry = choose(previous + w_along * d, across + w_across * d, diagonal + w_diagonal * d);
        }
    }

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

/// The position of the lowest `costs[k] / weights[k]`, the first on ties, or `None` if none is
/// finite. One pass in eight independent lanes, each keeping its lowest value and where it was
/// (which vectorises), then the lanes are compared.
fn lowest_ratio(costs: &[f32], weights: &[f32]) -> Option<usize> {
    const LANES: usize = 8;
    let mut lowest = [f32::INFINITY; LANES];
    let mut lowest_at = [u32::MAX; LANES];
    let (cost_chunks, weight_chunks) = (costs.chunks_exact(LANES), weights.chunks_exact(LANES));
    let rest_first = costs.len() - cost_chunks.remainder().len();
    let rest = cost_chunks.remainder().iter().zip(weight_chunks.remainder());
    for (chunk_index, (costs, weights)) in cost_chunks.zip(weight_chunks).enumerate() {
        let first = (chunk_index * LANES) as u32;
        for lane in 0..LANES {
            let ratio = costs[lane] / weights[lane];
            let better = ratio < lowest[lane];
            lowest[lane] = if better { ratio } else { lowest[lane] };
            lowest_at[lane] = if better { first + lane as u32 } else { lowest_at[lane] };
        }
    }
    let candidates = lowest.into_iter().zip(lowest_at.map(|at| at as usize)).chain(
        rest.enumerate()
            .map(|(k, (&cost, &weight))| (cost / weight, rest_first + k)),
    );
    let (value, at) = candidates.fold((f32::INFINITY, usize::MAX), |(value, at), (candidate, candidate_at)| {
        if candidate < value || (candidate == value && candidate_at < at) {
            (candidate, candidate_at)
        } else {
            (value, at)
        }
    });
    value.is_finite().then_some(at)
}
