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
}
