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
    assert_refused(
        &["sync", "--live", "webcam:/dev/video0?mic=bluetooth"],
        &["webcam mic", "bluetooth", "alsa:DEVICE"],
    );
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
fn a_stream_without_a_decoder_is_named_apart_from_a_missing_one() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let clip = dir.path().join("h264.mkv");
    gst_launch(&format!(
        "videotestsrc num-buffers=30 ! openh264enc ! h264parse ! mux. \
         audiotestsrc num-buffers=30 ! audioconvert ! vorbisenc ! mux. \
         matroskamux name=mux ! filesink location={}",
        clip.display()
    ));
    let path = clip.to_str().unwrap_or_default();
    // This machine's H.264 decoders, ranked out of decodebin's reach as on one without them.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["sync", "--live", path, "--pace", "fast"])
        .env("GST_PLUGIN_FEATURE_RANK", "avdec_h264:NONE,openh264dec:NONE")
        .output()
        .expect("the warpflow binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(path) && stderr.contains("video stream has no decoder"),
        "{stderr}"
    );
}

#[test]
fn a_launch_line_without_the_needed_appsink_is_refused() {
    assert_refused(
        &["sync", "--live", "videotestsrc ! appsink name=video"],
        &["appsink named 'audio'"],
    );
}

#[test]
fn caps_the_encoders_cannot_use_are_explained() {
    assert_refused(
        &[
            "sync",
            "--live",
            "audiotestsrc num-buffers=100 ! audio/x-raw,format=S16LE,rate=8000,channels=2 ! appsink name=audio \
             videotestsrc num-buffers=30 ! appsink name=video",
        ],
        &[
            "cannot be converted",
            "audio F32LE mono 16000 Hz",
            "audioconvert ! audioresample",
        ],
    );
}

