//! The `warpflow` command line: `follow` a reference, or measure A/V `sync`, on live streams.
//!
//! Exit codes: 0 done, 2 bad input (the message names the culprit), 1 runtime failure.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::Cli;
use warpflow::flow::StopSignal;

/// jemalloc for the engine's own allocations. A service's worker allocates and frees buffers
/// of every size for every stream it holds, and glibc's malloc keeps the holes that leaves
/// behind resident, which made up a large share of what a stream cost (`cargo bench --bench
/// service_memory`; the figures are in `benches/RESULTS.md`). GStreamer's and libtorch's own
/// allocations stay with the C library's malloc.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The error and its causes on one line; a cause whose words the message already carries (the
/// library's errors name their source in their own text) is not repeated.
fn error_message(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
    }
    message
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes are for a terminal; in a log file they are noise.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("WARPFLOW_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    let cli = Cli::parse();
    let stop = StopSignal::default();
    let on_signal = stop.clone();
    // The first Ctrl-C ends the run cleanly (last events and summary); a second one at once.
    let handler = ctrlc::set_handler(move || {
        if on_signal.is_requested() {
            std::process::exit(130);
        }
        on_signal.request();
    });
    if let Err(error) = handler {
        tracing::warn!("Ctrl-C will end the run abruptly: {error}");
    }
    match cli.run(stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("warpflow: error: {}", error_message(&error));
            let bad_input = error
                .downcast_ref::<warpflow::flow::FlowError>()
                .is_some_and(|e| e.is_bad_input());
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}
