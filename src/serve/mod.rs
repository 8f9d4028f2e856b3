//! Delivering events to the people and programs that watch a run: JSON lines and a readable
//! live view on standard output (with the run's one-line summary), and the WebSocket feed
//! ([`feed`]). This module implements [`crate::events::EventWriter`]: it takes finished events
//! and writes them out; it never computes or changes them.

pub mod feed;
mod pretty;
mod terminal_progress;
mod writer;

pub use pretty::PrettyWriter;
pub use terminal_progress::TerminalProgress;
pub use writer::{event_writer, JsonLinesWriter, OutputFormat};
