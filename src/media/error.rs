//! Errors of capture.
//!
//! GStreamer's account of a failing source (a bus error's message and debug text) is kept as
//! text after the source's credentials are taken out of it (`SourceSpec::redact`), not as the
//! `glib::Error` it came in: those messages quote the URL they failed on, user and password
//! included, and these errors reach logs, `error` events and the feed's clients.

use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong while building or running a capture pipeline.
#[derive(Debug, Error)]
pub enum MediaError {
    /// GStreamer itself could not start.
    #[error("GStreamer could not be initialised: {source}")]
    Init {
        /// GStreamer's error.
        source: gst::glib::Error,
    },
    /// A GStreamer element the pipeline needs is not installed.
    #[error("GStreamer element '{factory}' is missing; install the GStreamer plugins ({hint})")]
    MissingElement {
        /// Element factory name.
        factory: &'static str,
        /// Which package usually has it.
        hint: &'static str,
    },
    /// A launch line that GStreamer cannot parse, or that lacks a needed appsink.
    #[error("launch line is not usable: {detail}")]
    BadLaunchLine {
        /// What is wrong.
        detail: String,
    },
    /// A camera device that does not exist.
    #[error("webcam device '{}' does not exist; list cameras with 'ls /dev/video*'", device.display())]
    MissingDevice {
        /// The device path.
        device: PathBuf,
    },
    /// A source without the media the run needs.
    #[error("{source_name} has no {kind} stream; this run needs {kind}")]
    MissingStream {
        /// The source, as printable.
        source_name: String,
        /// "audio" or "video".
        kind: &'static str,
    },
    /// A source that could not be read or decoded before any data came out of it.
    #[error("{source_name} cannot be read: {detail}")]
    Unreadable {
        /// The source, as printable.
        source_name: String,
        /// GStreamer's account of the problem.
        detail: String,
    },
    /// The source's media could not be brought to the format the encoders take.
    #[error(
        "{source_name} gives media in a format that cannot be converted to what this run needs ({needs}); \
         a launch line must convert before its appsinks (… ! audioconvert ! audioresample ! appsink name=audio, \
         … ! videoconvert ! videoscale ! appsink name=video): {detail}"
    )]
    UnusableCaps {
        /// The source, as printable.
        source_name: String,
        /// What the run's appsinks accept.
        needs: String,
        /// GStreamer's account of the problem.
        detail: String,
    },
    /// The pipeline failed while running.
    #[error("{source_name} failed while running: {detail}")]
    Runtime {
        /// The source, as printable.
        source_name: String,
        /// GStreamer's account of the problem.
        detail: String,
    },
}

impl MediaError {
    /// True when the error lies in what the user gave (exit code 2), not in the run.
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            MediaError::Init { .. } | MediaError::Runtime { .. } | MediaError::MissingElement { .. }
        )
    }
}
