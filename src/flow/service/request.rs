//! A request to add a stream (`POST /streams`), read into the stream's job.
//!
//! The request is a JSON object: `id`, `job` (`sync` or `follow`), `source`, and for `follow`
//! a `reference` (a `.wfr` file) and optional `cues`; `pace` (`realtime` or `fast`) and, for
//! `sync`, `max_lag_ms`. Everything else starts from the library's defaults, as the command
//! line does. Every refusal names the field at fault and what it should be.
//!
//! Two things are refused over HTTP that the command line takes: a GStreamer launch line (it
//! could run any element, writing files included, for whoever holds the token) and a reference
//! that is media rather than a `.wfr` (encoding it would hold the worker, and every other
//! stream on it, for as long as the reference lasts).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{load_cues, Pace, SourceSpec};
use crate::engine_metrics::EngineMetrics;
use crate::events::{StreamDescription, StreamRefusal};
use crate::flow::{FollowJob, StopSignal, StreamJob, SyncJob};

/// The fields a request may have.
const FIELDS: &str = "id, job, source, reference, cues, pace, max_lag_ms";
/// The longest id: ids appear in URLs and in every event.
const MAX_ID_CHARS: usize = 64;
/// The widest `max_lag_ms` (the command line's `--max-lag-ms` range).
const MAX_LAG_MS: u64 = 5000;

/// A stream's job and its first description, from a request.
pub(super) struct AddRequest {
    pub job: StreamJob,
    pub description: StreamDescription,
    pub stop: StopSignal,
}

/// A refusal of `field`; `problem` is said with what was `expected`, unless it says so itself
/// (the source's and the cue file's own errors do).
fn bad(field: &str, problem: impl Into<String>, expected: &str) -> StreamRefusal {
    let problem = problem.into();
    let problem = if problem.contains("expected") {
        problem
    } else {
        format!("{problem}; expected {expected}")
    };
    StreamRefusal::BadField {
        field: field.to_owned(),
        problem,
    }
}

/// The string in `field`, if present.
fn text<'a>(request: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, StreamRefusal> {
    match request.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(bad(field, format!("{other} is not a string"), "a string")),
    }
}

fn required<'a>(request: &'a Map<String, Value>, field: &str, expected: &str) -> Result<&'a str, StreamRefusal> {
    text(request, field)?.ok_or_else(|| bad(field, "missing", expected))
}

/// Reads `body` into a job whose events and progress go to `metrics`.
pub(super) fn read_request(body: &[u8], metrics: &Arc<EngineMetrics>) -> Result<AddRequest, StreamRefusal> {
    let value: Value = serde_json::from_slice(body).map_err(|e| StreamRefusal::NotJson(e.to_string()))?;
    let Value::Object(request) = value else {
        return Err(StreamRefusal::NotJson(format!("{value} is not an object")));
    };
    if let Some(unknown) = request.keys().find(|k| !FIELDS.split(", ").any(|f| f == k.as_str())) {
        return Err(bad(
            unknown,
            "not a field of a stream request",
            &format!("one of {FIELDS}"),
        ));
    }
    let id = required(&request, "id", "the stream's id")?;
    check_id(id)?;
    let job_kind = required(&request, "job", "\"sync\" or \"follow\"")?;
    let source_text = required(&request, "source", "a media file, a URI, 'webcam' or 'test'")?;
    let source = SourceSpec::from_str(source_text)
        .map_err(|e| bad("source", e.to_string(), "a media file, a URI, 'webcam' or 'test'"))?;
    if matches!(source, SourceSpec::LaunchLine(_)) {
        return Err(bad(
            "source",
            "a launch line is taken only on the command line",
            "a media file, a URI, 'webcam' or 'test'",
        ));
    }
    let pace = match text(&request, "pace")? {
        None => Pace::Realtime,
        Some(pace) => Pace::from_str(pace).map_err(|e| bad("pace", e.to_string(), "\"realtime\" or \"fast\""))?,
    };
    let stop = StopSignal::default();
    let mut description = StreamDescription::started(id, job_kind, source.display_name());
    let job = match job_kind {
        "sync" => {
            for field in ["reference", "cues"] {
                if request.contains_key(field) {
                    return Err(bad(
                        field,
                        "a sync stream has none",
                        "no such field for \"job\": \"sync\"",
                    ));
                }
            }
            StreamJob::Sync(Box::new(sync_job(&request, source, id, pace, &stop, metrics)?))
        }
        "follow" => {
            if request.contains_key("max_lag_ms") {
                return Err(bad(
                    "max_lag_ms",
                    "a follow stream has none",
                    "no such field for \"job\": \"follow\"",
                ));
            }
            let reference = PathBuf::from(required(
                &request,
                "reference",
                "a .wfr file made by 'warpflow encode-ref'",
            )?);
            description.reference = Some(reference.display().to_string());
            StreamJob::Follow(Box::new(follow_job(
                &request, reference, source, id, pace, &stop, metrics,
            )?))
        }
        other => return Err(bad("job", format!("'{other}' is not a job"), "\"sync\" or \"follow\"")),
    };
    Ok(AddRequest { job, description, stop })
}

/// Ids name streams in URLs and events: 1 to 64 letters, digits, `-`, `_` or `.`.
fn check_id(id: &str) -> Result<(), StreamRefusal> {
    let fits = !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fits {
        Ok(())
    } else {
        Err(bad(
            "id",
            format!("'{id}' does not fit"),
            "1 to 64 letters, digits, '-', '_' or '.'",
        ))
    }
}

