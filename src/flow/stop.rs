//! A request, from outside the graph, to end a run cleanly (Ctrl-C on a live source).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Cheap to clone; any clone can ask, the driver looks. On a request the driver sends
/// end-of-stream into the pipeline, so the graph drains, the last events and the summary are
/// written, and the run ends as if the source had ended.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    requested: Arc<AtomicBool>,
}

impl StopSignal {
    /// Asks the run to end.
    pub fn request(&self) {
        self.requested.store(true, Ordering::Release);
    }

    /// True once a stop has been asked for.
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }
}
