//! How far a run's references have been read and encoded before it starts: a `locate` over a
//! library, or a `follow` of a long media file, can take a while before the first event. The
//! library only reports; whoever runs the job decides how to show it (the command line draws a
//! bar at a terminal).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// One report: how much of which reference is done.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceStep<'a> {
    /// The reference being encoded.
    pub path: &'a Path,
    /// Its place among the run's references, from 0.
    pub index: usize,
    /// How many references the run has.
    pub count: usize,
    /// Audio of this reference encoded so far.
    pub done_ns: u64,
    /// Its whole length, once known.
    pub total_ns: Option<u64>,
    /// Whether this reference is encoded: the last report of each.
    pub finished: bool,
}

/// Called as each reference is encoded.
#[derive(Clone)]
pub struct ReferenceProgress(Arc<dyn Fn(ReferenceStep<'_>) + Send + Sync>);

impl ReferenceProgress {
    /// Reports to `report`.
    pub fn new(report: impl Fn(ReferenceStep<'_>) + Send + Sync + 'static) -> Self {
        Self(Arc::new(report))
    }

    /// Tells it `step`.
    pub fn report(&self, step: ReferenceStep<'_>) {
        (self.0)(step)
    }
}

impl fmt::Debug for ReferenceProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReferenceProgress")
    }
}
