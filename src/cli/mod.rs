//! The command line: its schema ([`args`]), how a parsed command becomes a run ([`jobs`]), and
//! the client of a running service's streams ([`streams_client`]).

mod args;
mod jobs;
mod reference_bar;
mod streams_client;

pub use args::Cli;
