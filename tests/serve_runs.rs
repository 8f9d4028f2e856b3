//! `warpflow serve` with several runs: two `sync --publish` runs on test patterns made with
//! different offsets push their events to one server, whose feed client reads both streams
//! whole; a run that takes a stream name already published, or brings the wrong token, is
//! refused and says why.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use common::served::Served;

/// A `sync` run on the test pattern made with `av_offset_ms`, publishing as `stream`.
fn publishing_run(server: SocketAddr, stream: &str, av_offset_ms: i32, token: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args([
            "sync",
            "--live",
            &format!("test?duration_s=8&av_offset_ms={av_offset_ms}"),
        ])
        .args([
            "--stream",
            stream,
            "--publish",
            &format!("ws://{server}"),
            "--token",
            token,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the warpflow binary starts")
}

/// The run's end: its test source lasts 8 s.
fn finished(child: Child) -> Output {
    common::hang::ends_within(child, Duration::from_secs(120))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_publish_to_one_server_and_a_clashing_one_is_refused() {
    let server = Served::start(&["serve", "--bind", "127.0.0.1:0", "--token", "s3cret"]);
    let (mut feed, _) = tokio_tungstenite::connect_async(format!("ws://{}/events?token=s3cret", server.addr))
        .await
        .expect("the feed client connects");

    let a = publishing_run(server.addr, "a", 40, "s3cret");
    let b = publishing_run(server.addr, "b", -60, "s3cret");

    let mut events: Vec<Value> = Vec::new();
    let mut clash: Option<Child> = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while events.iter().filter(|e| e["type"] == "eos").count() < 2 {
        let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, feed.next()).await else {
            panic!("the feed stopped before both runs ended: {} events", events.len());
        };
        let Message::Text(text) = message else { continue };
        let event: Value = serde_json::from_str(text.as_str()).expect("JSON");
        if event["type"] == "heartbeat" {
            continue;
        }
        // Once stream a is on the feed, a second run takes its name.
        if event["stream"] == "a" && clash.is_none() {
            clash = Some(publishing_run(server.addr, "a", 0, "s3cret"));
        }
        events.push(event);
    }

    for (stream, made_ms) in [("a", 40.0), ("b", -60.0)] {
        let seqs: Vec<u64> = events
            .iter()
            .filter(|e| e["stream"] == stream)
            .filter_map(|e| e["seq"].as_u64())
            .collect();
        assert_eq!(
            seqs,
            (0..seqs.len() as u64).collect::<Vec<_>>(),
            "stream {stream}: every seq once, in order"
        );
        let offsets: Vec<f64> = events
            .iter()
            .filter(|e| e["stream"] == stream && e["type"] == "offset")
            .filter_map(|e| e["av_offset_ns"].as_i64())
            .map(|ns| ns as f64 / 1e6)
            .collect();
        let last = offsets.last().copied().unwrap_or(f64::NAN);
        assert!(offsets.len() >= 10, "stream {stream}: {} offsets", offsets.len());
        assert!(
            (last - made_ms).abs() < 34.0,
            "stream {stream}: made with {made_ms} ms, measured {last} ms"
        );
    }
    for run in [a, b] {
        let output = finished(run);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    let clash = finished(clash.expect("the clashing run was started"));
    let said = String::from_utf8_lossy(&clash.stderr);
    assert!(!clash.status.success(), "the clashing run is refused");
    assert!(
        said.contains("stream 'a' is published by another run; give each run its own --stream"),
        "{said}"
    );

    let wrong_token = finished(publishing_run(server.addr, "c", 0, "wrong"));
    let said = String::from_utf8_lossy(&wrong_token.stderr);
    assert!(
        !wrong_token.status.success(),
        "a publisher without the token is refused"
    );
    assert!(said.contains("the token was not accepted (401)"), "{said}");
}
