//! A run ends within 2 s of SIGTERM or SIGINT, with `eos` as its last event and its summary,
//! whatever its options: the largest batching waits, progress intervals, stall timeouts, search
//! bands and windows the command line accepts, a feed with a client, and a source that has
//! not answered yet.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longest a run may take to end after a signal.
const END_WITHIN: Duration = Duration::from_secs(2);

/// Starts `warpflow args`, waits until it has written an event (or `ready_after`, for a run
/// that cannot write one yet), sends `signal`, and checks how it ends.
fn ends_on_signal(signal: &str, args: &[&str], ready_after: Option<Duration>) {
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warpflow starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut written: Vec<String> = Vec::new();
    match ready_after {
        Some(wait) => std::thread::sleep(wait),
        None => written.push(lines.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("{args:?} wrote no event within 60 s")
        })),
    }
    let signalled = Instant::now();
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "the signal was sent");
    let status = loop {
        if let Some(status) = child.try_wait().expect("the run's status") {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("{args:?} still ran 10 s after SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = signalled.elapsed();
    written.extend(lines.iter());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    println!("{args:?}: SIG{signal} → exit {status} in {took:?}");
    assert!(
        took <= END_WITHIN,
        "{args:?} took {took:?} to end after SIG{signal}; stderr:\n{stderr}"
    );
    assert!(
        status.success(),
        "{args:?} ended with {status} after SIG{signal}; stderr:\n{stderr}"
    );
    let last: Value = written
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or(Value::Null);
    assert_eq!(
        last["type"],
        "eos",
        "{args:?}: the last event is eos: {:?}",
        written.last()
    );
    assert!(stderr.contains("summary:"), "{args:?} printed no summary:\n{stderr}");
}

#[test]
fn sync_ends_within_2_s_at_its_largest_waits_and_with_a_feed_client() {
    ends_on_signal(
        "TERM",
        &[
            "sync",
            "--live",
            "test?duration_s=600",
            "--max-batch-wait-ms",
            "1000",
            "--max-batch",
            "4096",
            "--progress-interval-s",
            "3600",
            "--stall-timeout-s",
            "3600",
            "--window-s",
            "60",
            "--emit-interval-ms",
            "1",
        ],
        None,
    );
    ends_on_signal(
        "INT",
        &[
            "sync",
            "--live",
            "test?duration_s=600",
            "--emit-interval-ms",
            "60000",
            "--serve",
            "127.0.0.1:0",
        ],
        Some(Duration::from_secs(3)),
    );
}

#[test]
fn a_run_whose_source_has_not_answered_yet_ends_within_2_s() {
    let port = common::rtsp::silent_server();
    let source = format!("rtspt://127.0.0.1:{port}/silent");
    ends_on_signal(
        "TERM",
        &["sync", "--live", &source, "--stall-timeout-s", "3600"],
        Some(Duration::from_secs(2)),
    );
}

#[test]
fn follow_and_locate_end_within_2_s_at_their_largest_searches() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let reference = folder.path().join("reference.wav");
    let melody = common::melody(120.0);
    let identity = common::TimeMap {
        points: vec![(0.0, 0.0), (120.0, 120.0)],
    };
    common::write_wav(
        &reference,
        22_050,
        &common::render(&melody, &identity, 22_050, 120.0, 0.0),
    );
    let reference = reference.to_str().expect("a UTF-8 path");
    ends_on_signal(
        "TERM",
        &[
            "follow",
            "--reference",
            reference,
            "--live",
            reference,
            "--band-frames",
            "30000",
            "--relocation-window-s",
            "60",
            "--lookahead-frames",
            "1000",
            "--max-batch-wait-ms",
            "1000",
        ],
        Some(Duration::from_secs(4)),
    );
    ends_on_signal(
        "TERM",
        &[
            "locate",
            "--reference",
            reference,
            "--live",
            reference,
            "--max-query-s",
            "600",
        ],
        Some(Duration::from_secs(4)),
    );
}
