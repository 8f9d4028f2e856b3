//! How each recent cell of the online aligner's cost matrix was entered, so that paths behind
//! the frontier can be traced back and the positions they all share — final ones — found.
//!
//! Every path the aligner may still extend starts from a cell of the frontier (the current row
//! and column), and two optimal paths never cross (with the recurrence's fixed order on ties, a
//! path that meets another follows it all the way back). So all of them lie between the paths
//! of the frontier's two end cells, and where those two meet, every path meets: that cell and
//! everything before it can no longer change. That is exact, and it makes finality trail the
//! live edge by about the band width.
//!
//! Each strip's entries are two bits per cell (four ways in), kept back to the last final cell
//! (no path needs older ones). While the live stream pauses, the end paths may run side by side for long; when
//! more than `capacity_strips` rows or columns pile up that way, the oldest half of the
//! currently best path is declared final, which bounds memory at the price of exactness for
//! pauses longer than that (a band width and two settle intervals as the aligner sets it).

use std::collections::VecDeque;

/// The start of the path (no predecessor).
pub(super) const ENTRY_START: u8 = 0;
/// Entered from the cell one live frame earlier, same reference frame.
pub(super) const ENTRY_LIVE: u8 = 1;
/// Entered from the cell one reference frame earlier, same live frame.
pub(super) const ENTRY_REFERENCE: u8 = 2;
/// Entered diagonally.
pub(super) const ENTRY_DIAGONAL: u8 = 3;

/// Strips kept for reuse at most: a settle every 25 live frames frees a row per frame and
/// about as many columns.
const SPARE_STRIPS: usize = 128;

/// Where the final path is at one live frame: no later input can change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalPosition {
    /// Index of the live frame (counted from the aligner's start or last restart).
    pub live_index: usize,
    /// The first reference frame the path reaches at that live frame.
    pub ref_first: usize,
    /// The last reference frame the path reaches at that live frame (more than `ref_first`
    /// where the live stream runs ahead of the reference).
    pub ref_last: usize,
    /// True when every path still in play runs through it (or the stream ended); false when it
    /// was settled on the best path alone because the paths had not met within the memory
    /// bound (a long pause, or live input going on past the reference's end).
    pub exact: bool,
}

impl FinalPosition {
    /// The middle of the frame's stretch of the path, in reference frames: where a path that
    /// steps the reference several frames in one live frame is, without favouring either end.
    pub fn ref_middle(&self) -> f64 {
        (self.ref_first + self.ref_last) as f64 / 2.0
    }
}

/// A (live, reference) cell of the cost matrix.
pub(super) type CellIndex = (usize, usize);

/// Entries packed in one byte of a strip.
const ENTRIES_PER_BYTE: usize = 4;

/// The entries of one strip: cell `first + k` was entered by entry `k`, two bits of
/// `packed[k / 4]` (a stream holds up to a band width of strips each way, and every stream
/// that is unlike its reference holds that many: bytes would be four times as much).
#[derive(Debug, Default)]
struct StripEntries {
    first: usize,
    len: usize,
    packed: Vec<u8>,
}

impl StripEntries {
    fn get(&self, index: usize) -> Option<u8> {
        let k = index.checked_sub(self.first).filter(|&k| k < self.len)?;
        let byte = self.packed.get(k / ENTRIES_PER_BYTE)?;
        Some((byte >> (2 * (k % ENTRIES_PER_BYTE))) & 0b11)
    }

