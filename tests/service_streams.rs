//! `warpflow serve` as a long-running service: streams added and removed while it runs, through
//! `warpflow streams add|list|remove`, on real GStreamer test patterns. Each stream's events
//! are whole (gapless `seq` from 0 to its `eos`), a source that cannot be read ends its own
//! stream with an `error` event while the others go on, and bad requests are refused with the
//! status and the field at fault.

mod common;

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::served::Served;
use common::streams_client::{answer, refusal, streams};
use common::{http_get, melody_reference};

const TOKEN: &str = "s3cret";

/// The events of `stream` among `events`.
fn of<'a>(events: &'a [Value], stream: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["stream"] == stream).collect()
}

/// Reads events until `streams` have all ended.
fn events_until_ended(lines: &mpsc::Receiver<String>, events: &mut Vec<Value>, streams: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !streams.iter().all(|s| of(events, s).iter().any(|e| e["type"] == "eos")) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{streams:?} did not all end: {} events", events.len()));
        events.push(serde_json::from_str(&line).expect("JSON lines"));
    }
}

/// A file named like media (ending in `suffix`) that holds none.
fn not_media(suffix: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(suffix)
        .tempfile()
        .expect("a temporary file");
    std::fs::write(file.path(), "not a media file").expect("written");
    file
}

/// Stream `id`'s description in a `list` answer.
fn described<'a>(listed: &'a Value, id: &str) -> &'a Value {
    listed
        .as_array()
        .and_then(|all| all.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("{id} is not listed: {listed}"))
}

fn assert_whole(events: &[Value], stream: &str) {
    let mine = of(events, stream);
    let seqs: Vec<u64> = mine.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "{stream}'s seq");
    assert_eq!(
        mine.last().map(|e| &e["type"]),
        Some(&Value::from("eos")),
        "{stream} ends with eos"
    );
}

