//! The WebSocket event feed with real clients: a `warpflow sync --serve` run read by
//! tokio-tungstenite clients (filters, resume from the replay buffer, the token), and the feed
//! served in-process to a fast and a slow client (the slow one is cut off, the fast one keeps
//! every event).

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use warpflow::events::{Event, EventBody};
use warpflow::serve::feed::{FeedServer, FeedSettings};

use common::http_get;
use common::served::Served;

/// A `warpflow sync --serve 127.0.0.1:0` run on the test pattern, with `extra` arguments.
fn served_sync(extra: &[&str]) -> Served {
    let mut args = vec!["sync", "--live", "test?duration_s=30", "--serve", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Served::start(&args)
}

/// The run's `/events` URL with `query`.
fn events_url(run: &Served, query: &str) -> String {
    format!("ws://{}/events{query}", run.addr)
}

/// Reads JSON messages until `count` events (not heartbeats) have come, or 30 s pass.
async fn read_events<S>(socket: &mut S, count: usize) -> Vec<Value>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while events.len() < count {
        let next = tokio::time::timeout_at(deadline, socket.next()).await;
        let Ok(Some(Ok(message))) = next else { break };
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if value["type"] != "heartbeat" {
                events.push(value);
            }
        }
    }
    events
}

#[tokio::test]
async fn clients_filter_resume_and_need_the_token() {
    let run = served_sync(&["--token", "s3cret"]);

    // Without the token: refused before the upgrade.
    let refused = tokio_tungstenite::connect_async(events_url(&run, "")).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.to_string().contains("401")),
        "no token: {refused:?}"
    );

    // With it in the query, only offsets when asked for.
    let (mut offsets, _) = tokio_tungstenite::connect_async(events_url(&run, "?type=offset&token=s3cret"))
        .await
        .expect("the token is accepted");
    let seen = read_events(&mut offsets, 3).await;
    assert_eq!(seen.len(), 3, "three offsets: {seen:?}");
    assert!(seen.iter().all(|e| e["type"] == "offset"), "{seen:?}");
    let last_seq = seen[2]["seq"].as_u64().expect("seq");
    offsets.close(None).await.expect("closed");

    // Resuming from an earlier seq, with the token as a bearer header: every event from there,
    // numbered without a gap.
    let mut request = events_url(&run, &format!("?from_seq={}", last_seq - 1))
        .into_client_request()
        .expect("a request");
    request
        .headers_mut()
        .insert("Authorization", "Bearer s3cret".parse().expect("a header"));
    let (mut resumed, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the bearer token is accepted");
    let replayed = read_events(&mut resumed, 6).await;
    let seqs: Vec<u64> = replayed.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, (last_seq - 1..last_seq + 5).collect::<Vec<_>>(), "{replayed:?}");

    // /healthz needs no token; /metrics does.
    let health = http_get(run.addr, "/healthz", None);
    assert!(health.starts_with("HTTP/1.1 200") && health.ends_with("ok"), "{health}");
    let refused = http_get(run.addr, "/metrics", None);
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let metrics = http_get(run.addr, "/metrics", Some("s3cret"));
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for needle in [
        "# TYPE warpflow_records_in_total counter",
        "warpflow_events_total{stream=\"live0\",type=\"offset\"}",
        "# TYPE warpflow_feed_clients gauge",
        "# TYPE warpflow_event_latency_seconds histogram",
        "# TYPE warpflow_encoder_batch_records histogram",
        "# TYPE warpflow_capture_queue_records gauge",
        "warpflow_capture_queue_records{stream=\"live0\",medium=\"video\"}",
    ] {
        assert!(metrics.contains(needle), "no {needle:?} in {metrics}");
    }
    // The engine's histograms have observations: offsets were estimated and their latency
    // measured, both encoders ran (the onset bands at the worker's shared encoder).
    for counted in [
        "warpflow_event_latency_seconds_count{stream=\"live0\",type=\"offset\"}",
        "warpflow_aligner_step_seconds_count{stream=\"live0\"}",
        "warpflow_encoder_batch_seconds_count{stream=\"shared\",stage=\"OnsetBands\"}",
        "warpflow_encoder_batch_records_count{stream=\"live0\",stage=\"PictureChange\"}",
    ] {
        let count: u64 = metrics
            .lines()
            .find_map(|line| line.strip_prefix(counted))
            .and_then(|rest| rest.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {counted} in {metrics}"));
        assert!(count > 0, "{counted} is {count}");
    }
}

