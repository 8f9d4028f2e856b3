//! Several streams in one run (`--live` given more than once, `--workers`, a `--streams`
//! file): each stream's events are whole and numbered on their own, each measures its own
//! offset or follows its own reference with its own cues, a stream that fails ends alone while
//! the others finish, and a camera that stalls on the same worker, or a source slow to stop,
//! does not stop the others' events.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::rtsp::{flash_and_beep_file, run_main_context, RtspServer};
use common::{event_lines, events, median, melody, render, warpflow, write_wav, Note, TimeMap};

/// The stream's events, checked to be numbered 0, 1, 2… and to end with `eos`.
fn whole_stream<'a>(events: &'a [Value], stream: &str) -> Vec<&'a Value> {
    let own: Vec<&Value> = events.iter().filter(|e| e["stream"] == stream).collect();
    let seqs: Vec<u64> = own.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(
        seqs,
        (0..own.len() as u64).collect::<Vec<_>>(),
        "stream {stream}: every seq once, in order"
    );
    assert_eq!(
        own.last().map(|e| e["type"].clone()),
        Some("eos".into()),
        "stream {stream} ends"
    );
    own
}

fn last_offset_ms(events: &[&Value]) -> f64 {
    events
        .iter()
        .rev()
        .find_map(|e| e["av_offset_ns"].as_i64())
        .map_or(f64::NAN, |ns| ns as f64 / 1e6)
}