    /// Holds `entries` (each below 4) from cell `first` on, reusing its storage.
    fn fill(&mut self, first: usize, entries: &[u8]) {
        self.first = first;
        self.len = entries.len();
        self.packed.clear();
        let pack = |chunk: &[u8]| {
            chunk
                .iter()
                .enumerate()
                .fold(0u8, |byte, (lane, &entry)| byte | ((entry & 0b11) << (2 * lane)))
        };
        let mut whole = entries.chunks_exact(ENTRIES_PER_BYTE);
        // Whole bytes in straight-line code, which the compiler vectorises.
        self.packed.extend(
            whole
                .by_ref()
                .map(|c| (c[0] & 0b11) | (c[1] & 0b11) << 2 | (c[2] & 0b11) << 4 | (c[3] & 0b11) << 6),
        );
        let rest = whole.remainder();
        if !rest.is_empty() {
            self.packed.push(pack(rest));
        }
    }
}

#[derive(Debug)]
pub(super) struct PathHistory {
    capacity_strips: usize,
    /// Row of live frame `first_row + k` at `rows[k]`.
    rows: VecDeque<StripEntries>,
    first_row: usize,
    /// Column of reference frame `first_column + k` at `columns[k]`.
    columns: VecDeque<StripEntries>,
    first_column: usize,
    /// The latest cell known to be on every path, and the first live frame not yet reported.
    settled: CellIndex,
    next_final_live: usize,
    /// The last reported final's `ref_last`: no later final may start before it.
    final_ref_floor: usize,
    /// Strips no longer needed, kept for reuse.
    spare: Vec<StripEntries>,
}

impl PathHistory {
    pub(super) fn new(capacity_strips: usize) -> Self {
        Self {
            capacity_strips: capacity_strips.max(2),
            rows: VecDeque::new(),
            first_row: 0,
            columns: VecDeque::new(),
            first_column: 0,
            settled: (0, 0),
            next_final_live: 0,
            final_ref_floor: 0,
            spare: Vec::new(),
        }
    }

    /// Starts over with the path's first cell at (0, `origin_ref`).
    pub(super) fn restart(&mut self, origin_ref: usize) {
        let dropped: Vec<StripEntries> = self.rows.drain(..).chain(self.columns.drain(..)).collect();
        dropped.into_iter().for_each(|strip| self.keep_spare(strip));
        self.first_row = 0;
        self.first_column = origin_ref + 1;
        self.settled = (0, origin_ref);
        self.next_final_live = 0;
        self.final_ref_floor = origin_ref;
        self.push_row(0, origin_ref, &[ENTRY_START]);
    }

    /// Records the entries of the row of live frame `live_index`, starting at reference `first`.
    pub(super) fn push_row(&mut self, live_index: usize, first: usize, entries: &[u8]) {
        debug_assert_eq!(live_index, self.first_row + self.rows.len());
        let strip = self.recycled(first, entries);
        self.rows.push_back(strip);
        self.enforce_capacity();
    }

    /// Records the entries of the column of reference frame `ref_index`, starting at live `first`.
    pub(super) fn push_column(&mut self, ref_index: usize, first: usize, entries: &[u8]) {
        debug_assert_eq!(ref_index, self.first_column + self.columns.len());
        let strip = self.recycled(first, entries);
        self.columns.push_back(strip);
        self.enforce_capacity();
    }

    /// Keeps a strip no longer needed for reuse, up to [`SPARE_STRIPS`]: what one settle frees
    /// in a steady run, so that it allocates nothing, without holding the peak of a long pause
    /// (up to `capacity_strips` of a band's entries each) for the rest of the stream's life.
    fn keep_spare(&mut self, strip: StripEntries) {
        if self.spare.len() < SPARE_STRIPS {
            self.spare.push(strip);
        }
    }

    fn recycled(&mut self, first: usize, entries: &[u8]) -> StripEntries {
        let mut strip = self.spare.pop().unwrap_or_default();
        strip.fill(first, entries);
        strip
    }

    /// Drops the strips before the settled cell's row and column: every trace stops there.
    fn forget_before_settled(&mut self) {
        while self.first_row < self.settled.0 {
            let Some(strip) = self.rows.pop_front() else { break };
            self.keep_spare(strip);
            self.first_row += 1;
        }
        while self.first_column < self.settled.1 {
            let Some(strip) = self.columns.pop_front() else { break };
            self.keep_spare(strip);
            self.first_column += 1;
        }
    }

