//! Why `--publish` cannot start, or why the server it publishes to ended the run.

/// What can stop a run from publishing its events.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// `--publish` is not a WebSocket address.
    #[error("--publish {url}: not a ws:// address ({source})")]
    NotAnAddress {
        /// The address given.
        url: String,
        /// Why the WebSocket client cannot use it.
        source: tungstenite::Error,
    },
    /// `--token` cannot travel in an HTTP header.
    #[error("--token: cannot be sent in an Authorization header ({source})")]
    BadToken {
        /// Why.
        source: tungstenite::http::header::InvalidHeaderValue,
    },
    /// The run's introduction could not be written.
    #[error("cannot describe the run to the server: {source}")]
    Introduction {
        /// Why.
        source: serde_json::Error,
    },
    /// The system would not start the sending thread.
    #[error("cannot start the thread that publishes events: {source}")]
    Thread {
        /// Why.
        source: std::io::Error,
    },
    /// The server refused the run; trying again would not help.
    #[error("the warpflow serve refused this run: {refusal}")]
    Refused {
        /// What the server said.
        refusal: Refusal,
    },
}

/// How a `warpflow serve` refused a publishing run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The token was missing or wrong.
    #[error("the token was not accepted (401)")]
    Token,
    /// The server closed the connection as a matter of policy or bad data (a stream name
    /// another run uses, for instance).
    #[error("{reason}")]
    Closed {
        /// The WebSocket close code (1008 or 1007).
        code: u16,
        /// The server's reason.
        reason: String,
    },
}
