//! `avalign` in a `gst-launch-1.0` line on test sources and on a clip made at test time, loaded
//! from the built plugin through `GST_PLUGIN_PATH`; the `warpflow-event` messages are read from
//! `-m`'s output.

use std::path::PathBuf;
use std::process::Command;

/// The folder holding `libgstavalign.so`: the test binary's build folder.
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps")
        .to_path_buf();
    assert!(
        dir.join("libgstavalign.so").is_file(),
        "no libgstavalign.so in {}: build it first (cargo build -p gst-plugin-avalign; scripts/test.sh does)",
        dir.display()
    );
    dir
}

#[test]
fn gst_launch_runs_the_element_and_its_events_reach_the_bus() {
    let output = Command::new("gst-launch-1.0")
        .arg("-m")
        .args(
            "videotestsrc num-buffers=150 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 \
             ! avalign name=a mode=sync stream=launch ! fakesink \
             audiotestsrc num-buffers=250 wave=ticks samplesperbuffer=960 ! audio/x-raw,rate=48000 \
             ! a.audio_sink a.audio_src ! fakesink"
                .split_whitespace(),
        )
        .env("GST_PLUGIN_PATH", plugin_dir())
        .output()
        .expect("gst-launch-1.0 runs (gstreamer1.0-tools)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "gst-launch-1.0 failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // -m prints each element message as "Got message #N from element \"a\" (element): warpflow-event, …, type=(string)progress, …"
    let events: Vec<&str> = stdout.lines().filter(|l| l.contains("warpflow-event")).collect();
    let of_type = |kind: &str| {
        events
            .iter()
            .filter(|l| l.contains(&format!("type=(string){kind}")))
            .count()
    };
    assert!(of_type("progress") >= 3, "progress events on the bus: {events:?}");
    assert_eq!(of_type("eos"), 1, "one eos event: {events:?}");
    assert!(
        events.iter().all(|l| l.contains("stream=(string)launch")),
        "every event names the stream: {events:?}"
    );
}

/// Runs one of the workspace's test scripts (tests/python) with the venv's Python, where the
/// set-up installs torch.
fn python_script(script: &str, args: &[&std::path::Path]) {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/warpflow/venv"));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/python")
        .join(script);
    let output = Command::new(venv.join("bin/python"))
        .arg(path)
        .args(args)
        .output()
        .expect("the venv's python runs (./scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_element_measures_where_its_face_model_says_the_face_is() {
    let dir = tempfile::tempdir().expect("temporary folder");
    // A clip whose audio is 120 ms late, its "mouth" inside the test face model's box.
    python_script("make_models.py", &[dir.path()]);
    python_script("make_sync_media.py", &[dir.path(), std::path::Path::new("120")]);
    let line = format!(
        "filesrc location={} ! decodebin name=d d. ! queue ! videoconvert \
         ! avalign name=a mode=sync face-model={} ! fakesink \
         d. ! queue ! audioconvert ! audioresample ! a.audio_sink a.audio_src ! fakesink",
        dir.path().join("patch_picture.mp4").display(),
        dir.path().join("face_box.pt").display()
    );
    let output = Command::new("gst-launch-1.0")
        .arg("-m")
        .args(line.split_whitespace())
        .env("GST_PLUGIN_PATH", plugin_dir())
        .output()
        .expect("gst-launch-1.0 runs (gstreamer1.0-tools)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "gst-launch-1.0 failed: {stdout}");
    let last = stdout
        .lines()
        .rfind(|l| l.contains("warpflow-event") && l.contains("type=(string)offset"))
        .expect("offset events on the bus");
    assert!(last.contains("region=(double)< 0.4375, 0.5, 0.1875, 0.25 >"), "{last}");
    let raw_ns: f64 = last
        .split("raw_offset_ns=(gint64)")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("raw_offset_ns in the message");
    assert!((raw_ns / 1e6 - 120.0).abs() <= 1000.0 / 30.0, "{last}");
}