    /// How cell (live, reference) was entered, if it is still recorded. A cell belongs to the
    /// row of its live frame when that row reached it, else to the column of its reference frame.
    fn entry(&self, (live, reference): CellIndex) -> Option<u8> {
        let in_row = live
            .checked_sub(self.first_row)
            .and_then(|k| self.rows.get(k))
            .and_then(|row| row.get(reference));
        in_row.or_else(|| {
            reference
                .checked_sub(self.first_column)
                .and_then(|k| self.columns.get(k))
                .and_then(|column| column.get(live))
        })
    }

    pub(super) fn predecessor(&self, cell: CellIndex) -> Option<CellIndex> {
        let (live, reference) = cell;
        match self.entry(cell)? {
            ENTRY_LIVE => Some((live.checked_sub(1)?, reference)),
            ENTRY_REFERENCE => Some((live, reference.checked_sub(1)?)),
            ENTRY_DIAGONAL => Some((live.checked_sub(1)?, reference.checked_sub(1)?)),
            _ => None,
        }
    }

    /// Given the frontier's two end cells (the first reached cell of the current row and of the
    /// current column) and its best cell, settles every position the end cells' paths share and
    /// appends the newly final ones to `out`, one per live frame, in order.
    pub(super) fn settle(&mut self, ends: [CellIndex; 2], best: CellIndex, out: &mut Vec<FinalPosition>) {
        // The end paths may meet only at the settled cell: nothing new is final then, and the
        // memory bound must still be able to force progress.
        let meeting = self
            .meeting_point(ends[0], ends[1])
            .filter(|meeting| meeting.0 > self.next_final_live);
        if let Some(meeting) = meeting {
            self.settle_through(meeting, false, true, out);
        } else if let Some(forced) = self.forced_point(best) {
            self.settle_through(forced, false, false, out);
        }
    }

    /// Settles the whole path to `last` once the live stream has ended (nothing can extend the
    /// path any more, so the best frontier cell's path is the answer), including `last`'s frame.
    pub(super) fn settle_to_end(&mut self, last: CellIndex, out: &mut Vec<FinalPosition>) {
        self.settle_through(last, true, true, out);
    }

    /// Reports the frames from the first unreported one up to `meeting`'s (included or not) as
    /// final, and makes the first path cell of `meeting`'s frame the settled cell: it is on
    /// every path too, and the next walk back ends there with that frame complete.
    fn settle_through(
        &mut self,
        meeting: CellIndex,
        include_meeting_frame: bool,
        exact: bool,
        out: &mut Vec<FinalPosition>,
    ) {
        let end_live = meeting.0 + usize::from(include_meeting_frame);
        if end_live <= self.next_final_live {
            return;
        }
        let first_new = out.len();
        let mut meeting_frame_start = meeting;
        let mut cell = meeting;
        loop {
            if cell.0 == meeting.0 {
                meeting_frame_start = cell;
            }
            if cell.0 < end_live && cell.0 >= self.next_final_live {
                // Walking back, a frame's cells come last to first.
                match out[first_new..].last_mut() {
                    Some(frame) if frame.live_index == cell.0 => frame.ref_first = cell.1,
                    _ => out.push(FinalPosition {
                        live_index: cell.0,
                        ref_first: cell.1,
                        ref_last: cell.1,
                        exact,
                    }),
                }
            }
            if cell == self.settled || cell.0 < self.next_final_live {
                break;
            }
            match self.predecessor(cell) {
                Some(previous) => cell = previous,
                None => break,
            }
        }
        out[first_new..].reverse();
        self.hold_at_floor(&mut out[first_new..]);
        self.settled = meeting_frame_start;
        self.next_final_live = end_live;
        self.forget_before_settled();
    }

