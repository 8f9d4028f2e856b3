//! Publishing a run's events to the feed beside its usual output.

use std::io;
use std::sync::Arc;

use crate::events::{Event, EventWriter, RunSummary};

use super::FeedHub;

/// Writes each event to `inner` (standard output) and publishes it to the feed.
pub struct FeedWriter {
    inner: Box<dyn EventWriter + Send>,
    hub: Arc<FeedHub>,
}

impl FeedWriter {
    /// Events go to `inner` and to `hub`'s clients.
    pub fn new(inner: Box<dyn EventWriter + Send>, hub: Arc<FeedHub>) -> Self {
        Self { inner, hub }
    }
}

impl EventWriter for FeedWriter {
    fn write_event(&mut self, event: &Event) -> io::Result<()> {
        self.hub.publish(event);
        self.inner.write_event(event)
    }

    fn write_summary(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.inner.write_summary(summary)
    }

    fn forget_stream(&mut self, stream: &str) {
        self.hub.forget_stream(stream);
        self.inner.forget_stream(stream);
    }
}