fn sync_job(
    request: &Map<String, Value>,
    source: SourceSpec,
    id: &str,
    pace: Pace,
    stop: &StopSignal,
    metrics: &Arc<EngineMetrics>,
) -> Result<SyncJob, StreamRefusal> {
    let mut job = SyncJob::new(source, id);
    if let Some(value) = request.get("max_lag_ms") {
        let max_lag_ms = value
            .as_u64()
            .filter(|ms| (1..=MAX_LAG_MS).contains(ms))
            .ok_or_else(|| {
                bad(
                    "max_lag_ms",
                    format!("{value} is out of range"),
                    "a whole number from 1 to 5000",
                )
            })?;
        // As on the command line: flash-and-beep patterns repeat every second, so their search
        // stays within half that period however wide the region's is.
        job.lag.max_lag_ns = (max_lag_ms * 1_000_000).min(job.lag.max_lag_ns);
        job.region.max_lag_ns = max_lag_ms * 1_000_000;
    }
    Ok(SyncJob {
        pace,
        stop: stop.clone(),
        metrics: metrics.clone(),
        ..job
    })
}

fn follow_job(
    request: &Map<String, Value>,
    reference: PathBuf,
    source: SourceSpec,
    id: &str,
    pace: Pace,
    stop: &StopSignal,
    metrics: &Arc<EngineMetrics>,
) -> Result<FollowJob, StreamRefusal> {
    let expected = "a .wfr file made by 'warpflow encode-ref'";
    let is_wfr = reference.extension().is_some_and(|e| e.eq_ignore_ascii_case("wfr"));
    if !is_wfr {
        return Err(bad(
            "reference",
            format!("{} is not a .wfr file", reference.display()),
            expected,
        ));
    }
    let job = FollowJob::new(&reference, source, id).map_err(|e| bad("reference", e.to_string(), expected))?;
    let cues = match text(request, "cues")? {
        None => Vec::new(),
        Some(path) => {
            load_cues(Path::new(path)).map_err(|e| bad("cues", e.to_string(), "an SRT, WebVTT or JSON cue file"))?
        }
    };
    Ok(FollowJob {
        pace,
        cues,
        stop: stop.clone(),
        metrics: metrics.clone(),
        ..job
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::StreamState;

    fn refusal(body: &str) -> StreamRefusal {
        match read_request(body.as_bytes(), &Arc::default()) {
            Ok(_) => panic!("{body} was taken"),
            Err(refusal) => refusal,
        }
    }

    fn field_of(refusal: StreamRefusal) -> String {
        match refusal {
            StreamRefusal::BadField { field, .. } => field,
            other => panic!("{other:?} names no field"),
        }
    }

    #[test]
    fn a_sync_request_builds_the_librarys_job_with_its_options() {
        let body = br#"{"id": "cam1", "job": "sync", "source": "test", "pace": "fast", "max_lag_ms": 800}"#;
        let request = read_request(body, &Arc::default()).unwrap();
        let StreamJob::Sync(job) = request.job else {
            panic!("not a sync job")
        };
        assert_eq!(job.stream, "cam1");
        assert_eq!(job.pace, Pace::Fast);
        assert_eq!(job.region.max_lag_ns, 800_000_000);
        assert_eq!(job.emit_every_ns, SyncJob::DEFAULT_EMIT_EVERY_NS);
        assert_eq!(
            (request.description.job.as_str(), request.description.state),
            ("sync", StreamState::Running)
        );
    }

    #[test]
    fn each_bad_request_names_its_field() {
        assert!(matches!(refusal("not json"), StreamRefusal::NotJson(_)));
        assert!(matches!(refusal("[1]"), StreamRefusal::NotJson(_)));
        let cases = [
            (r#"{"job": "sync", "source": "test"}"#, "id"),
            (r#"{"id": "a b", "job": "sync", "source": "test"}"#, "id"),
            (r#"{"id": "x", "job": "dance", "source": "test"}"#, "job"),
            (r#"{"id": "x", "job": "sync"}"#, "source"),
            (r#"{"id": "x", "job": "sync", "source": 3}"#, "source"),
            (
                r#"{"id": "x", "job": "sync", "source": "videotestsrc ! fakesink"}"#,
                "source",
            ),
            (r#"{"id": "x", "job": "sync", "source": "/no/such/file.mp4"}"#, "source"),
            (
                r#"{"id": "x", "job": "sync", "source": "test", "max_lag_ms": 0}"#,
                "max_lag_ms",
            ),
            (
                r#"{"id": "x", "job": "sync", "source": "test", "max_lag_ms": 9000}"#,
                "max_lag_ms",
            ),
            (
                r#"{"id": "x", "job": "sync", "source": "test", "pace": "slow"}"#,
                "pace",
            ),
            (
                r#"{"id": "x", "job": "sync", "source": "test", "reference": "a.wfr"}"#,
                "reference",
            ),
            (
                r#"{"id": "x", "job": "sync", "source": "test", "colour": "red"}"#,
                "colour",
            ),
            (r#"{"id": "x", "job": "follow", "source": "test"}"#, "reference"),
            (
                r#"{"id": "x", "job": "follow", "source": "test", "reference": "song.wav"}"#,
                "reference",
            ),
            (
                r#"{"id": "x", "job": "follow", "source": "test", "reference": "/no/such.wfr"}"#,
                "reference",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(field_of(refusal(body)), field, "{body}");
        }
    }
}
