//! The graph's operators, one per file, each an extension trait on timely streams.

mod encode_batches;
mod encode_pooled;
mod encode_streams;
mod estimate_offset;
mod follow_reference;
mod held_capability;
mod join_video;
mod locate_references;
mod sync_streams;
mod write_events;
mod write_stream_events;

pub use encode_batches::{Batching, EncodeBatches};
pub(crate) use encode_pooled::{EncodePooled, Pictures, PooledStage};
pub(crate) use encode_streams::{EncodeStreams, EncodedStreams};
pub use estimate_offset::EstimateOffset;
pub use follow_reference::{
    FollowEvents, FollowReference, FollowStreams, FollowedStreams, ReferenceTiming, ScanBudgetPolicy, SharedFrame,
};
pub use join_video::{JoinVideo, LIVE_VIDEO_WAIT_NS};
pub use locate_references::{LocateReferences, NamedReference};
pub(crate) use sync_streams::{AudioStage, SyncEncoding, SyncRecord, SyncStreams, SyncedStreams};
pub use write_events::{EventSink, WriteEvents};
pub(crate) use write_stream_events::{EndedStream, StreamSinks, WriteStreamEvents};
