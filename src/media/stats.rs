//! Counters of what capture received and dropped, shared with whoever reports progress.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts records captured and dropped; cheap to clone and to update from streaming threads.
#[derive(Debug, Clone, Default)]
pub struct CaptureStats {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    frames_in: AtomicU64,
    frames_dropped: AtomicU64,
    latest_running_time_ns: AtomicU64,
}

impl CaptureStats {
    /// Records handed to the graph or dropped, in total.
    pub fn frames_in(&self) -> u64 {
        self.inner.frames_in.load(Ordering::Relaxed)
    }

    /// Records dropped because a ring was full.
    pub fn frames_dropped(&self) -> u64 {
        self.inner.frames_dropped.load(Ordering::Relaxed)
    }

    /// The latest running time any record was captured at.
    pub fn latest_running_time_ns(&self) -> u64 {
        self.inner.latest_running_time_ns.load(Ordering::Relaxed)
    }

    pub(crate) fn count_in(&self, running_time_ns: u64) {
        self.inner.frames_in.fetch_add(1, Ordering::Relaxed);
        self.inner
            .latest_running_time_ns
            .fetch_max(running_time_ns, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped(&self) {
        self.inner.frames_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes on the counts another worker's capture reported (counts only grow, so a late
    /// report never lowers them).
    pub(crate) fn mirror(&self, frames_in: u64, frames_dropped: u64) {
        self.inner.frames_in.fetch_max(frames_in, Ordering::Relaxed);
        self.inner.frames_dropped.fetch_max(frames_dropped, Ordering::Relaxed);
    }
}
