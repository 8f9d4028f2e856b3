//! Bad input gets exit code 2 and a message naming the culprit; nothing panics.

mod common;

use common::{gst_launch, warpflow};

/// Runs `args`, expects exit code 2 and a message containing every one of `needles`.
fn assert_refused(args: &[&str], needles: &[&str]) {
    let output = warpflow(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?} exited with {:?}: {stderr}",
        output.status.code()
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: message does not name '{needle}': {stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
}

#[test]
fn a_missing_file_is_named() {
    assert_refused(
        &["sync", "--live", "no/such/clip.mp4"],
        &["no/such/clip.mp4", "no such file"],
    );
    assert_refused(
        &["follow", "--reference", "no/such/ref.wav", "--live", "test"],
        &["no/such/ref.wav"],
    );
    assert_refused(
        &[
            "locate",
            "--reference",
            "Cargo.toml",
            "--reference",
            "no/such/b.ogg",
            "--live",
            "test",
        ],
        &["no/such/b.ogg"],
    );
}

#[test]
fn an_unknown_source_is_named() {
    assert_refused(
        &["sync", "--live", "ftp://host/clip.mp4"],
        &["ftp://host/clip.mp4", "unknown source"],
    );
    assert_refused(&["sync", "--live", "webcam:/dev/video99"], &["/dev/video99"]);
}

#[test]
fn an_unparsable_test_parameter_is_named() {
    assert_refused(&["sync", "--live", "test?av_offset_ms=soon"], &["av_offset_ms", "soon"]);
    assert_refused(&["sync", "--live", "test?fps=0"], &["fps"]);
    assert_refused(&["sync", "--live", "test?colour=red"], &["colour"]);
}

#[test]
fn a_file_without_audio_is_named() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let video_only = dir.path().join("video_only.ogg");
    gst_launch(&format!(
        "videotestsrc num-buffers=30 ! theoraenc ! oggmux ! filesink location={}",
        video_only.display()
    ));
    let path = video_only.to_str().unwrap_or_default();
    assert_refused(&["sync", "--live", path, "--pace", "fast"], &[path, "no audio"]);
    assert_refused(&["follow", "--reference", path, "--live", "test"], &[path, "no audio"]);
}

#[test]
fn an_undecodable_file_is_named() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let garbage = dir.path().join("garbage.mp3");
    let bytes: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&garbage, bytes).expect("file written");
    let path = garbage.to_str().unwrap_or_default();
    assert_refused(&["sync", "--live", path, "--pace", "fast"], &[path, "cannot be read"]);
}

#[test]
fn a_launch_line_without_the_needed_appsink_is_refused() {
    assert_refused(
        &["sync", "--live", "videotestsrc ! appsink name=video"],
        &["appsink named 'audio'"],
    );
}

#[test]
fn bad_options_are_named() {
    assert_refused(&["sync", "--live", "test", "--pace", "warp"], &["--pace", "warp"]);
    assert_refused(&["sync", "--live", "test", "--device", "tpu"], &["tpu"]);
    assert_refused(
        &[
            "follow",
            "--reference",
            "Cargo.toml",
            "--live",
            "test",
            "--audio-features",
            "mfcc",
        ],
        &["mfcc"],
    );
}

#[test]
fn transposition_without_chroma_is_refused() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let wav = dir.path().join("reference.wav");
    gst_launch(&format!(
        "audiotestsrc num-buffers=20 ! audioconvert ! wavenc ! filesink location={}",
        wav.display()
    ));
    let path = wav.to_str().expect("a UTF-8 path");
    assert_refused(
        &["follow", "--reference", path, "--live", path, "--transposition"],
        &["transposition", "chroma"],
    );
}
