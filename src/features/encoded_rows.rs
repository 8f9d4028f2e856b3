//! Feature frames stored row by row in one of three encodings — f32, f16, or 8-bit integers with
//! one scale per frame — and read as f32 one frame, or eight values, at a time.
//!
//! A reference file's f16 or int8 features are aligned on as they lie in the mapped file: the
//! distance kernels widen eight values at a time in registers, and the rest of the aligner asks
//! for one frame at a time. A value decodes to exactly the f32 that decoding the whole file would
//! give (`f16` widens exactly; an int8 value is `byte as f32 · scale`, rounded once), so
//! distances over encoded rows equal those over decoded ones. This module owns no data.

use std::borrow::Cow;
use std::ops::Range;

use half::f16;

/// Row-major frame values in their stored encoding.
#[derive(Debug, Clone, Copy)]
pub enum EncodedRows<'a> {
    /// Plain f32 values.
    F32(&'a [f32]),
    /// IEEE 754 half-precision values, as their bits.
    F16(&'a [u16]),
    /// Signed bytes, each frame's scaled by its own factor: value = byte · scale.
    Int8 {
        /// One per frame.
        scales: &'a [f32],
        /// `dim` per frame.
        values: &'a [i8],
    },
}

impl<'a> EncodedRows<'a> {
    /// Number of values (frames · dim).
    pub fn value_count(&self) -> usize {
        match self {
            EncodedRows::F32(values) => values.len(),
            EncodedRows::F16(bits) => bits.len(),
            EncodedRows::Int8 { values, .. } => values.len(),
        }
    }

    /// Whether the values are stored as f32 (and so can be borrowed as they are).
    pub fn is_f32(&self) -> bool {
        matches!(self, EncodedRows::F32(_))
    }

    /// Frames `frames` of `dim` values each; panics if they are out of range (a caller bug).
    pub(crate) fn frames(self, frames: Range<usize>, dim: usize) -> EncodedRows<'a> {
        let values = frames.start * dim..frames.end * dim;
        match self {
            EncodedRows::F32(all) => EncodedRows::F32(&all[values]),
            EncodedRows::F16(all) => EncodedRows::F16(&all[values]),
            EncodedRows::Int8 { scales, values: all } => EncodedRows::Int8 {
                scales: &scales[frames],
                values: &all[values],
            },
        }
    }

    /// Value `k` of frame `frame`, widened.
    #[inline]
    pub(crate) fn value(&self, frame: usize, dim: usize, k: usize) -> f32 {
        match self {
            EncodedRows::F32(values) => values[frame * dim + k],
            EncodedRows::F16(bits) => f16::from_bits(bits[frame * dim + k]).to_f32(),
            EncodedRows::Int8 { scales, values } => f32::from(values[frame * dim + k]) * scales[frame],
        }
    }

    /// Frame `index`, borrowed where the values are f32 and widened into a copy otherwise.
    pub(crate) fn frame(&self, index: usize, dim: usize) -> Cow<'a, [f32]> {
        match *self {
            EncodedRows::F32(values) => Cow::Borrowed(&values[index * dim..(index + 1) * dim]),
            _ => Cow::Owned((0..dim).map(|k| self.value(index, dim, k)).collect()),
        }
    }

    /// Frame `index`: borrowed where the values are f32, widened into `scratch` otherwise, so
    /// that a loop over frames allocates nothing.
    pub(crate) fn frame_in<'s>(&self, index: usize, dim: usize, scratch: &'s mut Vec<f32>) -> &'s [f32]
    where
        'a: 's,
    {
        match *self {
            EncodedRows::F32(values) => &values[index * dim..(index + 1) * dim],
            _ => {
                scratch.clear();
                scratch.extend((0..dim).map(|k| self.value(index, dim, k)));
                scratch
            }
        }
    }

    /// All the values, borrowed where they are f32 and widened into a copy otherwise.
    pub(crate) fn as_f32(self, dim: usize) -> Cow<'a, [f32]> {
        match self {
            EncodedRows::F32(values) => Cow::Borrowed(values),
            _ => {
                let frames = self.value_count() / dim;
                Cow::Owned(
                    (0..frames)
                        .flat_map(|frame| (0..dim).map(move |k| self.value(frame, dim, k)))
                        .collect(),
                )
            }
        }
    }

    /// All the values, widened, in a vector of their own.
    pub(crate) fn to_f32(self, dim: usize) -> Vec<f32> {
        self.as_f32(dim).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_reads_the_values_it_stores() {
        let f32s = [1.5f32, -2.0, 0.5, 4.0, 0.0, -0.5];
        let halves: Vec<u16> = f32s.iter().map(|&v| f16::from_f32(v).to_bits()).collect();
        let (scales, bytes) = ([0.5f32, 0.25], [3i8, -4, 1, 16, 0, -2]);
        let encodings = [
            EncodedRows::F32(&f32s),
            EncodedRows::F16(&halves),
            EncodedRows::Int8 {
                scales: &scales,
                values: &bytes,
            },
        ];
        for rows in encodings {
            assert_eq!(rows.value_count(), 6);
            assert_eq!(rows.to_f32(3), f32s.to_vec(), "{rows:?}");
            assert_eq!(matches!(rows.as_f32(3), Cow::Borrowed(_)), rows.is_f32());
            assert_eq!(&*rows.frame(1, 3), &f32s[3..], "{rows:?}");
            assert_eq!(rows.frame_in(1, 3, &mut Vec::new()), &f32s[3..], "{rows:?}");
            assert_eq!(rows.frames(1..2, 3).to_f32(3), f32s[3..].to_vec(), "{rows:?}");
            assert_eq!(matches!(rows.frame(0, 3), Cow::Borrowed(_)), rows.is_f32());
        }
    }
}
