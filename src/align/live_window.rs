//! The online aligner's most recent live frames, kept in panels in a ring, so that the distances
//! from a new reference frame to all of them run through the same kernels as a row's distances.
//!
//! Live frame `i` lives in slot `i mod slots`; slots come in whole panels, of f32 or of
//! integers ([`Precision`]). They are added as frames come, doubling up to the capacity's: a
//! window that has seen few frames (a stream just started, a relocation hypothesis, which lives
//! a few seconds) holds and scans only those, not a whole band of empty slots. The window knows
//! nothing of the cost matrix: it only stores frames and answers distances, oldest first.

use super::int8_frames::{Int8Frame, Int8Panels};
use super::kernels::{panel_distances, Frames, KernelSet, Query, PANEL_FRAMES};
use super::{Distance, Precision};
use crate::features::CacheAligned;

/// The frames' values, in the window's precision.
#[derive(Debug)]
enum Slots {
    F32 {
        /// Slot `s`, value `k` at `((s / 8) · dim + k) · 8 + s mod 8`.
        panels: CacheAligned,
        /// Inverse L2 norm per slot.
        inverse_norms: Vec<f32>,
    },
    Int8 {
        panels: Int8Panels,
        /// A query quantised here, when the caller has not.
        query: Int8Frame,
    },
}

#[derive(Debug)]
pub(crate) struct LiveWindow {
    dim: usize,
    capacity: usize,
    /// Slots held now: whole panels, at least `len`, at most `full_slots`.
    slots: usize,
    /// Slots once the window has held `capacity` frames.
    full_slots: usize,
    values: Slots,
    /// Live index of the oldest frame kept.
    first: usize,
    len: usize,
    /// Distances in slot order, before they are put in live order.
    by_slot: Vec<f32>,
}

impl LiveWindow {
    /// A window of the last `capacity` frames of `dim` values, held in `precision` (resolved:
    /// `Auto` is taken as f32).
    pub(crate) fn new(dim: usize, capacity: usize, precision: Precision) -> Self {
        let full_slots = capacity.max(1).next_multiple_of(PANEL_FRAMES);
        let slots = PANEL_FRAMES.min(full_slots);
        let values = match precision {
            Precision::F32 | Precision::Auto => Slots::F32 {
                panels: CacheAligned::from_vec(vec![0.0; slots * dim]),
                inverse_norms: vec![0.0; slots],
            },
            Precision::Int8 => Slots::Int8 {
                panels: Int8Panels::new(dim, slots),
                query: Int8Frame::new(dim),
            },
        };
        Self {
            dim,
            capacity: capacity.max(1),
            slots,
            full_slots,
            values,
            first: 0,
            len: 0,
            by_slot: vec![0.0; slots],
        }
    }

    /// Forgets every frame; the next one pushed has live index 0.
    pub(crate) fn clear(&mut self) {
        self.first = 0;
        self.len = 0;
    }

    /// Keeps the next live frame, dropping the oldest when the window is full. An int8 window
    /// takes `quantised` (the frame already quantised) where given, and quantises `frame`
    /// itself otherwise.
    pub(crate) fn push(&mut self, frame: &[f32], frame_inverse_norm: f32, quantised: Option<&Int8Frame>) {
        if self.len == self.capacity {
            self.first += 1;
        } else {
            self.len += 1;
            if self.len > self.slots {
                self.grow();
            }
        }
        let slot = (self.first + self.len - 1) % self.slots;
        match &mut self.values {
            Slots::F32 { panels, inverse_norms } => {
                let (panel, lane) = (slot / PANEL_FRAMES, slot % PANEL_FRAMES);
                let panel_len = self.dim * PANEL_FRAMES;
                let panel_values = &mut panels.as_mut_slice()[panel * panel_len..(panel + 1) * panel_len];
                // Value k of the frame goes to lane `lane` of the panel's k-th group of eight.
                for (group, &value) in panel_values.chunks_exact_mut(PANEL_FRAMES).zip(frame) {
                    group[lane] = value;
                }
                inverse_norms[slot] = frame_inverse_norm;
            }
            Slots::Int8 { panels, .. } => match quantised {
                Some(quantised) => panels.set_quantised(slot, quantised),
                None => panels.set(slot, frame),
            },
        }
    }

    /// Doubles the slots held, up to `full_slots`. Only while the window is filling for the
    /// first time since it was made or cleared: frames are then in slots `0..len`, which keep
    /// their numbers, and the panels added come after them.
    fn grow(&mut self) {
        debug_assert_eq!(self.first, 0, "a window grows only before it drops a frame");
        self.slots = (2 * self.slots).min(self.full_slots);
        match &mut self.values {
            Slots::F32 { panels, inverse_norms } => {
                panels.resize(self.slots * self.dim, 0.0);
                inverse_norms.resize(self.slots, 0.0);
            }
            Slots::Int8 { panels, .. } => panels.grow_to(self.slots),
        }
        self.by_slot.resize(self.slots, 0.0);
    }

