//! `avalign` in a `gst-launch-1.0` line on test sources, loaded from the built plugin through
//! `GST_PLUGIN_PATH`; the `warpflow-event` messages are read from `-m`'s output.

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
