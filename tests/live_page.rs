//! The live page in a real browser: headless Chromium (Debian's, driven by playwright-core
//! through `tests/browser/live_page.cjs`) opens `GET /` of a running `warpflow --serve`, and the
//! test fails unless the page connects, its plots receive points, and after its connection
//! drops it reconnects and resumes without missing an event. Screenshots are kept in
//! the target folder (`target/tmp/live_page/`) as the test's artifacts.
//!
//! `./scripts/setup.sh` installs Chromium and playwright-core; without them these tests fail
//! and say so.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::served::Served;
use common::{melody, render, write_wav, TimeMap};
use serde_json::Value;

const RATE_HZ: u32 = 22_050;

/// The status line and body of a plain HTTP GET (a picture's body is read lossily: only its
/// status line matters).
fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let reply = common::http_get(addr, path, None);
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

/// Where the screenshots go.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live_page");
    std::fs::create_dir_all(&dir).expect("artifact folder");
    dir
}

/// Runs `tests/browser/SCRIPT` in node with `args`, against the browser set-up installs.
fn browser_script(script: &str, args: &[&str]) -> std::process::Output {
    let modules = std::env::var_os("WARPFLOW_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/warpflow")))
        .expect("HOME or WARPFLOW_CACHE is set")
        .join("browser/node_modules");
    assert!(
        modules.join("playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Chromium and playwright-core: run ./scripts/setup.sh"
    );
    Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser").join(script))
        .args(args)
        .env("WARPFLOW_BROWSER_MODULES", &modules)
        .output()
        .expect("node runs (./scripts/setup.sh installs it)")
}

