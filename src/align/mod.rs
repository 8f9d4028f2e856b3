//! Alignment algorithms: online time warping (with provisional and final positions), relocation
//! by streaming subsequence DTW, exact DTW, the A/V lag estimators (flashes and beeps, and the
//! region of the picture that follows the sound) and offset tracker, costs over
//! several modalities, transposition for chroma, and the distance kernels they share (`kernels`,
//! with AVX2 versions chosen at run time).
//!
//! This module is pure Rust on purpose: it imports nothing of GStreamer, libtorch or timely,
//! so it can be tested, fuzzed and benchmarked alone. Its inputs are feature vectors (`&[f32]`)
//! and envelope samples with times in nanoseconds; its outputs are positions and offsets.

mod av_sync;
mod cens;
mod distance;
mod dtw;
mod embedding_lag;
mod error;
mod features;
mod follower;
mod frame_scale;
mod hypotheses;
mod int8_frames;
mod kernels;
mod lag;
mod live_window;
mod locate;
mod modalities;
mod offset_tracker;
mod oltw;
mod peak;
mod position_confidence;
mod precision;
mod projection;
mod region_lag;
mod relocate;
mod speech_weights;
mod subsequence;
#[cfg(test)]
mod test_sequences;
mod transposition;

pub use av_sync::{AvSyncEstimator, SyncEstimate};
pub use cens::{cens, CensConfig};
pub use distance::{
    cosine_distance, dot, euclidean_distance, inverse_norm, manhattan_distance, norm, squared_euclidean_distance,
    Distance,
};
pub use dtw::{dtw_distance, full_dtw, DtwResult};
pub use embedding_lag::{EmbeddingEstimate, EmbeddingLagConfig, EmbeddingLagEstimator};
pub use error::AlignError;
pub use features::FeatureMatrix;
pub use follower::{FollowStep, Follower, FollowerConfig, GATE_OPENING_FRAMES};
pub(crate) use frame_scale::frames_in_time;
pub use hypotheses::{Hypotheses, HypothesisConfig, WonHypothesis};
pub use kernels::KernelSet;
pub use lag::{AvLagEstimator, LagConfig, LagEstimate};
pub use locate::{locate_snippet, LocateConfig, SnippetMatch};
pub use modalities::{Modalities, Modality};
pub use offset_tracker::{OffsetTracker, OffsetTrackerConfig, TrackedOffset};
pub use oltw::{
    FinalPosition, Normalisation, OltwConfig, OnlineTimeWarper, StepWeights, TrackedPosition, SPREAD_LAG_FRAMES,
};
pub use position_confidence::{ConfidenceEvidence, PositionConfidence};
pub use precision::{Precision, INT8_FROM_DIM};
pub use projection::Projection;
pub use region_lag::{BlockGrid, RegionEstimate, RegionLagConfig, RegionLagEstimator};
pub use relocate::{RelocationCandidate, Relocator, RelocatorConfig};
pub use speech_weights::{SpeechWeights, SpeechWindow};
pub use subsequence::{SubsequenceMatch, SubsequenceSearch, SubsequenceSteps};
pub use transposition::{signed_semitones, TranspositionTracker, TRANSPOSITION_SETTLE_FRAMES};
