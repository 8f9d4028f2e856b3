//! The timely dataflow graph: capture records in, events out.
//!
//! Records enter through timely inputs stamped with their GStreamer running time in
//! nanoseconds, so the frontier reads "everything captured before t has been processed"; the
//! event sink turns that frontier into `progress` events. Each job ([`run_sync`],
//! [`run_follow`], [`run_locate`]) wires capture ([`crate::media`]), encoders ([`crate::encode`]) and
//! aligners ([`crate::align`]) into one graph of operators from [`operators`] and drives it
//! until the source ends. With many streams ([`run_streams`], [`run_streams_in_cluster`])
//! [`Placement`] says which worker captures a stream and which holds it: a stream captured by
//! its holder joins the holder's shared dataflow for its job (`shared`), and one pinned to
//! another process's capture keeps a dataflow of its own, exchange pacts carrying its records
//! between the two; the streams a worker holds share its stateless encoders. A [`StreamService`] takes streams while it runs
//! (`warpflow serve`) on the worker thread its id hashes to: its `follow` streams share one
//! dataflow there, their records [`Keyed`] by stream and each operator keeping per-stream state
//! in a table ([`operators::FollowStreams`]), so a stream joins and leaves without it being
//! rebuilt; its `sync` streams share another the same way (`operators::sync_streams`). A
//! [`ClusteredService`] spans the processes of a cluster, each holding the streams that hash
//! to its workers.

mod cue_cursor;
mod driver;
mod encoder_pool;
mod error;
mod failure;
mod follow_features;
mod held;
mod ingest;
mod jobs;
mod keyed;
mod offset_estimation;
pub mod operators;
mod placement;
mod records;
mod reference;
mod reference_progress;
mod service;
mod shared;
mod shared_references;
mod stages;
mod stop;

pub use error::FlowError;
pub use failure::FailureSlot;
pub use follow_features::{
    fit_follower_to_features, follow_audio_encoder, FollowEncoders, FrameJoiner, Transposition, VideoComparison,
    VideoSource, FOLLOW_PICTURE,
};
pub use jobs::follow::{
    follow_frames_in, follow_seconds_in, relocation_for_window_s, run_follow, FollowJob, FOLLOW_FRAMES,
};
pub use jobs::locate::{run_locate, LocateJob};
pub use jobs::many_streams::{
    run_streams, run_streams_in_cluster, ClusterPart, SharedWriter, StreamJob, StreamOutcome,
};
pub use jobs::sync::{run_sync, SyncJob};
pub use jobs::DEFAULT_PROGRESS_EVERY_NS;
pub use keyed::{Keyed, StreamKey, StreamNote};
pub use placement::{worker_of, Placement, Role, StreamSite};
pub(crate) use records::StatusRecord;
pub use records::{AudioEvidence, EnvelopeSample, FeatureFrame, PictureSample, StreamEvent, FACE_OUTPUTS};
pub use reference::{
    encode_followed_reference, encode_reference_file, follow_audio_features, is_reference_file, load_reference,
    write_reference_file, EncodedReference,
};
pub use reference_progress::{ReferenceProgress, ReferenceStep};
pub use service::{ClusteredService, StreamService};
pub use shared_references::{load_shared_reference, SharedReference};
pub use stop::StopSignal;
