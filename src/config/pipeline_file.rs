//! Pipeline description files (`--pipeline FILE`): ready-made sources in TOML, so that a
//! camera setup is written once and named, instead of retyped as a `--live` argument.
//!
//! ```toml
//! [[stream]]
//! id = "stage"                      # the stream's name in events
//! source = "webcam:/dev/video0"     # any SOURCE form of --live, launch lines included
//! ```
//!
//! A file may describe several streams (a two-camera setup); `sync` and `follow` run them all
//! in one process.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ConfigError, SourceSpec};

/// One stream of a description: its name and its source.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineStream {
    /// The stream's name in events.
    pub id: String,
    /// Where its media comes from.
    pub source: SourceSpec,
}

/// A parsed description file.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineFile {
    /// The file it was read from, for messages.
    pub path: PathBuf,
    /// What the file says it is for, if it says.
    pub description: Option<String>,
    /// Its streams, in file order (at least one).
    pub streams: Vec<PipelineStream>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    description: Option<String>,
    #[serde(default)]
    stream: Vec<RawStream>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStream {
    id: String,
    source: String,
}

impl PipelineFile {
    /// Reads and checks the file at `path`: TOML with one or more `[[stream]]` tables, each
    /// with an `id` and a `source`, ids unique.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bad = |detail: String| ConfigError::BadPipelineFile {
            path: path.to_path_buf(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
        let raw: RawFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if raw.stream.is_empty() {
            return Err(bad(
                "it describes no stream; expected one or more [[stream]] tables with id and source".into(),
            ));
        }
        let mut streams: Vec<PipelineStream> = Vec::with_capacity(raw.stream.len());
        for stream in raw.stream {
            if stream.id.trim().is_empty() {
                return Err(bad("a stream has an empty id".into()));
            }
            if streams.iter().any(|s| s.id == stream.id) {
                return Err(bad(format!(
                    "stream id '{}' appears twice; ids must be unique",
                    stream.id
                )));
            }
            let source = stream
                .source
                .parse()
                .map_err(|e: ConfigError| bad(format!("stream '{}': {e}", stream.id)))?;
            streams.push(PipelineStream { id: stream.id, source });
        }
        Ok(Self {
            path: path.to_path_buf(),
            description: raw.description,
            streams,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("pipeline.toml");
        std::fs::write(&path, text).expect("written");
        (dir, path)
    }

    #[test]
    fn every_shipped_description_parses() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&folder).expect("pipelines/") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let file = PipelineFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(file.description.is_some(), "{} has no description", path.display());
                names.push((
                    path.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                    file,
                ));
            }
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let summary: Vec<(&str, usize)> = names.iter().map(|(n, f)| (n.as_str(), f.streams.len())).collect();
        assert_eq!(
            summary,
            [
                ("file.toml", 1),
                ("rtsp-camera.toml", 1),
                ("test-pattern.toml", 1),
                ("two-cameras.toml", 2),
                ("webcam.toml", 1)
            ]
        );
    }

    #[test]
    fn bad_files_are_refused_with_the_place_at_fault() {
        for (text, needle) in [
            ("[[stream]]\nid = \"a\"\n", "missing field `source`"),
            (
                "[[stream]]\nid = \"a\"\nsource = \"test\"\ncolour = 1\n",
                "unknown field `colour`",
            ),
            ("description = \"x\"\n", "no stream"),
            (
                "[[stream]]\nid = \"a\"\nsource = \"ftp://x\"\n",
                "stream 'a': unknown source",
            ),
            (
                "[[stream]]\nid = \"a\"\nsource = \"test\"\n[[stream]]\nid = \"a\"\nsource = \"test\"\n",
                "appears twice",
            ),
            ("[[stream]\n", "line 1"),
        ] {
            let (_dir, path) = write(text);
            let error = PipelineFile::load(&path).unwrap_err().to_string();
            assert!(error.contains("pipeline.toml"), "{error}");
            assert!(error.contains(needle), "{text:?}: {error}");
        }
    }
}
