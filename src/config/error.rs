//! Errors of configuration parsing.

use std::path::PathBuf;

use thiserror::Error;

/// A configuration value that cannot be used.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    /// A source or reference names a file that does not exist.
    #[error("no such file: '{}'; expected {expected}", path.display())]
    MissingFile {
        /// The path as given.
        path: PathBuf,
        /// What the argument should have been.
        expected: &'static str,
    },
    /// A source is in none of the known forms.
    #[error("unknown source '{source_text}': {reason}")]
    UnknownSource {
        /// The source as given.
        source_text: String,
        /// Why it was not recognised.
        reason: String,
    },
    /// A `test?…` parameter has a value that cannot be used.
    #[error("test source parameter '{name}' has value '{value}', expected {expected}")]
    BadTestParameter {
        /// Parameter name.
        name: String,
        /// The value as given.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// A `test?…` parameter that does not exist.
    #[error("unknown test source parameter '{name}'; known parameters: {known}")]
    UnknownTestParameter {
        /// Parameter name as given.
        name: String,
        /// The parameters that exist.
        known: &'static str,
    },
    /// A cue file that cannot be used (`line` 0: the file as a whole).
    #[error("cue file '{}'{}: {detail}", path.display(), if *line > 0 { format!(", line {line}") } else { String::new() })]
    BadCueFile {
        /// The file.
        path: PathBuf,
        /// The line at fault, from 1; 0 when no single line is.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// A pipeline description file that cannot be used.
    #[error("pipeline file '{}': {detail}", path.display())]
    BadPipelineFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line where TOML knows it.
        detail: String,
    },
    /// A setting outside its accepted range.
    #[error("{name} is '{value}', expected {expected}")]
    BadValue {
        /// Which setting.
        name: &'static str,
        /// The value as given.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
}
