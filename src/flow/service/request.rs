//! A request to add a stream (`POST /streams`), read into the stream's job.
//!
//! The request is a JSON object: `id`, `job` (`sync` or `follow`), `source`, and for `follow`
//! a `reference` (a `.wfr` file); optional, as the command line's options of the same names
//! and ranges: `pace` (`realtime` or `fast`), `progress_interval_s`; for `sync` `max_lag_ms`,
//! `window_s`, `emit_interval_ms`; for `follow` `cues`, `relocation_window_s`, `join_at_s`,
//! `emit_every_frames`. Everything else starts from the library's defaults, as the command line
//! does. Every refusal names the field at fault and what it should be.
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
use crate::flow::{follow_frames_in, relocation_for_window_s, FollowJob, StopSignal, StreamJob, SyncJob};

/// The fields a request may have.
const FIELDS: &str = "id, job, source, reference, cues, pace, progress_interval_s, max_lag_ms, window_s, \
                      emit_interval_ms, relocation_window_s, join_at_s, emit_every_frames";
/// The fields only one job has.
const SYNC_FIELDS: [&str; 3] = ["max_lag_ms", "window_s", "emit_interval_ms"];
const FOLLOW_FIELDS: [&str; 5] = [
    "reference",
    "cues",
    "relocation_window_s",
    "join_at_s",
    "emit_every_frames",
];
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
    if let Some(unknown) = request
        .keys()
        .find(|k| !FIELDS.split(',').any(|f| f.trim() == k.as_str()))
    {
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
    let (not_for, fields) = match job_kind {
        "sync" => ("sync", FOLLOW_FIELDS.as_slice()),
        _ => ("follow", SYNC_FIELDS.as_slice()),
    };
    if let Some(field) = fields.iter().find(|f| request.contains_key(**f)) {
        return Err(bad(
            field,
            format!("a {not_for} stream has none"),
            &format!("no such field for \"job\": \"{not_for}\""),
        ));
    }
    let progress_every_ns = seconds(&request, "progress_interval_s", false, 3600.0)?;
    let job = match job_kind {
        "sync" => {
            let mut job = sync_job(&request, source, id, pace, &stop, metrics)?;
            if let Some(ns) = progress_every_ns {
                job.progress_every_ns = ns;
            }
            StreamJob::Sync(Box::new(job))
        }
        "follow" => {
            let reference = PathBuf::from(required(
                &request,
                "reference",
                "a .wfr file made by 'warpflow encode-ref'",
            )?);
            description.reference = Some(reference.display().to_string());
            let mut job = follow_job(&request, reference, source, id, pace, &stop, metrics)?;
            if let Some(ns) = progress_every_ns {
                job.progress_every_ns = ns;
            }
            StreamJob::Follow(Box::new(job))
        }
        other => return Err(bad("job", format!("'{other}' is not a job"), "\"sync\" or \"follow\"")),
    };
    Ok(AddRequest { job, description, stop })
}

