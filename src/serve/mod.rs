//! Delivering events to the people and programs that watch a run: JSON lines and a readable
//! live view on standard output, the WebSocket feed ([`feed`]), and the one-line summary that
//! ends every run. This module
//! takes finished events and writes them out; it never computes or changes them.

pub mod feed;
mod pretty;
mod summary;
mod writer;

pub use pretty::PrettyWriter;
pub use summary::{RunKind, RunSummary};
pub use writer::{event_writer, EventWriter, JsonLinesWriter, OutputFormat};