    /// Keeps final positions from going back. A forced (inexact) final commits to the best
    /// path of its moment, which the recurrence does not know of: a later path may run behind
    /// it. Such frames are held at the committed reference frame and marked inexact, since
    /// positions must never move backwards across final events.
    fn hold_at_floor(&mut self, new_finals: &mut [FinalPosition]) {
        for position in new_finals {
            if position.ref_first < self.final_ref_floor {
                position.ref_first = self.final_ref_floor;
                position.ref_last = position.ref_last.max(self.final_ref_floor);
                position.exact = false;
            }
            self.final_ref_floor = position.ref_last;
        }
    }

    /// When more strips than the capacity wait behind the frontier, the cell halfway back along
    /// the best path (or as far back as it is recorded), to be declared final.
    fn forced_point(&self, best: CellIndex) -> Option<CellIndex> {
        let (rows_over, columns_over) = (
            self.rows.len() > self.capacity_strips,
            self.columns.len() > self.capacity_strips,
        );
        if !rows_over && !columns_over {
            return None;
        }
        let live_limit = self.first_row + self.rows.len() / 2;
        let ref_limit = self.first_column + self.columns.len() / 2;
        let mut cell = best;
        while (rows_over && cell.0 > live_limit) || (columns_over && cell.1 > ref_limit) {
            match self.predecessor(cell) {
                Some(previous) => cell = previous,
                None => break,
            }
        }
        Some(cell)
    }

    /// Rows and columns kept.
    #[cfg(test)]
    pub(super) fn strips_kept(&self) -> usize {
        self.rows.len() + self.columns.len()
    }

    /// Drops the oldest strips beyond twice the capacity, whatever the paths: when even forcing
    /// cannot settle (the best path itself stays behind, as when the reference has ended and the
    /// live stream goes on), memory and the walks stay bounded, and the frames dropped are
    /// never reported final.
    fn enforce_capacity(&mut self) {
        let limit = 2 * self.capacity_strips;
        while self.rows.len() > limit {
            if let Some(strip) = self.rows.pop_front() {
                self.keep_spare(strip);
            }
            self.first_row += 1;
        }
        while self.columns.len() > limit {
            if let Some(strip) = self.columns.pop_front() {
                self.keep_spare(strip);
            }
            self.first_column += 1;
        }
        if self.settled.0 < self.first_row || self.settled.1 < self.first_column {
            self.settled = (
                self.first_row.max(self.settled.0),
                self.first_column.max(self.settled.1),
            );
            self.next_final_live = self.next_final_live.max(self.settled.0);
        }
    }

    /// The latest cell on both paths, walking back from both ends; `None` when a trace runs
    /// out of recorded history first.
    fn meeting_point(&self, mut a: CellIndex, mut b: CellIndex) -> Option<CellIndex> {
        while a != b {
            let (level_a, level_b) = (a.0 + a.1, b.0 + b.1);
            if level_a >= level_b {
                a = self.predecessor(a)?;
            }
            if level_b >= level_a {
                b = self.predecessor(b)?;
            }
        }
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strip_gives_back_each_entry_it_packed_and_nothing_outside_it() {
        let entries = [
            ENTRY_START,
            ENTRY_LIVE,
            ENTRY_REFERENCE,
            ENTRY_DIAGONAL,
            ENTRY_DIAGONAL,
            ENTRY_LIVE,
            ENTRY_REFERENCE,
        ];
        let mut strip = StripEntries::default();
        strip.fill(10, &[ENTRY_DIAGONAL; 40]);
        strip.fill(10, &entries);
        assert_eq!(strip.packed.len(), 2);
        let read: Vec<Option<u8>> = (9..18).map(|cell| strip.get(cell)).collect();
        let mut expected = vec![None];
        expected.extend(entries.iter().map(|&e| Some(e)));
        expected.push(None);
        assert_eq!(read, expected);
    }
}