    /// Writes to `out` the distances from `query` to the frames kept, oldest first (cosine
    /// distances between the quantised frames, whatever `distance` says, for an int8 window:
    /// the aligner's settings allow it no other).
    pub(crate) fn distances_to(
        &mut self,
        query: &[f32],
        query_inverse_norm: f32,
        distance: Distance,
        out: &mut Vec<f32>,
    ) {
        out.clear();
        if query.len() != self.dim || self.len == 0 {
            return;
        }
        match &mut self.values {
            Slots::F32 { panels, inverse_norms } => {
                let query = Query {
                    values: query,
                    inverse_norm: query_inverse_norm,
                    distance,
                };
                let panels = Frames {
                    values: panels.as_slice(),
                    inverse_norms,
                };
                panel_distances(KernelSet::active(), query, panels, &mut self.by_slot);
            }
            Slots::Int8 { panels, query: scratch } => {
                scratch.quantise(query);
                panels.cosines_to(scratch, 0..self.slots / PANEL_FRAMES, &mut self.by_slot);
            }
        }
        self.oldest_first(out);
    }

    /// Writes to `out` the cosine distances from `query`, already quantised, to the frames
    /// kept, oldest first; an f32 window has none to give (`out` stays empty).
    pub(crate) fn int8_distances_to(&mut self, query: &Int8Frame, out: &mut Vec<f32>) {
        out.clear();
        if let Slots::Int8 { panels, .. } = &self.values {
            if self.len > 0 {
                panels.cosines_to(query, 0..self.slots / PANEL_FRAMES, &mut self.by_slot);
                self.oldest_first(out);
            }
        }
    }

    /// Appends the distances in slot order to `out`, put in live order.
    fn oldest_first(&self, out: &mut Vec<f32>) {
        let start = self.first % self.slots;
        let until_wrap = (self.slots - start).min(self.len);
        out.extend_from_slice(&self.by_slot[start..start + until_wrap]);
        out.extend_from_slice(&self.by_slot[..self.len - until_wrap]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::inverse_norm;

    #[test]
    fn distances_come_oldest_first_across_the_wrap() {
        let mut window = LiveWindow::new(2, 10, Precision::F32);
        for i in 0..27 {
            let frame = [i as f32, 1.0];
            window.push(&frame, inverse_norm(&frame), None);
        }
        let mut out = Vec::new();
        window.distances_to(&[0.0, 1.0], 1.0, Distance::Manhattan, &mut out);
        let expected: Vec<f32> = (17..27).map(|i| i as f32).collect();
        assert_eq!(out, expected);
        window.clear();
        window.push(&[5.0, 1.0], 1.0, None);
        window.distances_to(&[0.0, 1.0], 1.0, Distance::Manhattan, &mut out);
        assert_eq!(out, vec![5.0]);
    }

    #[test]
    fn slots_are_added_as_frames_come_and_keep_the_frames_in_order() {
        let frame = |i: usize| [(i as f32 * 0.37).sin() + 2.0, (i as f32 * 0.11).cos(), 0.5];
        for precision in [Precision::F32, Precision::Int8] {
            let mut window = LiveWindow::new(3, 100, precision);
            assert_eq!(window.slots, 8);
            let mut out = Vec::new();
            for i in 0..250 {
                window.push(&frame(i), inverse_norm(&frame(i)), None);
                let held = (i + 1).min(100);
                let expected_slots = (i + 1).next_power_of_two().clamp(8, 104);
                assert_eq!(window.slots, expected_slots, "{precision:?} after {} frames", i + 1);
                let query = [0.4, -0.3, 1.0];
                window.distances_to(&query, inverse_norm(&query), Distance::Cosine, &mut out);
                assert_eq!(out.len(), held);
                for (got, k) in out.iter().zip(i + 1 - held..=i) {
                    let exact = Distance::Cosine.between(&query, &frame(k));
                    let tolerance = if precision == Precision::F32 { 1e-5 } else { 0.02 };
                    assert!(
                        (got - exact).abs() < tolerance,
                        "{precision:?}, frame {k} of {i}: {got} vs {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn int8_distances_come_oldest_first_and_near_exact() {
        let frame = |i: usize| [(i as f32 * 0.7).sin(), (i as f32 * 1.3).cos(), 0.25];
        let mut window = LiveWindow::new(3, 10, Precision::Int8);
        for i in 0..27 {
            // Every other frame comes quantised by the caller: the same integers either way.
            let mut quantised = Int8Frame::new(3);
            quantised.quantise(&frame(i));
            window.push(&frame(i), inverse_norm(&frame(i)), (i % 2 == 0).then_some(&quantised));
        }
        let query = [0.3, -0.2, 0.9];
        let mut out = Vec::new();
        window.distances_to(&query, inverse_norm(&query), Distance::Cosine, &mut out);
        assert_eq!(out.len(), 10);
        for (got, i) in out.iter().zip(17..27) {
            let exact = Distance::Cosine.between(&query, &frame(i));
            assert!((got - exact).abs() < 0.02, "frame {i}: {got} vs {exact}");
        }
        let mut quantised_query = Int8Frame::new(3);
        quantised_query.quantise(&query);
        let mut from_quantised = Vec::new();
        window.int8_distances_to(&quantised_query, &mut from_quantised);
        assert_eq!(from_quantised, out);
    }
}