/// A cue event of about 4 KiB, so that a client that stops reading fills its socket buffers
/// within seconds.
fn bulky_cue(seq: u64) -> Event {
    Event {
        v: 1,
        stream: "live0".into(),
        seq,
        body: EventBody::Cue {
            cue: format!("{seq}:{}", "x".repeat(4_096)),
            ref_ns: seq,
            live_ns: seq,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_cut_off_and_a_fast_one_keeps_every_event() {
    let settings = FeedSettings {
        client_queue_events: 256,
        ..FeedSettings::new("127.0.0.1:0".parse().expect("an address"), None)
    };
    let server = FeedServer::start(settings).expect("the feed starts");
    let hub = server.hub();
    let url = format!("ws://{}/events", server.local_addr());
    let (mut fast, _) = tokio_tungstenite::connect_async(&url).await.expect("fast connects");
    // The slow client reads a message every 10 ms (until it has been cut off, then all that is
    // left): its socket buffers fill, then its queue.
    let (slow, _) = tokio_tungstenite::connect_async(&url).await.expect("slow connects");
    let cut_off = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow_reader = {
        let cut_off = Arc::clone(&cut_off);
        tokio::spawn(async move {
            let (_, mut reader) = slow.split();
            let mut close_reason = None;
            while let Some(Ok(message)) = reader.next().await {
                if let Message::Close(Some(frame)) = message {
                    close_reason = Some((u16::from(frame.code), frame.reason.to_string()));
                }
                if !cut_off.load(std::sync::atomic::Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            close_reason
        })
    };
    while hub.clients() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // About 2500 events (10 MB) a second for 4 s: easy for a client that reads, far more than
    // the socket buffers and the queue of one that does not.
    const EVENTS: u64 = 10_000;
    let publisher = {
        let hub = Arc::clone(&hub);
        tokio::task::spawn_blocking(move || {
            for seq in 0..EVENTS {
                hub.publish(&bulky_cue(seq));
                if seq % 5 == 4 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        })
    };
    let received = read_events(&mut fast, EVENTS as usize).await;
    publisher.await.expect("published");
    let seqs: Vec<u64> = received.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let first_missing = (0..EVENTS)
        .zip(&seqs)
        .find(|(want, got)| want != *got)
        .map(|(want, _)| want);
    assert!(
        seqs.len() as u64 == EVENTS && first_missing.is_none(),
        "the fast client got {} of {EVENTS} events, first out of place: {first_missing:?}",
        seqs.len()
    );

    // The slow one was dropped by the feed while the fast one stays connected.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while hub.clients() > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hub.clients(), 1, "the slow client is cut off, the fast one is not");
    // Reading what its buffers still hold, the slow client comes to the close frame saying why.
    cut_off.store(true, std::sync::atomic::Ordering::Relaxed);
    let close_reason = tokio::time::timeout_at(deadline, slow_reader)
        .await
        .expect("the slow client's connection ends")
        .expect("the slow reader ran");
    let (code, reason) = close_reason.expect("a close frame telling the slow client why");
    assert_eq!(code, 1008);
    assert!(reason.starts_with("too slow"), "{reason}");
    println!("fast client: all {EVENTS} events; slow client closed: {code} {reason}");
    // The feed's own runtime is stopped outside this test's async context.
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .expect("the feed stops");
}

/// Reads until the connection ends; the events read and the close frame's code and reason.
async fn read_to_close<S>(socket: &mut S, within: Duration) -> (Vec<Value>, Option<(u16, String)>)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut events = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await {
        match message {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(text.as_str()).expect("JSON");
                if value["type"] != "heartbeat" {
                    events.push(value);
                }
            }
            Message::Close(frame) => {
                return (events, frame.map(|f| (u16::from(f.code), f.reason.to_string())));
            }
            _ => {}
        }
    }
    (events, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_told_why_and_every_client_hears_the_end_of_the_run() {
    let server = FeedServer::start(FeedSettings::new("127.0.0.1:0".parse().expect("an address"), None))
        .expect("the feed starts");
    let hub = server.hub();
    let url = format!("ws://{}/events", server.local_addr());
    let (mut reader, _) = tokio_tungstenite::connect_async(&url).await.expect("connects");
    let (mut stalled, _) = tokio_tungstenite::connect_async(&url).await.expect("connects");
    while hub.clients() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // 3000 bulky events (12 MB) fill the stalled client's socket buffers long before its queue
    // of 1024: the feed waits 5 s on a send, then cuts it off.
    const EVENTS: u64 = 3_000;
    let publisher = {
        let hub = Arc::clone(&hub);
        tokio::task::spawn_blocking(move || (0..EVENTS).for_each(|seq| hub.publish(&bulky_cue(seq))))
    };
    let (received, _) = tokio::join!(read_events(&mut reader, EVENTS as usize), publisher);
    assert_eq!(received.len() as u64, EVENTS, "the reading client gets every event");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while hub.clients() > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(hub.clients(), 1, "the stalled client is cut off");

    // Reading again, it finds the close frame behind what its buffers hold.
    let (held, stalled_close) = read_to_close(&mut stalled, Duration::from_secs(20)).await;
    let (code, reason) = stalled_close.expect("a close frame telling the stalled client why");
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.starts_with("too slow"), "{reason}");
    assert!((held.len() as u64) < EVENTS, "it was cut off before the end");

    // The run ends: the reading client gets the last events, then a normal close.
    hub.publish(&bulky_cue(EVENTS));
    let finished = tokio::task::spawn_blocking(move || server.finish(Duration::from_secs(1)));
    let (last, run_close) = read_to_close(&mut reader, Duration::from_secs(5)).await;
    finished.await.expect("the feed finishes");
    assert_eq!(last.len(), 1, "the last event before the close: {last:?}");
    assert_eq!(
        run_close.map(|(code, _)| code),
        Some(1000),
        "a normal close after the last event"
    );
    println!(
        "stalled client: {} events, then {code} {reason}; reading client: all {EVENTS}, then 1000",
        held.len()
    );
}

#[tokio::test]
async fn a_served_run_that_ends_closes_its_clients_normally_after_eos() {
    let run = Served::start(&["sync", "--live", "test?duration_s=4", "--serve", "127.0.0.1:0"]);
    let (mut client, _) = tokio_tungstenite::connect_async(events_url(&run, "?from_seq=0"))
        .await
        .expect("connects");
    let (events, close) = read_to_close(&mut client, Duration::from_secs(30)).await;
    assert_eq!(
        events.last().map(|e| e["type"].clone()),
        Some("eos".into()),
        "eos comes last"
    );
    assert_eq!(close.map(|(code, _)| code), Some(1000), "then a normal close");
}
