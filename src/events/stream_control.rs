//! The interface through which streams are added to and removed from a running service, and
//! the descriptions it answers with: the wire format of `GET/POST /streams` and
//! `DELETE /streams/{id}`.
//!
//! The delivery layer (`serve`) takes requests and answers them; the graph (`flow`) implements
//! [`StreamControl`]. Neither knows the other: they share these types, as they share
//! [`super::EventWriter`].

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where a stream of a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamState {
    /// Its capture is starting or running, and its events are being written.
    Running,
    /// Asked to end: its last events and `eos` are on their way.
    Ending,
    /// Its source ended and its `eos` was written; kept for `GET /streams` until removed.
    Ended,
    /// It stopped on an error (in `error`, and in its `error` event); kept until removed.
    Failed,
}

/// What `GET /streams` says about one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamDescription {
    /// The stream's id, as its events carry it.
    pub id: String,
    /// `sync` or `follow`.
    pub job: String,
    /// The source, with any credentials in it hidden.
    pub source: String,
    /// The reference a `follow` stream follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Where the stream is in its life.
    pub state: StreamState,
    /// Events written so far.
    pub events: u64,
    /// The stream's watermark: the running time its newest `progress` said is final.
    pub watermark_ns: u64,
    /// Media records captured, and dropped because the graph could not keep up, as of the
    /// newest `progress`.
    pub frames_in: u64,
    /// See `frames_in`.
    pub frames_dropped: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// In a service that spans a cluster, the process that holds the stream (and writes its
    /// events).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub process: Option<usize>,
}

impl StreamDescription {
    /// A stream just started: running, nothing written yet.
    pub fn started(id: impl Into<String>, job: impl Into<String>, source: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            job: job.into(),
            source: source.into(),
            reference: None,
            state: StreamState::Running,
            events: 0,
            watermark_ns: 0,
            frames_in: 0,
            frames_dropped: 0,
            error: None,
            process: None,
        }
    }
}

/// Why a request about streams was refused.
#[derive(Debug, Error, PartialEq, Serialize, Deserialize)]
pub enum StreamRefusal {
    /// The request's field `field` is missing or wrong.
    #[error("field '{field}' of the stream request: {problem}")]
    BadField {
        /// The field at fault.
        field: String,
        /// What is wrong with it, and what it should be.
        problem: String,
    },
    /// The request is not a JSON object.
    #[error("the stream request is not JSON: {0}; expected an object such as {{\"id\": \"cam1\", \"job\": \"sync\", \"source\": \"test\"}}")]
    NotJson(String),
    /// Another stream has the id.
    #[error("a stream with id '{0}' is already running; remove it first or choose another id")]
    IdInUse(String),
    /// No stream has the id.
    #[error("no stream has id '{0}'")]
    NoSuchStream(String),
    /// The stream could not be built (its reference, its models).
    #[error("stream '{id}' could not start: {reason}")]
    NotStarted {
        /// The stream's id.
        id: String,
        /// Why.
        reason: String,
    },
    /// The service is shutting down.
    #[error("the service is shutting down and takes no more streams")]
    ShuttingDown,
    /// The stream is held by another process of the cluster, which did not answer.
    #[error("stream '{id}' is held by process {process} of the cluster, which did not answer: {reason}")]
    HolderAway {
        /// The stream's id.
        id: String,
        /// The process its id hashes to.
        process: usize,
        /// What went wrong on the way.
        reason: String,
    },
}

/// A service whose streams can be added and removed while it runs. Calls may block (a stream
/// is built, or drained, before they return); callers on an async runtime run them on a
/// blocking thread.
pub trait StreamControl: Send + Sync {
    /// Starts the stream the JSON request describes and describes it.
    fn add(&self, request: &[u8]) -> Result<StreamDescription, StreamRefusal>;
    /// Every stream the service holds, in the order they were added.
    fn list(&self) -> Vec<StreamDescription>;
    /// Ends the stream with `id` (its last events and `eos` are written, its capture and state
    /// freed) and describes it as it ended.
    fn remove(&self, id: &str) -> Result<StreamDescription, StreamRefusal>;
}