#[test]
fn streams_come_and_go_while_the_service_runs() {
    let mut served = Served::start_with(
        &["serve", "--bind", "127.0.0.1:0", "--token", TOKEN, "--workers", "2"],
        Stdio::piped(),
    );
    let lines = served.stdout_lines();
    let server = served.addr;
    let token = Some(TOKEN);

    let added = answer(&streams(
        server,
        token,
        &["add", "a", "--job", "sync", "--source", "test?av_offset_ms=40"],
    ));
    assert_eq!(
        (added["id"].as_str(), added["state"].as_str()),
        (Some("a"), Some("running"))
    );
    answer(&streams(
        server,
        token,
        &["add", "b", "--job", "sync", "--source", "test?av_offset_ms=-60"],
    ));
    let not_media = not_media(".mp4");
    let path = not_media.path().to_str().expect("a UTF-8 path");
    answer(&streams(
        server,
        token,
        &["add", "c", "--job", "sync", "--source", path],
    ));

    let clash = refusal(&streams(
        server,
        token,
        &["add", "a", "--job", "sync", "--source", "test"],
    ));
    assert!(clash.contains("409") && clash.contains("'a'"), "{clash}");
    let bad = refusal(&streams(
        server,
        token,
        &["add", "d", "--job", "sync", "--source", "test", "--max-lag-ms", "0"],
    ));
    assert!(bad.contains("400") && bad.contains("max_lag_ms"), "{bad}");
    let launch_line = refusal(&streams(
        server,
        token,
        &["add", "d", "--job", "sync", "--source", "videotestsrc ! fakesink"],
    ));
    assert!(
        launch_line.contains("400") && launch_line.contains("source"),
        "{launch_line}"
    );
    let no_token = refusal(&streams(server, None, &["list"]));
    assert!(no_token.contains("401"), "{no_token}");

    // The unreadable source ends its own stream; a and b run on.
    let mut events = Vec::new();
    events_until_ended(&lines, &mut events, &["c"]);
    let c = of(&events, "c");
    assert!(c
        .iter()
        .any(|e| e["type"] == "error" && e["reason"].as_str().is_some_and(|r| r.contains(path))));
    assert_whole(&events, "c");

    std::thread::sleep(Duration::from_secs(4));
    let listed = answer(&streams(server, token, &["list"]));
    let states: Vec<(&str, &str)> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| (s["id"].as_str().unwrap_or(""), s["state"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(states, [("a", "running"), ("b", "running"), ("c", "failed")]);
    assert!(
        listed[0]["watermark_ns"].as_u64().is_some_and(|w| w >= 1_000_000_000),
        "{listed}"
    );

    let removed = answer(&streams(server, token, &["remove", "a"]));
    assert_eq!(removed["state"], "ended", "{removed}");
    events_until_ended(&lines, &mut events, &["a"]);
    assert_whole(&events, "a");
    let offsets: Vec<f64> = of(&events, "a")
        .iter()
        .filter(|e| e["type"] == "offset")
        .filter_map(|e| e["av_offset_ns"].as_f64())
        .collect();
    let last_ms = offsets.last().copied().unwrap_or(f64::NAN) / 1e6;
    assert!((last_ms - 40.0).abs() < 10.0, "stream a reads {last_ms} ms");
    answer(&streams(server, token, &["remove", "c"]));
    let gone = refusal(&streams(server, token, &["remove", "a"]));
    assert!(gone.contains("404"), "{gone}");

    // A stream added after others left runs as well, beside b.
    answer(&streams(
        server,
        token,
        &["add", "a", "--job", "sync", "--source", "test?av_offset_ms=0"],
    ));
    std::thread::sleep(Duration::from_secs(3));
    for id in ["a", "b"] {
        assert_eq!(answer(&streams(server, token, &["remove", id]))["state"], "ended");
    }
    events_until_ended(&lines, &mut events, &["b"]);
    assert_whole(&events, "b");
    let listed = answer(&streams(server, token, &["list"]));
    assert_eq!(listed, Value::Array(Vec::new()));
}

#[test]
fn follow_streams_take_their_options_and_end_whole() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let wfr = melody_reference(dir.path(), 12.0);
    let reference = dir.path().join("reference.wav");

    let mut served = Served::start_with(&["serve", "--bind", "127.0.0.1:0"], Stdio::piped());
    let lines = served.stdout_lines();
    let (server, wav, wfr) = (
        served.addr,
        reference.to_str().expect("UTF-8"),
        wfr.to_str().expect("UTF-8"),
    );
    // `warpflow streams add ID --job follow` of the melody against its reference, with `extra`.
    let add_follow = |id: &str, extra: &[&str]| {
        let mut args = vec!["add", id, "--job", "follow", "--source", wav, "--reference", wfr];
        args.extend_from_slice(extra);
        streams(server, None, &args)
    };
    for (id, every) in [("one", "5"), ("two", "1")] {
        let extra = [
            "--pace",
            "fast",
            "--relocation-window-s",
            "0",
            "--emit-every-frames",
            every,
        ];
        let added = answer(&add_follow(id, &extra));
        assert_eq!(added["reference"].as_str(), Some(wfr));
    }
    let refused = refusal(&add_follow("three", &["--max-lag-ms", "200"]));
    assert!(refused.contains("400") && refused.contains("max_lag_ms"), "{refused}");
    // A join past the reference's end is the request's fault, told before anything runs.
    let refused = refusal(&add_follow("late", &["--join-at-s", "60"]));
    assert!(refused.contains("400") && refused.contains("join_at_s"), "{refused}");

    // A live test source, followed until it is removed; a file that is not media.
    answer(&streams(
        server,
        None,
        &["add", "live", "--job", "follow", "--source", "test", "--reference", wfr],
    ));
    let not_media = not_media(".wav");
    let path = not_media.path().to_str().expect("a UTF-8 path");
    answer(&streams(
        server,
        None,
        &["add", "broken", "--job", "follow", "--source", path, "--reference", wfr],
    ));

    let mut events = Vec::new();
    events_until_ended(&lines, &mut events, &["one", "two", "broken"]);
    let broken = of(&events, "broken");
    assert!(broken
        .iter()
        .any(|e| e["type"] == "error" && e["reason"].as_str().is_some_and(|r| r.contains(path))));
    assert!(broken.iter().any(|e| e["type"] == "progress" && e["stage"] == "failed"));
    assert_whole(&events, "broken");
    std::thread::sleep(Duration::from_secs(3));
    let listed = answer(&streams(server, None, &["list"]));
    let live = described(&listed, "live");
    assert_eq!(live["state"], "running", "{listed}");
    assert!(
        live["watermark_ns"].as_u64().is_some_and(|w| w >= 1_000_000_000),
        "{listed}"
    );
    let broken = described(&listed, "broken");
    assert_eq!(broken["state"], "failed", "{listed}");
    // One stream on its worker leaves the core nearly idle: its scan spends its whole budget.
    let metrics = http_get(server, "/metrics", None);
    assert!(
        metrics
            .lines()
            .any(|line| line == "warpflow_relocation_budget_share{stream=\"live\"} 1"),
        "{metrics}"
    );
    assert_eq!(answer(&streams(server, None, &["remove", "live"]))["state"], "ended");
    events_until_ended(&lines, &mut events, &["live"]);
    assert_whole(&events, "live");
    let live = of(&events, "live");
    assert!(live.iter().filter(|e| e["type"] == "position").count() > 100);
    assert!(live.iter().any(|e| e["type"] == "progress" && e["stage"] == "finished"));

    let provisional = |stream: &str| {
        of(&events, stream)
            .iter()
            .filter(|e| e["type"] == "position" && e["final"] == false)
            .count()
    };
    // 12 s of frames of 20 ms: every fifth for one, every one for two.
    assert!((560..=610).contains(&provisional("two")), "{}", provisional("two"));
    assert!((110..=125).contains(&provisional("one")), "{}", provisional("one"));
    // The service's streams share one dataflow; each gets the positions a run of its own gives.
    let positions = |events: &[&Value]| -> Vec<(Value, Value, Value)> {
        events
            .iter()
            .filter(|e| e["type"] == "position")
            .map(|e| (e["live_ns"].clone(), e["ref_ns"].clone(), e["final"].clone()))
            .collect()
    };
    let alone = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["follow", "--reference", wfr, "--live", wav, "--pace", "fast"])
        .args(["--relocation-window-s", "0"])
        .output()
        .expect("the warpflow binary runs");
    assert!(alone.status.success(), "{}", String::from_utf8_lossy(&alone.stderr));
    let alone: Vec<Value> = String::from_utf8_lossy(&alone.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON lines"))
        .collect();
    let alone = positions(&alone.iter().collect::<Vec<_>>());
    assert!(alone.len() > 1000, "{}", alone.len());
    assert_eq!(positions(&of(&events, "two")), alone);
    for id in ["one", "two"] {
        assert_whole(&events, id);
        assert_eq!(answer(&streams(server, None, &["remove", id]))["state"], "ended");
    }
}
