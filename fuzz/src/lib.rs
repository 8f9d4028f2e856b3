//! What each fuzz target feeds to warpflow: the parsers that read what users and networks
//! hand it (source strings, `test?` queries, cue files, `.wfr` references, pipeline files, the
//! feed's query strings). Each accepts any bytes and must answer with a value or a typed error,
//! never a panic, an abort or a hang.
//!
//! `cargo fuzz run NAME` drives them under libFuzzer (`scripts/fuzz.sh`); the tests replay
//! the committed corpus and arbitrary bytes through the same functions on stable Rust
//! (`tests/fuzz_corpus.rs` includes this file).

use std::path::Path;

use warpflow::config::{parse_cues, PipelineFile, SourceSpec, TestPatternParams};
use warpflow::encode::ReferenceFile;
use warpflow::serve::feed::EventFilter;

/// A fuzz target: any bytes in, nothing out; it must not panic, abort or hang.
pub type Target = fn(&[u8]);

/// The targets by name, as `cargo fuzz` and the corpus folders name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("source_spec", source_spec),
    ("test_query", test_query),
    ("cues_vtt", cues_vtt),
    ("cues_srt", cues_srt),
    ("cues_json", cues_json),
    ("reference_file", reference_file),
    ("pipeline_file", pipeline_file),
    ("feed_query", feed_query),
];

/// What `--live` takes: a file, a URI, `webcam`, `test?…`, a launch line.
pub fn source_spec(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(spec) = text.parse::<SourceSpec>() {
            // What names the source in events and messages, with credentials masked.
            let _ = spec.display_name();
            let _ = spec.redact(text);
        }
    }
}

/// The query of a `test?…` source.
pub fn test_query(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = TestPatternParams::from_query(text);
    }
}

/// A WebVTT cue file.
pub fn cues_vtt(data: &[u8]) {
    cues(data, "fuzz.vtt");
}

/// A SubRip cue file.
pub fn cues_srt(data: &[u8]) {
    cues(data, "fuzz.srt");
}

/// A JSON cue list.
pub fn cues_json(data: &[u8]) {
    cues(data, "fuzz.json");
}

fn cues(data: &[u8], name: &str) {
    // Files are read as UTF-8 text; what is not is refused before parsing.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_cues(Path::new(name), text);
    }
}

/// A `.wfr` reference file's bytes.
pub fn reference_file(data: &[u8]) {
    let _ = ReferenceFile::parse(data);
}

/// A `--pipeline` TOML file (its references and cue files are looked for beside a folder
/// that does not exist, so they are refused as missing).
pub fn pipeline_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PipelineFile::parse(Path::new("/nonexistent-fuzz-folder/pipeline.toml"), text);
    }
}

/// The query string of a `GET /events` request.
pub fn feed_query(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = EventFilter::from_query(text);
    }
}
