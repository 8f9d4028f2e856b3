//! `warpflow locate`: a live snippet found in the right reference, at the right place, and
//! with `--transposition` in another key too; and the library's report of how far the
//! references are encoded before the run.

mod common;

use serde_json::Value;

use common::{events, melody, of_type, render, warpflow, write_wav, Note, TimeMap};

const RATE_HZ: u32 = 22_050;

fn identity(length_s: f64) -> TimeMap {
    TimeMap {
        points: vec![(0.0, 0.0), (length_s, length_s)],
    }
}

/// Another piece, 34 s long: the same kind of melody as `melody`'s, other notes.
fn other_piece() -> Vec<f32> {
    let notes: Vec<_> = melody(34.0)
        .into_iter()
        .skip(7)
        .map(|mut n| {
            n.midi = 52 + ((u32::from(n.midi) * 7 + 3) % 28) as u8;
            n
        })
        .collect();
    render(&notes, &identity(34.0), RATE_HZ, 34.0, 0.0)
}

/// The `match` events of `warpflow ARGS`, which must succeed, best first.
fn located(args: &[&str]) -> Vec<Value> {
    let output = warpflow(args);
    assert!(
        output.status.success(),
        "locate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    of_type(&events(&output), "match").into_iter().cloned().collect()
}

/// Where `found` starts in its reference, and where the snippet it matched starts in the
/// recording it was cut from at `cut_s`, in seconds.
fn starts_s(found: &Value, cut_s: f64) -> (f64, f64) {
    let seconds = |field: &str| found[field].as_f64().unwrap_or(f64::NAN) / 1e9;
    (seconds("ref_start_ns"), cut_s + seconds("live_start_ns"))
}

/// 6 s of `samples` from `start_s`, with some noise.
fn snippet_of(samples: &[f32], start_s: f64) -> Vec<f32> {
    let rate = f64::from(RATE_HZ);
    samples[(start_s * rate) as usize..((start_s + 6.0) * rate) as usize]
        .iter()
        .enumerate()
        .map(|(i, s)| s + 0.005 * (((i * 7919) % 1000) as f32 / 500.0 - 1.0))
        .collect()
}

#[test]
fn finds_a_snippet_in_the_right_reference_at_the_right_place() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let song = render(&melody(30.0), &identity(30.0), RATE_HZ, 30.0, 0.0);
    let other = other_piece();
    // The snippet: 6 s of the song from 17 s, with some noise.
    let start_s = 17.0;
    let snippet = snippet_of(&song, start_s);
    let (song_wav, other_wav, snippet_wav) = (
        dir.path().join("song.wav"),
        dir.path().join("other.wav"),
        dir.path().join("snippet.wav"),
    );
    write_wav(&song_wav, RATE_HZ, &song);
    write_wav(&other_wav, RATE_HZ, &other);
    write_wav(&snippet_wav, RATE_HZ, &snippet);

    let matches = located(&[
        "locate",
        "--reference",
        other_wav.to_str().unwrap_or_default(),
        "--reference",
        song_wav.to_str().unwrap_or_default(),
        "--live",
        snippet_wav.to_str().unwrap_or_default(),
        "--pace",
        "fast",
    ]);
    assert_eq!(matches.len(), 2, "one match per reference: {matches:?}");
    let best = &matches[0];
    assert_eq!(best["reference"], "song");
    let (found_s, truth_s) = starts_s(best, start_s);
    println!(
        "snippet found at {found_s:.3} s of the song (truth {truth_s:.3} s), cost {} vs {}",
        best["cost"], matches[1]["cost"]
    );
    assert!((found_s - truth_s).abs() < 0.1, "found at {found_s} s");
    assert!(best["cost"].as_f64() < matches[1]["cost"].as_f64());
}

