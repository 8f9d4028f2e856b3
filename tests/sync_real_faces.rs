//! `warpflow sync` on real recordings of people speaking to a camera (scripts/real_media.sh),
//! with their audio moved by known amounts, and on real pictures under sound that is not
//! theirs.
//!
//! A clip's own sync is unknown, so each reading is taken against the same clip unshifted, run
//! through the same chain: the difference must be the shift, within one video frame. That is
//! asserted on the real clip whose picture follows its sound well above chance (obama_speech,
//! 8.7 s: its in-step correlation stands five standard deviations above the same audio rotated
//! out of step). On the two psychopy clips it does not (7.8 s and 5.8 s of a face give a
//! correlation that chance reaches too), so their readings are coincidences that a shifted copy
//! may or may not repeat; the accuracy harness (`scripts/eval.sh sync`) reports them, and the
//! README says what a reading at confidence 0 is worth.

mod common;

use std::path::Path;

use common::real_media::{dubbed, duration_s, frame_period_s, frozen, recording, shifted, silenced, sound_starts_s};
use common::{events, of_type, warpflow};
use serde_json::Value;

/// The clips of people speaking, and the shifts applied to them.
const TALKING: [&str; 2] = ["jwpIntro.mp4", "testMovie.mp4"];
const SHIFTS_MS: [i64; 6] = [-500, -250, -120, 40, 200, 500];
/// A real talking head whose picture follows its sound above chance.
const FOLLOWING: &str = "obama_speech.mp4";
/// Its own sound comes about 960 ms after its picture, so its copies moved by +200 and +500 ms
/// lie beyond the default ±1 s search: it is read with ±1.5 s.
const FOLLOWING_SEARCH_MS: &str = "1500";

/// The offset events of `sync` on `clip`, read as fast as it decodes, with `extra` arguments.
fn offsets_with(clip: &Path, extra: &[&str]) -> Vec<Value> {
    let clip_arg = clip.to_string_lossy();
    let mut args = vec!["sync", "--live", &clip_arg, "--pace", "fast"];
    args.extend_from_slice(extra);
    let output = warpflow(&args);
    assert!(
        output.status.success(),
        "sync on {} failed: {}",
        clip.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    of_type(&events(&output), "offset").into_iter().cloned().collect()
}

/// The offset events of `sync` on `clip` at the defaults.
fn offsets(clip: &Path) -> Vec<Value> {
    offsets_with(clip, &[])
}

/// The run's reading: its last estimate (the region estimator's, from all of the clip).
fn reading_ms(events: &[Value], clip: &Path) -> f64 {
    let last = events
        .last()
        .unwrap_or_else(|| panic!("no offset estimate on {}", clip.display()));
    last["raw_offset_ns"].as_f64().unwrap_or(f64::NAN) / 1e6
}

#[test]
fn each_shift_of_a_real_talking_head_reads_within_one_frame() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let clip = recording(FOLLOWING);
    assert!(duration_s(&clip) >= 6.0, "{FOLLOWING} is shorter than 6 s");
    let search = ["--max-lag-ms", FOLLOWING_SEARCH_MS];
    let frame_ms = frame_period_s(&clip) * 1e3;
    let control = shifted(&clip, dir.path(), 0);
    let control_events = offsets_with(&control, &search);
    let zero_ms = reading_ms(&control_events, &control);
    // Every estimate says where in the picture the sound is made.
    for event in &control_events {
        let region: Vec<f64> = event["region"]
            .as_array()
            .unwrap_or_else(|| panic!("an estimate without its region: {event}"))
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        assert_eq!(region.len(), 4, "{event}");
        assert!(
            region.iter().all(|v| (0.0..=1.0).contains(v)) && region[0] + region[2] <= 1.0 + 1e-9,
            "{event}"
        );
    }
    for shift_ms in SHIFTS_MS {
        let copy = shifted(&clip, dir.path(), shift_ms);
        let read_ms = reading_ms(&offsets_with(&copy, &search), &copy) - zero_ms;
        assert!(
            (read_ms - shift_ms as f64).abs() <= frame_ms,
            "{FOLLOWING} with its audio moved {shift_ms} ms reads {read_ms:+.1} ms against the unmoved \
             copy (one frame is {frame_ms:.1} ms)"
        );
    }
}

#[test]
fn the_first_estimate_comes_within_one_window_of_the_speech() {
    let dir = tempfile::tempdir().expect("temporary folder");
    for name in TALKING {
        let clip = shifted(&recording(name), dir.path(), 0);
        let speech_s = sound_starts_s(&clip);
        let first = offsets(&clip)
            .first()
            .and_then(|e| e["live_ns"].as_f64())
            .expect("an estimate")
            / 1e9;
        // The default window is 4 s.
        assert!(
            first <= speech_s + 4.0,
            "{name}: speech from {speech_s:.2} s, first estimate at {first:.2} s"
        );
    }
}

#[test]
fn sound_that_is_not_the_picture_s_never_locks() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let d = dir.path();
    let (man, other_man, woman) = (
        recording("jwpIntro.mp4"),
        recording("testMovie.mp4"),
        recording("WolfgangLanger_Pexels.mp4"),
    );
    let song = recording("song.ogg");
    let cases = [
        (
            "another speech over a speaking face",
            dubbed(&man, &other_man, 0.0, &d.join("swap.mp4")),
        ),
        (
            "a man's speech over a woman's silent face",
            dubbed(&woman, &other_man, 0.0, &d.join("woman.mp4")),
        ),
        (
            "music over a face that does not sing",
            dubbed(&woman, &song, 30.0, &d.join("music.mp4")),
        ),
        ("a still picture with speech", frozen(&man, 1.0, &d.join("still.mp4"))),
        ("a speaking face in silence", silenced(&man, &d.join("silence.mp4"))),
    ];
    for (what, clip) in cases {
        let events = offsets(&clip);
        let sure = events
            .iter()
            .filter_map(|e| e["confidence"].as_f64())
            .fold(0.0, f64::max);
        assert!(
            events.iter().all(|e| e["locked"] == false),
            "{what}: a locked offset in {events:?}"
        );
        assert!(sure < 0.5, "{what}: confidence reached {sure:.2}");
    }
}
