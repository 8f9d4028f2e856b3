//! The vocabulary of feature values that `encode` makes and `align` compares: rows in their
//! stored encoding, a sequence of frames owned or read from elsewhere, how a row lays out
//! pitch, and where a face detector found a face.
//!
//! A leaf: it depends on nothing else of warpflow, so `encode` (which writes and reads these
//! values) and `align` (which computes distances over them) both depend on it and not on each
//! other. It owns no distance code, no tensors and no I/O.

mod cache_aligned;
mod encoded_rows;
mod face_box;
mod feature_values;
mod pitch_layout;

pub(crate) use cache_aligned::CacheAligned;
pub use encoded_rows::EncodedRows;
pub use face_box::{NormalisedBox, FACE_MIN_SCORE};
pub use feature_values::{FeatureValues, FeatureValuesError, SharedValues};
pub use pitch_layout::PitchLayout;
pub(crate) use pitch_layout::PITCH_CLASSES;
