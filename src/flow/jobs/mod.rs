//! The jobs, one per file: each wires capture, encoders and aligners into a timely dataflow for
//! one stream ([`sync`], [`follow`], [`locate`]; [`live_audio`] is the part `follow` and
//! `locate` share), and [`many_streams`] runs several streams on a worker or a cluster. Operators
//! live in [`crate::flow::operators`]; a job only connects them.

pub(crate) mod follow;
pub(crate) mod live_audio;
pub(crate) mod locate;
pub(crate) mod many_streams;
pub(crate) mod sync;

/// Running time between `progress` events unless a job says otherwise: once a second, often
/// enough for a page's progress bar and a supervisor's heartbeat, rare enough to cost nothing.
pub const DEFAULT_PROGRESS_EVERY_NS: u64 = 1_000_000_000;
