//! Why the element cannot start: a property value it cannot work with (each error names the
//! property and what it expects, and keeps the library's error as its source), or the engine's
//! thread that the system would not start.

use warpflow::config::ConfigError;
use warpflow::flow::FlowError;

use super::property;

/// A property value the element cannot start with.
#[derive(Debug, thiserror::Error)]
pub(super) enum SettingsError {
    /// `window` past what the mode takes.
    #[error(
        "property '{}' is {window_s} s; in mode=sync it is the offset window, above 0 and at most {most_s} s (0: 4 s)",
        property::WINDOW
    )]
    SyncWindow {
        /// The value given.
        window_s: f64,
        /// The most sync takes.
        most_s: f64,
    },
    /// mode=follow without a reference.
    #[error("mode=follow needs the property '{}' (a media file or a .wfr)", property::REFERENCE)]
    NoReference,
    /// A reference that is not a file.
    #[error("property '{}': no file {path}", property::REFERENCE)]
    MissingReference {
        /// The path given.
        path: String,
    },
    /// A reference whose features cannot be told or used.
    #[error("property '{}': {source}", property::REFERENCE)]
    Reference {
        /// Why.
        source: FlowError,
    },
    /// A cue file that cannot be read.
    #[error("property '{}': {source}", property::CUES)]
    Cues {
        /// Why.
        source: ConfigError,
    },
    /// `serve` is not HOST:PORT.
    #[error(
        "property '{}' is '{value}', expected HOST:PORT such as 127.0.0.1:8750 ({source})",
        property::SERVE
    )]
    ServeAddress {
        /// The value given.
        value: String,
        /// Why it does not parse.
        source: std::net::AddrParseError,
    },
    /// The feed could not listen where `serve` says.
    #[error("property '{}': cannot listen on {bind}: {source}", property::SERVE)]
    ServeListen {
        /// The address.
        bind: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The system would not start the engine's thread.
    #[error("cannot start the engine's thread: {source}")]
    EngineThread {
        /// Why.
        source: std::io::Error,
    },
}
