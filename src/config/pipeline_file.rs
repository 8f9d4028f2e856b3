//! Pipeline description files (`--pipeline FILE`): ready-made sources in TOML, so that a
//! camera setup is written once and named, instead of retyped as a `--live` argument.
//!
//! ```toml
//! [[stream]]
//! id = "stage"                      # the stream's name in events
//! source = "webcam:/dev/video0"     # any SOURCE form of --live, launch lines included
//! reference = "rehearsal.wav"       # follow: what this stream follows (else --reference)
//! cues = "act1.srt"                 # follow: this stream's cues (else --cues)
//! captured_by = 1                   # cluster runs: the process whose machine has the source
//! ```
//!
//! A file may describe several streams (a two-camera setup, two stages each with its own
//! recording); `sync` and `follow` run them all in one process. Relative paths are taken from
//! the file's folder; `sync` has no use for references and cues and leaves them be.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{load_cues, ConfigError, Cue, SourceSpec};

/// One stream of a description: its name, its source, and what `follow` follows it along.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineStream {
    /// The stream's name in events.
    pub id: String,
    /// Where its media comes from.
    pub source: SourceSpec,
    /// Its own reference recording, if the file names one.
    pub reference: Option<PathBuf>,
    /// Its own cues, read from the file the description names, if it names one.
    pub cues: Option<Vec<Cue>>,
    /// In a cluster run, the process that captures its source, if the file pins it to one.
    pub captured_by: Option<usize>,
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
    reference: Option<PathBuf>,
    cues: Option<PathBuf>,
    captured_by: Option<usize>,
}

impl PipelineFile {
    /// Reads and checks the file at `path`: TOML with one or more `[[stream]]` tables, each
    /// with an `id` and a `source` (and optionally a `reference` and `cues`, which must exist
    /// and parse), ids unique.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bad = |detail: String| ConfigError::BadPipelineFile {
            path: path.to_path_buf(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
        Self::parse(path, &text)
    }

    /// Checks `text`, the contents of the file at `path` (which errors name, and beside which
    /// references and cue files are looked for), as [`PipelineFile::load`] does.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let bad = |detail: String| ConfigError::BadPipelineFile {
            path: path.to_path_buf(),
            detail,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
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
            let folder = path.parent().unwrap_or(Path::new("."));
            let reference = stream.reference.map(|file| folder.join(file));
            if let Some(reference) = reference.as_ref().filter(|file| !file.is_file()) {
                return Err(bad(format!(
                    "stream '{}': reference {} is not a file",
                    stream.id,
                    reference.display()
                )));
            }
            let cues = stream
                .cues
                .map(|file| load_cues(&folder.join(file)))
                .transpose()
                .map_err(|e| bad(format!("stream '{}': {e}", stream.id)))?;
            streams.push(PipelineStream {
                id: stream.id,
                source,
                reference,
                cues,
                captured_by: stream.captured_by,
            });
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
            (
                "[[stream]]\nid = \"a\"\nsource = \"test\"\nreference = \"nowhere.wav\"\n",
                "stream 'a': reference",
            ),
            (
                "[[stream]]\nid = \"a\"\nsource = \"test\"\ncues = \"nowhere.srt\"\n",
                "stream 'a': ",
            ),
        ] {
            let (_dir, path) = write(text);
            let error = PipelineFile::load(&path).unwrap_err().to_string();
            assert!(error.contains("pipeline.toml"), "{error}");
            assert!(error.contains(needle), "{text:?}: {error}");
        }
    }

    #[test]
    fn references_and_cues_are_found_beside_the_file() {
        let (dir, path) = write(
            "[[stream]]\nid = \"left\"\nsource = \"test\"\nreference = \"left.wav\"\ncues = \"left.srt\"\n\
             [[stream]]\nid = \"right\"\nsource = \"test\"\n",
        );
        std::fs::write(dir.path().join("left.wav"), b"RIFF").expect("written");
        std::fs::write(dir.path().join("left.srt"), "1\n00:00:02,500 --> 00:00:04,000\nHello\n").expect("written");
        let file = PipelineFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.streams[0].reference, Some(dir.path().join("left.wav")));
        let cues = file.streams[0].cues.as_ref().expect("cues");
        assert_eq!((cues.len(), cues[0].ref_ns), (1, 2_500_000_000));
        assert_eq!((&file.streams[1].reference, &file.streams[1].cues), (&None, &None));
    }
}