#[test]
fn streams_of_one_run_are_measured_each_on_their_own() {
    let made_ms = [("left", 40.0), ("right", -120.0), ("centre", 200.0)];
    let mut args = vec![
        "sync".to_owned(),
        "--pace".into(),
        "fast".into(),
        "--workers".into(),
        "2".into(),
    ];
    for (name, offset_ms) in made_ms {
        args.extend([
            "--live".into(),
            format!("test?duration_s=8&av_offset_ms={offset_ms}"),
            "--stream".into(),
            name.into(),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = warpflow(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let events = events(&output);
    for (name, offset_ms) in made_ms {
        let own = whole_stream(&events, name);
        let measured = last_offset_ms(&own);
        println!("{name}: made with {offset_ms} ms, measured {measured:.1} ms");
        assert!(
            (measured - offset_ms).abs() < 1_000.0 / 30.0,
            "{name}: {measured} ms, made with {offset_ms}"
        );
        assert!(
            stderr.contains(&format!("s of {name}")),
            "a summary per stream: {stderr}"
        );
    }
}

#[test]
fn a_failing_stream_ends_alone() {
    // Nothing listens on port 1: the camera stream fails before any data.
    let output = warpflow(&[
        "sync",
        "--pace",
        "fast",
        "--live",
        "rtspt://127.0.0.1:1/nothing",
        "--stream",
        "camera",
        "--live",
        "test?duration_s=6&av_offset_ms=80",
        "--stream",
        "pattern",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the run reports the failed stream: {stderr}");
    assert!(
        stderr.contains("stream 'camera'"),
        "the message names the stream: {stderr}"
    );
    let events = events(&output);
    let pattern = whole_stream(&events, "pattern");
    let measured = last_offset_ms(&pattern);
    assert!(
        (measured - 80.0).abs() < 1_000.0 / 30.0,
        "the other stream went on: {measured} ms"
    );
}

/// A stream whose source takes seconds to stop fails while another follows on the same worker:
/// the other's events go on meanwhile, for the failed pipeline stops on a thread of its own.
/// Its audio comes in buffers of 8.2 s, each held 8 s in `identity` (the streaming thread
/// asleep, as a source stuck on a server that neither answers nor closes); its picture fails
/// 9 s in, while its first buffer is held, so that its pipeline cannot reach `Null` for 7 s. A
/// worker that waited for it (at most 5 s) held the other stream's progress that long.
#[test]
fn a_stream_whose_source_is_slow_to_stop_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let reference = common::melody_reference(dir.path(), 20.0);
    let slow = "audiotestsrc is-live=true samplesperbuffer=180810 ! audio/x-raw,rate=22050 ! \
                identity sleep-time=8000000 ! appsink name=audio \
                videotestsrc is-live=true ! identity error-after=270 ! fakesink";
    let mut child = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["follow", "--reference", &reference.to_string_lossy()])
        .args([
            "--pace",
            "realtime",
            "--relocation-window-s",
            "0",
            "--stall-timeout-s",
            "30",
        ])
        .args(["--live", slow, "--stream", "slow"])
        .args(["--live", "test?duration_s=20", "--stream", "steady"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the warpflow binary starts");
    let receiver = event_lines(&mut child);
    let mut seen: Vec<(Instant, Value)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(event) = receiver.recv_timeout(left) else { break };
        let ended = event["stream"] == "steady" && event["type"] == "eos";
        seen.push((Instant::now(), event));
        if ended {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.iter().any(|(_, e)| e["stream"] == "slow" && e["type"] == "error"),
        "the slow stream failed as its launch line says"
    );
    let steady: Vec<Instant> = seen
        .iter()
        .filter(|(_, e)| e["stream"] == "steady" && e["type"] == "progress" && e["stage"] == "aligning")
        .map(|(at, _)| *at)
        .collect();
    assert!(
        steady.len() >= 15,
        "the steady stream ran its 20 s: {} progress events",
        steady.len()
    );
    let longest_wait_s = steady
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).as_secs_f64())
        .fold(0.0, f64::max);
    println!("steady: the longest wait between progress events {longest_wait_s:.2} s");
    assert!(
        longest_wait_s < 3.0,
        "the steady stream waited {longest_wait_s:.1} s between progress events while the slow one stopped"
    );
}

/// The events of a run whose `camera` stream's server is taken down at the first event that
/// satisfies `stall_when`, read until `stream` ends (at most 90 s), and where in them the
/// camera was reported lost. Once the events seen satisfy `enough_when`, the run is asked to
/// end as Ctrl-C would, so that a live stream's length need not be guessed against the time
/// the camera takes to be lost on a loaded machine.
fn events_while_the_camera_stalls(
    mut child: Child,
    server: RtspServer,
    stream: &str,
    stall_when: impl Fn(&Value) -> bool,
    enough_when: impl Fn(&[Value]) -> bool,
) -> (Vec<Value>, usize) {
    let receiver = event_lines(&mut child);
    let mut seen: Vec<Value> = Vec::new();
    let mut server = Some(server);
    let mut asked_to_end = false;
    let deadline = Instant::now() + Duration::from_secs(90);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(event) = receiver.recv_timeout(left) else { break };
        if stall_when(&event) {
            if let Some(server) = server.take() {
                server.stop();
            }
        }
        let ended = event["stream"] == stream && event["type"] == "eos";
        seen.push(event);
        if ended {
            break;
        }
        if !asked_to_end && enough_when(&seen) {
            let signal = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            assert!(signal.is_ok_and(|s| s.success()), "could not send SIGINT");
            asked_to_end = true;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let lost_at = seen
        .iter()
        .position(|e| e["stream"] == "camera" && e["type"] == "lost")
        .unwrap_or_else(|| panic!("the camera was reported lost: {seen:?}"));
    (seen, lost_at)
}

/// The pattern's offsets that came after the camera was reported lost.
fn pattern_offsets_after_the_loss(seen: &[Value]) -> Vec<&Value> {
    let lost_at = seen
        .iter()
        .position(|e| e["stream"] == "camera" && e["type"] == "lost")
        .unwrap_or(seen.len());
    seen[lost_at..]
        .iter()
        .filter(|e| e["stream"] == "pattern" && e["type"] == "offset")
        .collect()
}

#[test]
fn a_stalled_camera_does_not_hold_back_a_stream_on_the_same_worker() {
    gst::init().expect("GStreamer initialises");
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = flash_and_beep_file(dir.path(), 60);
    run_main_context();
    let server = RtspServer::start(&file, 0);
    let child = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["sync", "--pace", "realtime", "--stall-timeout-s", "2"])
        .args([
            "--live",
            &format!("rtspt://127.0.0.1:{}/x", server.port),
            "--stream",
            "camera",
        ])
        // Long enough never to end on its own: the run is asked to end once the pattern has
        // gone on through the outage.
        .args(["--live", "test?duration_s=600&av_offset_ms=-40", "--stream", "pattern"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the warpflow binary starts");
    let (seen, _) = events_while_the_camera_stalls(
        child,
        server,
        "pattern",
        // The camera stalls once it has given an offset: its server goes away.
        |event| event["stream"] == "camera" && event["type"] == "offset",
        |seen| pattern_offsets_after_the_loss(seen).len() >= 12,
    );
    let pattern_after = pattern_offsets_after_the_loss(&seen);
    let measured = pattern_after
        .last()
        .and_then(|e| e["av_offset_ns"].as_i64())
        .map_or(f64::NAN, |ns| ns as f64 / 1e6);
    println!(
        "after the camera was lost: {} pattern offsets, the last {measured:.1} ms",
        pattern_after.len()
    );
    assert!(
        pattern_after.len() >= 10,
        "the pattern went on while the camera stalled: {pattern_after:?}"
    );
    assert!(
        (measured + 40.0).abs() < 1_000.0 / 30.0,
        "pattern: {measured} ms, made with -40"
    );
    assert_eq!(
        seen.last().map(|e| e["type"].clone()),
        Some("eos".into()),
        "the pattern ended when the run was asked to"
    );
}

#[test]
fn each_stream_of_a_streams_file_follows_its_own_reference_and_cues() {
    const RATE_HZ: u32 = 22_050;
    let dir = tempfile::tempdir().expect("temporary folder");
    let length_s = 16.0;
    // Two different pieces: the second has the first's notes in other pitches.
    let first = melody(length_s);
    let second: Vec<Note> = first
        .iter()
        .map(|note| Note {
            midi: 52 + (note.midi - 52 + 11) % 28,
            ..*note
        })
        .collect();
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (length_s, length_s)],
    };
    // stage-a plays 10% faster than its recording, stage-b 10% slower.
    let played = [("stage-a", &first, 1.1, 6.0), ("stage-b", &second, 0.9, 9.0)];
    let mut toml = String::new();
    for (id, notes, tempo, cue_s) in played {
        let map = TimeMap {
            points: vec![(0.0, 0.0), (length_s, length_s / tempo)],
        };
        write_wav(
            &dir.path().join(format!("{id}-reference.wav")),
            RATE_HZ,
            &render(notes, &identity, RATE_HZ, length_s, 0.0),
        );
        let live = dir.path().join(format!("{id}-live.wav"));
        write_wav(&live, RATE_HZ, &render(notes, &map, RATE_HZ, length_s / tempo, 0.01));
        std::fs::write(
            dir.path().join(format!("{id}.json")),
            format!(r#"[{{"id": "{id}-cue", "ref_s": {cue_s}}}]"#),
        )
        .expect("cues written");
        toml.push_str(&format!(
            "[[stream]]\nid = \"{id}\"\nsource = \"{}\"\nreference = \"{id}-reference.wav\"\ncues = \"{id}.json\"\n\n",
            live.display()
        ));
    }
    let file = dir.path().join("stages.toml");
    std::fs::write(&file, toml).expect("streams file written");

    let output = warpflow(&[
        "follow",
        "--streams",
        file.to_str().unwrap_or_default(),
        "--pace",
        "fast",
        "--workers",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let events = events(&output);
    for (id, _, tempo, cue_s) in played {
        let own = whole_stream(&events, id);
        let mut errors_s: Vec<f64> = own
            .iter()
            .filter(|e| e["type"] == "position" && e["final"] == false)
            .filter_map(|e| Some((e["live_ns"].as_f64()? / 1e9, e["ref_ns"].as_f64()? / 1e9)))
            .filter(|&(live_s, _)| live_s > 2.0)
            .map(|(live_s, ref_s)| (ref_s - live_s * tempo).abs())
            .collect();
        let median_error_s = median(&mut errors_s);
        let cues: Vec<(String, f64)> = own
            .iter()
            .filter(|e| e["type"] == "cue")
            .filter_map(|e| Some((e["cue"].as_str()?.to_owned(), e["live_ns"].as_f64()? / 1e9)))
            .collect();
        println!("{id}: median error {:.1} ms, cues {cues:?}", median_error_s * 1e3);
        assert!(
            median_error_s < 0.1,
            "{id} follows its own reference: {median_error_s} s"
        );
        assert_eq!(cues.len(), 1, "{id} announces its own cue once: {cues:?}");
        assert_eq!(cues[0].0, format!("{id}-cue"));
        assert!((cues[0].1 - cue_s / tempo).abs() < 0.3, "{id}: cue at {} s", cues[0].1);
    }
}

#[test]
fn a_stalled_camera_does_not_delay_the_positions_of_a_stream_on_the_same_worker() {
    const RATE_HZ: u32 = 22_050;
    gst::init().expect("GStreamer initialises");
    let dir = tempfile::tempdir().expect("temporary folder");
    let camera_file = flash_and_beep_file(dir.path(), 60);
    run_main_context();
    let server = RtspServer::start(&camera_file, 0);
    let length_s = 24.0;
    let notes = melody(length_s);
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (length_s, length_s)],
    };
    let piece = dir.path().join("piece.wav");
    write_wav(&piece, RATE_HZ, &render(&notes, &identity, RATE_HZ, length_s, 0.01));
    let streams = dir.path().join("streams.toml");
    std::fs::write(
        &streams,
        format!(
            "[[stream]]\nid = \"camera\"\nsource = \"rtspt://127.0.0.1:{}/x\"\nreference = \"{}\"\n\n\
             [[stream]]\nid = \"piece\"\nsource = \"{}\"\nreference = \"{}\"\n",
            server.port,
            camera_file.display(),
            piece.display(),
            piece.display()
        ),
    )
    .expect("streams file written");
    // One worker holds both streams: the camera's outage and rebuilds happen on the thread
    // that also drives the piece.
    let child = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args([
            "follow",
            "--pace",
            "realtime",
            "--stall-timeout-s",
            "1",
            "--workers",
            "1",
        ])
        .args(["--streams", streams.to_str().unwrap_or_default()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the warpflow binary starts");
    let (seen, lost_at) = events_while_the_camera_stalls(
        child,
        server,
        "piece",
        // Once the piece is 8 s in, the camera's server goes away for good.
        |event| event["stream"] == "piece" && event["live_ns"].as_u64().is_some_and(|ns| ns > 8_000_000_000),
        // The piece is a file: it ends on its own.
        |_| false,
    );
    let latencies_ms = |events: &[Value]| -> Vec<f64> {
        events
            .iter()
            .filter(|e| e["stream"] == "piece" && e["type"] == "position" && e["final"] == false)
            .filter_map(|e| e["latency_ns"].as_f64())
            .map(|ns| ns / 1e6)
            .collect()
    };
    let p99 = |mut values: Vec<f64>| -> (f64, usize) {
        values.sort_by(f64::total_cmp);
        let at = (values.len() * 99 / 100).min(values.len().saturating_sub(1));
        (values.get(at).copied().unwrap_or(f64::NAN), values.len())
    };
    let (before_ms, before_n) = p99(latencies_ms(&seen[..lost_at]));
    let (during_ms, during_n) = p99(latencies_ms(&seen[lost_at..]));
    let rebuilds = seen
        .iter()
        .filter(|e| e["stream"] == "camera" && e["type"] == "lost")
        .count();
    println!(
        "piece: position latency p99 {before_ms:.1} ms before the camera stalled ({before_n} positions), \
         {during_ms:.1} ms while it was lost and rebuilt {rebuilds} times ({during_n} positions)"
    );
    assert!(
        during_n > 200,
        "the piece went on while the camera was lost: {during_n} positions"
    );
    // A hold-back by the camera's outage would show as seconds (its stall timeout, its
    // rebuilds); the bound leaves room for a shared machine's noise.
    assert!(
        during_ms <= (3.0 * before_ms).max(150.0),
        "the camera's outage delayed the piece: p99 {during_ms:.1} ms, {before_ms:.1} ms before"
    );
}
