//! A sequence of feature frames, `dim` values each, stored row by row: owned as f32, or read
//! in place from elsewhere ([`SharedValues`], e.g. a memory-mapped reference file) in any
//! encoding of [`EncodedRows`].
//!
//! This is what a reference file holds and what the aligner's feature matrix wraps: the
//! values only, checked to be whole frames. Norms, panels and distances are `align`'s.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use super::{CacheAligned, EncodedRows};

/// Feature values kept outside the matrix and only read: a memory-mapped file, for instance.
pub trait SharedValues: fmt::Debug + Send + Sync {
    /// The values, row-major, as they are stored.
    fn rows(&self) -> EncodedRows<'_>;
}

/// What can be wrong with values given as frames.
#[derive(Debug, Error, PartialEq)]
pub enum FeatureValuesError {
    /// The values are not a whole number of frames.
    #[error("feature data of {len} values is not a whole number of {dim}-dimensional frames")]
    Ragged {
        /// Number of values given.
        len: usize,
        /// Dimension asked for.
        dim: usize,
    },
    /// Int8 feature data did not come with one scale per frame.
    #[error("int8 feature data of {frames} frames came with {scales} scales, expected one per frame")]
    MissingScales {
        /// Frames in the data.
        frames: usize,
        /// Scales given.
        scales: usize,
    },
}

/// Where the values live.
#[derive(Debug, Clone)]
enum Storage {
    Owned(CacheAligned),
    Shared(Arc<dyn SharedValues>),
}

impl Storage {
    fn rows(&self) -> EncodedRows<'_> {
        match self {
            Storage::Owned(values) => EncodedRows::F32(values.as_slice()),
            Storage::Shared(shared) => shared.rows(),
        }
    }
}

/// `len` frames of `dim` values, row-major.
#[derive(Debug, Clone)]
pub struct FeatureValues {
    dim: usize,
    storage: Storage,
}

impl FeatureValues {
    /// Owns row-major f32 values; `values.len()` must be a multiple of `dim`. The values are
    /// moved onto a cache-line boundary for the distance kernels' loads.
    pub fn new(dim: usize, values: Vec<f32>) -> Result<Self, FeatureValuesError> {
        Self::checked(dim, Storage::Owned(CacheAligned::from_vec(values)))
    }

    /// Reads row-major values kept elsewhere, without copying or widening them. Int8 rows need
    /// one scale per frame.
    pub fn from_shared(dim: usize, values: Arc<dyn SharedValues>) -> Result<Self, FeatureValuesError> {
        Self::checked(dim, Storage::Shared(values))
    }

    fn checked(dim: usize, storage: Storage) -> Result<Self, FeatureValuesError> {
        let rows = storage.rows();
        let len = rows.value_count();
        if dim == 0 || !len.is_multiple_of(dim) {
            return Err(FeatureValuesError::Ragged { len, dim });
        }
        if let EncodedRows::Int8 { scales, .. } = rows {
            if scales.len() != len / dim {
                return Err(FeatureValuesError::MissingScales {
                    frames: len / dim,
                    scales: scales.len(),
                });
            }
        }
        Ok(Self { dim, storage })
    }

    /// Values per frame.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.storage.rows().value_count() / self.dim
    }

    /// True when there are no frames.
    pub fn is_empty(&self) -> bool {
        self.storage.rows().value_count() == 0
    }

    /// Whether the values are read from elsewhere ([`FeatureValues::from_shared`]) rather
    /// than owned.
    pub fn is_shared(&self) -> bool {
        matches!(self.storage, Storage::Shared(_))
    }

    /// The values as they are stored (f32, or f16 or int8 read in place).
    pub fn rows(&self) -> EncodedRows<'_> {
        self.storage.rows()
    }

    /// Frame `index`: borrowed where the values are f32, widened into a copy where they are
    /// f16 or int8. Panics if out of range, which is a caller bug, not bad input.
    pub fn frame(&self, index: usize) -> Cow<'_, [f32]> {
        self.storage.rows().frame(index, self.dim)
    }

    /// Frame `index`, as [`FeatureValues::frame`], widened into `scratch` where the values
    /// are f16 or int8: for loops over many frames, which then allocate nothing.
    pub fn frame_in<'s>(&'s self, index: usize, scratch: &'s mut Vec<f32>) -> &'s [f32] {
        self.storage.rows().frame_in(index, self.dim, scratch)
    }

    /// Appends frames given row-major; shared values are widened into an owned copy first,
    /// as they cannot be written to.
    pub fn extend_from_rows(&mut self, rows: &[f32]) -> Result<(), FeatureValuesError> {
        if !rows.len().is_multiple_of(self.dim) {
            return Err(FeatureValuesError::Ragged {
                len: rows.len(),
                dim: self.dim,
            });
        }
        match &mut self.storage {
            Storage::Owned(values) => values.extend_from_slice(rows),
            Storage::Shared(shared) => {
                let mut values = CacheAligned::from_vec(shared.rows().to_f32(self.dim));
                values.extend_from_slice(rows);
                self.storage = Storage::Owned(values);
            }
        }
        Ok(())
    }
}

impl PartialEq for FeatureValues {
    /// Equal frames of equal dimension, however each stores them.
    fn eq(&self, other: &Self) -> bool {
        self.dim == other.dim
            && self.len() == other.len()
            && (0..self.len()).all(|frame| self.frame(frame) == other.frame(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct HalfValues(Vec<u16>);

    impl SharedValues for HalfValues {
        fn rows(&self) -> EncodedRows<'_> {
            EncodedRows::F16(&self.0)
        }
    }

    #[test]
    fn values_that_are_not_whole_frames_are_refused() {
        assert_eq!(
            FeatureValues::new(3, vec![0.0; 7]).err(),
            Some(FeatureValuesError::Ragged { len: 7, dim: 3 })
        );
        assert!(FeatureValues::new(0, Vec::new()).is_err());
        let mut values = FeatureValues::new(2, vec![1.0; 4]).unwrap();
        assert!(values.extend_from_rows(&[1.0]).is_err());
        assert_eq!(values.len(), 2);
    }

    #[test]
    fn int8_rows_need_a_scale_per_frame() {
        #[derive(Debug)]
        struct Bytes;
        impl SharedValues for Bytes {
            fn rows(&self) -> EncodedRows<'_> {
                EncodedRows::Int8 {
                    scales: &[1.0],
                    values: &[1, 2, 3, 4],
                }
            }
        }
        assert_eq!(
            FeatureValues::from_shared(2, Arc::new(Bytes)).err(),
            Some(FeatureValuesError::MissingScales { frames: 2, scales: 1 })
        );
    }

    #[test]
    fn shared_values_are_read_in_place_and_copied_when_extended() {
        let one = half::f16::from_f32(1.0).to_bits();
        let mut shared = FeatureValues::from_shared(2, Arc::new(HalfValues(vec![one; 4]))).unwrap();
        assert!(shared.is_shared());
        assert_eq!(shared, FeatureValues::new(2, vec![1.0; 4]).unwrap());
        shared.extend_from_rows(&[2.0, 3.0]).unwrap();
        assert!(!shared.is_shared());
        assert_eq!(shared.len(), 3);
        assert_eq!(&*shared.frame(2), &[2.0, 3.0]);
    }
}
