//! The interface through which finished events leave the graph: the flow writes to it, the
//! delivery layer (`serve`, the element) implements it.

use std::io;

use super::{Event, RunSummary};

/// Where finished events go.
pub trait EventWriter {
    /// Writes one event.
    fn write_event(&mut self, event: &Event) -> io::Result<()>;
    /// Writes the run's closing summary.
    fn write_summary(&mut self, summary: &RunSummary) -> io::Result<()>;
    /// `stream` is gone for good (a service removed it, after its `eos`): what is kept of it
    /// for later readers (a replay, its watermark) may be let go, and a stream that takes its
    /// name later starts afresh. Writers that keep nothing do nothing.
    fn forget_stream(&mut self, _stream: &str) {}
}