#[test]
fn corrupt_bytes_in_the_middle_of_a_file_are_reported_without_a_hang() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let clip = dir.path().join("clip.ogg");
    gst_launch(&format!(
        "videotestsrc num-buffers=300 ! video/x-raw,width=160,height=120,framerate=30/1 ! theoraenc ! queue ! mux. \
         audiotestsrc num-buffers=500 samplesperbuffer=960 ! audio/x-raw,rate=48000 ! vorbisenc ! queue ! mux. \
         oggmux name=mux ! filesink location={}",
        clip.display()
    ));
    let mut bytes = std::fs::read(&clip).expect("clip read");
    let start = bytes.len() / 3;
    for (i, byte) in bytes[start..start + 20_000].iter_mut().enumerate() {
        *byte = ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    let corrupt = dir.path().join("corrupt.ogg");
    std::fs::write(&corrupt, bytes).expect("corrupt clip written");
    let path = corrupt.to_str().unwrap_or_default();

    let started = std::time::Instant::now();
    let output = warpflow(&["sync", "--live", path, "--pace", "fast"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(started.elapsed().as_secs() < 60, "the run took {:?}", started.elapsed());
    assert!(!stderr.contains("panicked"), "{stderr}");
    match output.status.code() {
        // Decoded past the damage: the lost stretch is reported, and the run ends normally.
        Some(0) => {
            let events = common::events(&output);
            let discont = common::of_type(&events, "discont");
            assert!(!discont.is_empty(), "the damage was papered over: {events:?}");
            assert_eq!(events.last().map(|e| e["type"].clone()), Some("eos".into()));
        }
        Some(2) => assert!(stderr.contains(path), "{stderr}"),
        code => panic!("exit {code:?}: {stderr}"),
    }
}

#[test]
fn stream_names_and_pipeline_files_are_checked() {
    assert_refused(
        &[
            "sync", "--live", "test", "--live", "test", "--stream", "a", "--stream", "a",
        ],
        &["--stream is 'a'", "a name of its own for each stream"],
    );
    assert_refused(
        &["sync", "--live", "test", "--stream", "two\nlines"],
        &["--stream", "without line breaks"],
    );
    assert_refused(
        &[
            "locate",
            "--reference",
            "Cargo.toml",
            "--pipeline",
            "pipelines/two-cameras.toml",
        ],
        &["the number of streams is '2'", "one for this command"],
    );
    assert_refused(
        &["sync", "--pipeline", "no/such/pipeline.toml"],
        &["no/such/pipeline.toml", "cannot be read"],
    );
}

#[test]
fn a_bad_cue_file_is_refused_with_the_line_at_fault() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let cues = dir.path().join("cues.vtt");
    std::fs::write(
        &cues,
        "WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:0x.000 --> 00:03.000\nbad\n",
    )
    .expect("cues written");
    let path = cues.to_str().unwrap_or_default();
    assert_refused(
        &["follow", "--reference", "Cargo.toml", "--live", "test", "--cues", path],
        &[path, "line 6", "00:0x.000"],
    );
}

#[test]
fn bad_options_are_named() {
    assert_refused(&["sync", "--live", "test", "--pace", "warp"], &["--pace", "warp"]);
    assert_refused(&["sync", "--live", "test", "--device", "tpu"], &["tpu"]);
    // An empty token would let in anyone who sends an empty ?token=.
    assert_refused(
        &["sync", "--live", "test", "--serve", "127.0.0.1:0", "--token", ""],
        &["--token"],
    );
    assert_refused(&["serve", "--token", "two words"], &["--token"]);
    assert_refused(&["sync", "--live", "test", "--publish", "foo"], &["--publish", "ws://"]);
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
fn numbers_out_of_their_range_are_refused_naming_the_option() {
    let huge = "18446744073709551615";
    let follow = |option: &str, value: &str| {
        vec![
            "follow".to_owned(),
            "--reference".to_owned(),
            "Cargo.toml".to_owned(),
            "--live".to_owned(),
            "test".to_owned(),
            option.to_owned(),
            value.to_owned(),
        ]
    };
    let sync = |option: &str, value: &str| {
        vec![
            "sync".to_owned(),
            "--live".to_owned(),
            "test".to_owned(),
            option.to_owned(),
            value.to_owned(),
        ]
    };
    for args in [
        follow("--band-frames", huge),
        follow("--band-frames", "4294967296"),
        follow("--relocation-window-s", "1e15"),
        follow("--lookahead-frames", huge),
        follow("--emit-every-frames", "0"),
        follow("--video-weight", "1e30"),
        sync("--max-batch-wait-ms", huge),
        sync("--max-batch", "100000"),
        sync("--stall-timeout-s", "1e20"),
        sync("--max-lag-ms", huge),
        sync("--window-s", "inf"),
        sync("--progress-interval-s", "NaN"),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let option = args[args.len() - 2];
        assert_refused(&args, &[option]);
    }
}

#[test]
fn transposition_on_features_without_pitch_is_refused() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let wav = dir.path().join("reference.wav");
    gst_launch(&format!(
        "audiotestsrc num-buffers=20 ! audioconvert ! wavenc ! filesink location={}",
        wav.display()
    ));
    let path = wav.to_str().expect("a UTF-8 path");
    assert_refused(
        &[
            "follow",
            "--reference",
            path,
            "--live",
            path,
            "--audio-features",
            "logmel-flux",
            "--transposition",
        ],
        &["transposition", "chroma", "semitone-flux"],
    );
}

#[test]
fn a_capture_pinned_to_an_unknown_stream_or_process_is_refused() {
    assert_refused(
        &["sync", "--live", "test", "--stream", "desk", "--captured-by", "stage=0"],
        &["--captured-by", "stage"],
    );
    assert_refused(
        &["sync", "--live", "test", "--stream", "desk", "--captured-by", "desk=1"],
        &["--captured-by", "desk=1", "below -n"],
    );
    assert_refused(
        &["sync", "--live", "test", "--captured-by", "desk"],
        &["STREAM=PROCESS"],
    );
}

#[test]
fn a_server_that_takes_the_connection_and_never_answers_is_refused_after_the_stall_timeout() {
    let port = common::rtsp::silent_server();
    let source = format!("rtspt://127.0.0.1:{port}/silent");
    let started = std::time::Instant::now();
    assert_refused(
        &["sync", "--live", &source, "--stall-timeout-s", "1"],
        &[&format!("127.0.0.1:{port}"), "delivered nothing"],
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "refused after {:?}",
        started.elapsed()
    );
}

#[test]
fn a_camera_without_video_is_refused_naming_the_missing_medium() {
    gst::init().expect("GStreamer initialises");
    common::rtsp::run_main_context();
    let server = common::rtsp::RtspServer::serve(
        "( audiotestsrc is-live=true ! audioconvert ! opusenc ! rtpopuspay name=pay0 pt=97 )",
        0,
    );
    for scheme in ["rtspt", "rtspu"] {
        let source = format!("{scheme}://127.0.0.1:{}/x", server.port);
        assert_refused(&["sync", "--live", &source], &[&source, "has no video stream"]);
    }
}