/// The whole number in `field`, if present, within `range`.
fn whole(
    request: &Map<String, Value>,
    field: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, StreamRefusal> {
    let Some(value) = request.get(field) else {
        return Ok(None);
    };
    value.as_u64().filter(|n| range.contains(n)).map(Some).ok_or_else(|| {
        bad(
            field,
            format!("{value} is out of range"),
            &format!("a whole number from {} to {}", range.start(), range.end()),
        )
    })
}

/// The seconds in `field`, if present, in nanoseconds: above 0 (or from 0 where `zero_too`) and
/// at most `most`.
fn seconds(request: &Map<String, Value>, field: &str, zero_too: bool, most: f64) -> Result<Option<u64>, StreamRefusal> {
    let Some(value) = request.get(field) else {
        return Ok(None);
    };
    let fits = |s: f64| s.is_finite() && (s > 0.0 || (zero_too && s == 0.0)) && s <= most;
    let expected = format!("seconds, {} 0, at most {most}", if zero_too { "from" } else { "above" });
    value
        .as_f64()
        .filter(|&s| fits(s))
        .map(|s| Some((s * 1e9).round() as u64))
        .ok_or_else(|| bad(field, format!("{value} is out of range"), &expected))
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
    if let Some(max_lag_ms) = whole(request, "max_lag_ms", 1..=MAX_LAG_MS)? {
        // As on the command line: flash-and-beep patterns repeat every second, so their search
        // stays within half that period however wide the region's is.
        job.lag.max_lag_ns = (max_lag_ms * 1_000_000).min(job.lag.max_lag_ns);
        job.region.max_lag_ns = max_lag_ms * 1_000_000;
    }
    if let Some(window_ns) = seconds(request, "window_s", false, 60.0)? {
        job.lag.window_ns = window_ns;
    }
    if let Some(every_ms) = whole(request, "emit_interval_ms", 1..=60_000)? {
        job.emit_every_ns = every_ms * 1_000_000;
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
    let mut follower = job.follower.clone();
    if request.contains_key("relocation_window_s") {
        let window_ns = seconds(request, "relocation_window_s", true, 60.0)?.unwrap_or(0);
        follower.relocation = relocation_for_window_s(window_ns as f64 / 1e9);
    }
    if let Some(join_ns) = seconds(request, "join_at_s", true, 86_400.0)? {
        follower.join_at_ref_frame = Some(follow_frames_in(join_ns as f64 / 1e9));
    }
    let emit_every_frames =
        whole(request, "emit_every_frames", 1..=3000)?.map_or(job.emit_every_frames, |n| n as usize);
    let cues = match text(request, "cues")? {
        None => Vec::new(),
        Some(path) => {
            load_cues(Path::new(path)).map_err(|e| bad("cues", e.to_string(), "an SRT, WebVTT or JSON cue file"))?
        }
    };
    Ok(FollowJob {
        pace,
        cues,
        follower,
        emit_every_frames,
        stop: stop.clone(),
        metrics: metrics.clone(),
        ..job
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::RegionLagConfig;
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
        let body = br#"{"id": "cam1", "job": "sync", "source": "test", "pace": "fast", "max_lag_ms": 800,
                        "window_s": 2.5, "emit_interval_ms": 250, "progress_interval_s": 0.5}"#;
        let request = read_request(body, &Arc::default()).unwrap();
        let StreamJob::Sync(job) = request.job else {
            panic!("not a sync job")
        };
        assert_eq!(job.stream, "cam1");
        assert_eq!(job.pace, Pace::Fast);
        assert_eq!(job.region.max_lag_ns, 800_000_000);
        assert_eq!(job.lag.window_ns, 2_500_000_000);
        assert_eq!(job.emit_every_ns, 250_000_000);
        assert_eq!(job.progress_every_ns, 500_000_000);
        let plain = read_request(br#"{"id": "c", "job": "sync", "source": "test"}"#, &Arc::default()).unwrap();
        let StreamJob::Sync(plain) = plain.job else {
            panic!("not a sync job")
        };
        assert_eq!(plain.emit_every_ns, SyncJob::DEFAULT_EMIT_EVERY_NS);
        assert_eq!(plain.region, RegionLagConfig::default());
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
                r#"{"id": "x", "job": "sync", "source": "test", "window_s": 0}"#,
                "window_s",
            ),
            (
                r#"{"id": "x", "job": "sync", "source": "test", "emit_interval_ms": 0.5}"#,
                "emit_interval_ms",
            ),
            (
                r#"{"id": "x", "job": "sync", "source": "test", "progress_interval_s": -1}"#,
                "progress_interval_s",
            ),
            (
                r#"{"id": "x", "job": "sync", "source": "test", "emit_every_frames": 2}"#,
                "emit_every_frames",
            ),
            (
                r#"{"id": "x", "job": "sync", "source": "test", "join_at_s": 30}"#,
                "join_at_s",
            ),
            (
                r#"{"id": "x", "job": "follow", "source": "test", "reference": "a.wfr", "window_s": 2}"#,
                "window_s",
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
