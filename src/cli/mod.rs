//! The command line: its schema ([`args`]) and how a parsed command becomes a run ([`jobs`]).

mod args;
mod jobs;
mod reference_bar;

pub use args::Cli;