/// Opens `url` in headless Chromium until every one of `wanted` has data, saves `screenshot`
/// and returns what the page showed.
fn open_in_browser(url: &str, screenshot: &Path, wanted: &str) -> Value {
    let output = browser_script("live_page.cjs", &[url, &screenshot.to_string_lossy(), wanted, "60"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("page: {stdout}");
    println!("screenshot: {}", screenshot.display());
    assert!(
        output.status.success(),
        "the page did not show {wanted}: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: Value = serde_json::from_str(stdout.trim()).expect("the browser script prints one JSON line");
    assert!(
        shown["connections"].as_u64() >= Some(2),
        "the page reconnected: {shown}"
    );
    assert_eq!(shown["seq_gaps"], 0, "the page resumed without a gap: {shown}");
    shown
}

#[test]
fn the_page_of_a_sync_run_draws_the_offset_behind_its_token() {
    let run = Served::start(&[
        "sync",
        "--live",
        "test?duration_s=120&av_offset_ms=-122",
        "--token",
        "s3cret",
        "--serve",
        "127.0.0.1:0",
    ]);
    let (status, _) = http_get(run.addr, "/");
    assert!(status.contains(" 401 "), "GET / without the token: {status}");
    let (status, page) = http_get(run.addr, "/?token=s3cret");
    assert!(status.contains(" 200 "), "GET / with the token: {status}");
    assert!(
        page.contains("<title>warpflow live</title>"),
        "GET / serves the live page"
    );
    let (_, description) = http_get(run.addr, "/run?token=s3cret");
    assert_eq!(description, r#"{"command":"sync","cues":[]}"#);

    let url = format!("http://{}/?token=s3cret", run.addr);
    let shown = open_in_browser(&url, &artifacts().join("sync.png"), "offset,confidence");
    assert_eq!(shown["command"], "sync");
    assert!(shown["points"]["offset"].as_u64() > Some(0), "{shown}");
    assert_eq!(shown["errors"], serde_json::json!([]), "the page logged errors");
    // A sync run has no cues and no subtitles: neither the cue bar nor the switch shows.
    assert_eq!(shown["cue_bar_visible"], false, "{shown}");
    assert_eq!(shown["subtitle_switch_visible"], false, "{shown}");
    // The offset's line stays inside its chart, off the edges.
    let offset_ms = shown["last_offset_ms"].as_f64().expect("an offset was drawn");
    let range: Vec<f64> = serde_json::from_value(shown["ranges"]["offset"].clone()).expect("the offset chart's range");
    let from_bottom = (offset_ms - range[0]) / (range[1] - range[0]);
    assert!(
        (0.08..=0.92).contains(&from_bottom),
        "{offset_ms:.1} ms sits at {from_bottom:.2} of the chart's height {range:?}"
    );
}

#[test]
fn the_page_of_a_sync_run_on_a_talking_head_shows_its_picture_and_where_the_sound_is_made() {
    // A real clip of a man speaking, played five times over: long enough for the page to load,
    // lose its connection and come back while the run goes on.
    let dir = tempfile::tempdir().expect("temporary folder");
    let clip = common::real_media::looped(&common::real_media::recording("testMovie.mp4"), 5, dir.path());
    let run = Served::start(&["sync", "--live", &clip.to_string_lossy(), "--serve", "127.0.0.1:0"]);
    let url = format!("http://{}/", run.addr);
    let shown = open_in_browser(&url, &artifacts().join("sync_region.png"), "offset,picture");
    assert!(shown["pictures"].as_u64() >= Some(1), "{shown}");
    assert!(shown["regions"].as_u64() >= Some(1), "{shown}");
    assert_eq!(shown["errors"], serde_json::json!([]), "the page logged errors");
    let (status, _) = http_get(run.addr, "/picture?stream=live0");
    assert!(status.contains(" 200 "), "GET /picture: {status}");
    let (status, _) = http_get(run.addr, "/picture?stream=nobody");
    assert!(status.contains(" 404 "), "GET /picture of an unknown stream: {status}");
}

#[test]
fn the_page_of_a_follow_run_draws_the_path_and_shows_the_cue_in_force() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let total_ref_s = 40.0;
    let notes = melody(total_ref_s);
    let identity = TimeMap {
        points: vec![(0.0, 0.0), (total_ref_s, total_ref_s)],
    };
    // The live rendition is slower at first, then faster: the path bends.
    let warped = TimeMap {
        points: vec![(0.0, 0.0), (10.0, 12.0), (total_ref_s, 37.0)],
    };
    let reference = dir.path().join("reference.wav");
    let live = dir.path().join("live.wav");
    write_wav(
        &reference,
        RATE_HZ,
        &render(&notes, &identity, RATE_HZ, total_ref_s, 0.0),
    );
    write_wav(&live, RATE_HZ, &render(&notes, &warped, RATE_HZ, 37.0, 0.01));
    let cues = dir.path().join("cues.vtt");
    std::fs::write(
        &cues,
        "WEBVTT\n\n00:00:03.000 --> 00:00:06.000\nFirst line\n\n\
         00:00:09.000 --> 00:00:12.000\nSecond line\n\n00:00:20.000 --> 00:00:24.000\nThird line\n",
    )
    .expect("cue file written");
    let run = Served::start(&[
        "follow",
        "--reference",
        &reference.to_string_lossy(),
        "--live",
        &live.to_string_lossy(),
        "--pace",
        "realtime",
        "--cues",
        &cues.to_string_lossy(),
        "--serve",
        "127.0.0.1:0",
    ]);
    let (_, description) = http_get(run.addr, "/run");
    let description: Value = serde_json::from_str(&description).expect("/run is JSON");
    assert_eq!(description["cues"][1]["id"], "Second line");
    assert_eq!(description["cues"][1]["ref_ns"], 9_000_000_000u64);

    let url = format!("http://{}/", run.addr);
    let shown = open_in_browser(&url, &artifacts().join("follow.png"), "path,tempo,cue");
    assert_eq!(shown["command"], "follow");
    let cue = shown["cue"].as_str().unwrap_or_default();
    assert!(
        ["First line", "Second line", "Third line"].contains(&cue),
        "the cue box shows a cue of the file: {shown}"
    );
    assert_eq!(shown["errors"], serde_json::json!([]), "the page logged errors");
}

#[test]
fn the_page_of_a_service_lists_its_streams_as_they_come_and_go() {
    let service = Served::start(&["serve", "--bind", "127.0.0.1:0", "--token", "s3cret"]);
    let add = |id: &str, source: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_warpflow"))
            .args(["streams", "--server", &service.addr.to_string(), "--token", "s3cret"])
            .args(["add", id, "--job", "sync", "--source", source])
            .output()
            .expect("the warpflow binary runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    };
    add("hall", "test?av_offset_ms=40");
    add("stage", "test");
    let url = format!("http://{}/?token=s3cret", service.addr);
    let screenshot = artifacts().join("service.png");
    // Two cards; one stream removed, its card goes; one added, its card comes.
    let output = browser_script(
        "service_page.cjs",
        &[
            &url,
            &screenshot.to_string_lossy(),
            "expect:hall+stage,remove:hall,expect:stage",
            "30",
        ],
    );
    let shown = String::from_utf8_lossy(&output.stdout);
    println!("page: {shown}");
    assert!(output.status.success(), "the page did not follow the service: {shown}");
    add("foyer", "test");
    let output = browser_script(
        "service_page.cjs",
        &[&url, &screenshot.to_string_lossy(), "expect:foyer+stage", "30"],
    );
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the page did not list the new stream: {shown}");
}
