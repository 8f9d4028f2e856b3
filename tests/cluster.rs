//! Two `warpflow sync` processes on 127.0.0.1 as one timely cluster (`-n 2 -p {0,1} -h
//! HOSTFILE`) given the same four streams: each stream is captured and measured by exactly one
//! process, whose standard output carries its events as pure JSON lines, numbered without gaps
//! and right within a video frame. Two of the streams are pinned (`--captured-by`) to the
//! process that does not hold them: their media cross between the processes through the
//! exchange pact, and their events still come, complete and right, from the holder.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use warpflow::flow::worker_of;

const STREAMS: [(&str, f64); 4] = [("a", 40.0), ("b", -80.0), ("c", 120.0), ("d", 0.0)];
/// Streams captured by the process that does not hold them.
const PINNED: [&str; 2] = ["b", "c"];

#[test]
fn two_processes_share_four_streams_and_each_stream_arrives_once() {
    let dir = tempfile::tempdir().expect("temporary folder");
    // Two free ports on loopback, one per process.
    let ports: Vec<u16> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .map(|listener| listener.local_addr().expect("bound").port())
        .collect();
    let hostfile = dir.path().join("hosts.txt");
    std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", ports[0], ports[1])).expect("hostfile written");

    let mut args: Vec<String> = vec!["sync".into(), "--pace".into(), "fast".into()];
    for (name, offset_ms) in STREAMS {
        args.extend([
            "--live".into(),
            format!("test?duration_s=6&av_offset_ms={offset_ms}"),
            "--stream".into(),
            name.into(),
        ]);
    }
    for name in PINNED {
        let other = 1 - worker_of(name, 2);
        args.extend(["--captured-by".into(), format!("{name}={other}")]);
    }
    args.extend([
        "-n".into(),
        "2".into(),
        "--hostfile".into(),
        hostfile.to_string_lossy().into_owned(),
    ]);
    let processes: Vec<_> = (0..2)
        .map(|index| {
            Command::new(env!("CARGO_BIN_EXE_warpflow"))
                .args(&args)
                .args(["-p", &index.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the warpflow binary starts")
        })
        .collect();
    let outputs: Vec<_> = processes
        .into_iter()
        .map(|process| common::hang::ends_within(process, Duration::from_secs(300)))
        .collect();

    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    let mut events: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (index, output) in outputs.iter().enumerate() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "process {index}: {stderr}");
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("process {index} printed a line that is not an event ({e}): {line}"));
            let stream = event["stream"].as_str().unwrap_or_default().to_owned();
            let first_owner = *owner.entry(stream.clone()).or_insert(index);
            assert_eq!(first_owner, index, "stream {stream} came from both processes");
            events.entry(stream).or_default().push(event);
        }
    }
    assert_eq!(owner.len(), 4, "every stream arrived: {owner:?}");
    println!("streams by process: {owner:?}, captured by the other: {PINNED:?}");
    for (name, _) in STREAMS {
        assert_eq!(owner[name], worker_of(name, 2), "{name}: events from its holder");
    }
    for (name, offset_ms) in STREAMS {
        let own = events.get(name).unwrap_or_else(|| panic!("no events of stream {name}"));
        let seqs: Vec<u64> = own.iter().filter_map(|e| e["seq"].as_u64()).collect();
        assert_eq!(
            seqs,
            (0..own.len() as u64).collect::<Vec<_>>(),
            "stream {name}: every seq once"
        );
        assert_eq!(own.last().map(|e| e["type"].clone()), Some("eos".into()));
        // The capture's counters reach the holder too, wherever the capture ran.
        let frames_in = own
            .iter()
            .rev()
            .find_map(|e| e["frames_in"].as_u64())
            .unwrap_or_default();
        assert!(frames_in > 300, "{name}: {frames_in} records counted in");
        let measured = own
            .iter()
            .rev()
            .find_map(|e| e["av_offset_ns"].as_i64())
            .map_or(f64::NAN, |ns| ns as f64 / 1e6);
        assert!(
            (measured - offset_ms).abs() < 1_000.0 / 30.0,
            "{name}: made with {offset_ms} ms, measured {measured}"
        );
    }
}
