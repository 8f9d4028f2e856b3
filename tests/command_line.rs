//! What a new user meets first on the command line: `-h` is help on every command, each
//! command's summary speaks of what it does (follow's tempo is where the run ended, not its
//! last frame's; locate says what it found), a failing run does not say it finished, and the
//! pretty view under `--pace fast` leaves out latencies that only measure read-ahead.

mod common;

use common::{events, warpflow, write_wav, TimeMap};

/// A two-minute melody as a WAV file in `folder`.
fn melody_wav(folder: &std::path::Path) -> std::path::PathBuf {
    let path = folder.join("melody.wav");
    let map = TimeMap {
        points: vec![(0.0, 0.0), (60.0, 60.0)],
    };
    write_wav(
        &path,
        22_050,
        &common::render(&common::melody(60.0), &map, 22_050, 60.0, 0.0),
    );
    path
}

#[test]
fn dash_h_is_help_on_every_command() {
    for command in ["sync", "follow", "locate", "encode-ref", "serve"] {
        let output = warpflow(&[command, "-h"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{command} -h: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains(&format!("Usage: warpflow {command}")),
            "{command} -h:\n{stdout}"
        );
    }
}

#[test]
fn summaries_speak_of_what_each_command_does() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let melody = melody_wav(folder.path());
    let melody = melody.to_str().expect("a UTF-8 path");

    let follow = warpflow(&["follow", "--reference", melody, "--live", melody, "--pace", "fast"]);
    let summary = String::from_utf8_lossy(&follow.stderr);
    assert!(follow.status.success(), "{summary}");
    assert!(summary.contains("tempo 1.00 (median of the last 10 s)"), "{summary}");
    assert!(summary.contains("in the reference's key"), "{summary}");
    assert!(!summary.contains("A/V offset"), "{summary}");

    let locate = warpflow(&["locate", "--reference", melody, "--live", melody, "--pace", "fast"]);
    let summary = String::from_utf8_lossy(&locate.stderr);
    assert!(locate.status.success(), "{summary}");
    assert!(summary.contains("matches, the closest in"), "{summary}");
    assert!(!summary.contains("A/V offset"), "{summary}");
}

#[test]
fn a_run_that_fails_does_not_say_it_finished() {
    // identity fails the video branch after 90 frames (3 s).
    let line = "audiotestsrc num-buffers=300 ! audioconvert ! audioresample ! appsink name=audio \
                videotestsrc num-buffers=300 ! video/x-raw,width=160,height=120,framerate=30/1 ! \
                identity error-after=90 ! videoconvert ! videoscale ! appsink name=video";
    let output = warpflow(&["sync", "--live", line, "--pace", "fast"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written = events(&output);
    let stages: Vec<&str> = written
        .iter()
        .filter(|e| e["type"] == "progress")
        .filter_map(|e| e["stage"].as_str())
        .collect();
    assert_eq!(stages.last(), Some(&"failed"), "{stages:?}");
    assert!(!stages.contains(&"finished"), "{stages:?}");
}

#[test]
fn the_pretty_view_under_pace_fast_leaves_out_latency() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let melody = melody_wav(folder.path());
    let melody = melody.to_str().expect("a UTF-8 path");
    let output = warpflow(&[
        "follow",
        "--reference",
        melody,
        "--live",
        melody,
        "--pace",
        "fast",
        "--format",
        "pretty",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("at reference"), "{stdout}");
    assert!(!stdout.contains("latency"), "{stdout}");
}

#[test]
fn the_design_lists_every_option_of_every_command() {
    let design =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/design.md")).expect("docs/design.md");
    let mut missing = Vec::new();
    for command in [
        "sync",
        "follow",
        "locate",
        "encode-ref",
        "serve",
        "streams",
        "streams add",
    ] {
        let words: Vec<&str> = command.split(' ').chain(["--help"]).collect();
        let help = String::from_utf8_lossy(&warpflow(&words).stdout).into_owned();
        // The options are the lines that start with one (after a short form, if any).
        let options = help
            .lines()
            .map(str::trim_start)
            .filter(|line| line.starts_with('-'))
            .filter_map(|line| line.split_whitespace().find(|word| word.starts_with("--")))
            .map(|word| word.trim_end_matches(','))
            .filter(|word| *word != "--help");
        for option in options {
            if !design.contains(&format!("`{option}")) {
                missing.push(format!("{command} {option}"));
            }
        }
    }
    assert!(missing.is_empty(), "docs/design.md does not list {missing:?}");
}

#[test]
fn the_pretty_view_reads_in_time_order() {
    let output = warpflow(&[
        "sync",
        "--live",
        "test?duration_s=6&av_offset_ms=40",
        "--format",
        "pretty",
        "--pace",
        "fast",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let times: Vec<f64> = stdout
        .lines()
        .filter_map(|line| line.trim_start().split(" s ").next()?.parse().ok())
        .collect();
    assert!(times.len() >= 8, "{stdout}");
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "the time column goes back:\n{stdout}"
    );
}