#[test]
fn finds_a_snippet_played_in_another_key_and_tells_the_key() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let notes = melody(30.0);
    let song = render(&notes, &identity(30.0), RATE_HZ, 30.0, 0.0);
    // The same song two semitones lower.
    let lower: Vec<_> = notes.iter().map(|n| Note { midi: n.midi - 2, ..*n }).collect();
    let start_s = 11.0;
    let snippet = snippet_of(&render(&lower, &identity(30.0), RATE_HZ, 30.0, 0.0), start_s);
    let other = other_piece();
    let paths = ["song.wav", "other.wav", "snippet.wav"].map(|name| dir.path().join(name));
    for (path, samples) in paths.iter().zip([&song, &other, &snippet]) {
        write_wav(path, RATE_HZ, samples);
    }
    let [song_wav, other_wav, snippet_wav] = paths.map(|p| p.to_str().unwrap_or_default().to_owned());
    let matches = located(&[
        "locate",
        "--reference",
        &other_wav,
        "--reference",
        &song_wav,
        "--live",
        &snippet_wav,
        "--pace",
        "fast",
        "--audio-features",
        "semitone-flux",
        "--transposition",
    ]);
    let best = &matches[0];
    let (found_s, truth_s) = starts_s(best, start_s);
    println!(
        "found in {} at {found_s:.3} s (truth {truth_s:.3} s), {} semitones, cost {} vs {}",
        best["reference"], best["semitones"], best["cost"], matches[1]["cost"]
    );
    assert_eq!(best["reference"], "song");
    assert_eq!(best["semitones"], -2, "the snippet is two semitones below: {best}");
    assert!((found_s - truth_s).abs() < 0.1, "found at {found_s} s");
    // Features without a pitch layout cannot undo a key: the run says so.
    let refused = warpflow(&[
        "locate",
        "--reference",
        &song_wav,
        "--live",
        &snippet_wav,
        "--pace",
        "fast",
        "--audio-features",
        "logmel-flux",
        "--transposition",
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("--audio-features logmel-flux"), "{stderr}");
}

/// Keeps the events nowhere: the test looks at the references' progress only.
struct Discard;

impl warpflow::events::EventWriter for Discard {
    fn write_event(&mut self, _: &warpflow::events::Event) -> std::io::Result<()> {
        Ok(())
    }

    fn write_summary(&mut self, _: &warpflow::events::RunSummary) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_references_progress_is_reported_in_order_each_finished_once() {
    use std::sync::{Arc, Mutex};
    use warpflow::config::Pace;
    use warpflow::flow::{run_locate, LocateJob, ReferenceProgress};

    let dir = tempfile::tempdir().expect("temporary folder");
    let song = render(&melody(30.0), &identity(30.0), RATE_HZ, 30.0, 0.0);
    let (song_wav, other_wav, snippet_wav) = (
        dir.path().join("song.wav"),
        dir.path().join("other.wav"),
        dir.path().join("snippet.wav"),
    );
    write_wav(&song_wav, RATE_HZ, &song);
    write_wav(&other_wav, RATE_HZ, &other_piece());
    write_wav(&snippet_wav, RATE_HZ, &snippet_of(&song, 5.0));
    let steps = Arc::new(Mutex::new(Vec::new()));
    let heard = steps.clone();
    let live = snippet_wav.to_str().unwrap_or_default().parse().expect("a file source");
    let job = LocateJob {
        pace: Pace::Fast,
        reference_progress: Some(ReferenceProgress::new(move |step| {
            if let Ok(mut steps) = heard.lock() {
                steps.push((step.index, step.count, step.done_ns, step.finished));
            }
        })),
        ..LocateJob::new(vec![other_wav, song_wav], live, "live0")
    };
    run_locate(job, Box::new(Discard)).expect("the run");
    let steps = steps.lock().expect("the steps").clone();
    let finished: Vec<(usize, u64)> = steps.iter().filter(|s| s.3).map(|s| (s.0, s.2)).collect();
    assert_eq!(finished.len(), 2, "each reference finished once: {finished:?}");
    assert!(finished[0].0 == 0 && finished[1].0 == 1, "{finished:?}");
    assert!(
        (finished[0].1 as f64 / 1e9 - 34.0).abs() < 0.1 && (finished[1].1 as f64 / 1e9 - 30.0).abs() < 0.1,
        "the references' lengths: {finished:?}"
    );
    assert!(steps.iter().all(|s| s.1 == 2), "two references");
    let indices: Vec<usize> = steps.iter().map(|s| s.0).collect();
    assert!(indices.windows(2).all(|w| w[0] <= w[1]), "in order: {indices:?}");
    assert!(
        steps.iter().filter(|s| !s.3).count() >= 2,
        "reports while encoding: {}",
        steps.len()
    );
}
