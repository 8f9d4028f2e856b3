//! `warpflow serve` over two processes on 127.0.0.1 as one timely cluster (`-n 2 -p {0,1}
//! --hostfile`): streams added and removed through either process are held by the process
//! whose worker their id hashes to, `GET /streams` on either lists them all, and every
//! stream's events arrive once, from its holder, numbered without gaps from 0 to its `eos`.
//! When one process leaves, the other goes on with its own streams and refuses, at once, the
//! streams the one that left would hold.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use warpflow::flow::worker_of;

use common::melody_reference;
use common::served::Served;
use common::streams_client::{answer, streams};

const THREADS: usize = 2;
const PROCESSES: usize = 2;

/// The process whose worker holds stream `id`.
fn holder(id: &str) -> usize {
    worker_of(id, THREADS * PROCESSES) / THREADS
}

/// The ids of a listing.
fn listed_ids(listed: &Value) -> Vec<String> {
    let mut ids: Vec<String> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[test]
fn streams_added_and_removed_on_either_process_arrive_once_from_their_holder() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let ports: Vec<u16> = (0..PROCESSES)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .map(|listener| listener.local_addr().expect("bound").port())
        .collect();
    let hostfile = dir.path().join("hosts.txt");
    std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", ports[0], ports[1])).expect("hostfile written");
    let hostfile = hostfile.to_str().expect("UTF-8").to_owned();
    let mut served: Vec<Served> = (0..PROCESSES)
        .map(|process| {
            let process = process.to_string();
            Served::start_with(
                &[
                    "serve",
                    "--bind",
                    "127.0.0.1:0",
                    "--workers",
                    &THREADS.to_string(),
                    "-n",
                    &PROCESSES.to_string(),
                    "-p",
                    &process,
                    "--hostfile",
                    &hostfile,
                ],
                Stdio::piped(),
            )
        })
        .collect();
    let lines: Vec<_> = served.iter_mut().map(Served::stdout_lines).collect();
    let servers: Vec<SocketAddr> = served.iter().map(|s| s.addr).collect();
    let wfr = melody_reference(dir.path(), 6.0);
    let wav = dir.path().join("reference.wav").to_str().expect("UTF-8").to_owned();
    let wfr = wfr.to_str().expect("UTF-8").to_owned();

    // Short streams end on their own; long ones are removed. Each is added through the
    // process after the one that holds it, so that every add crosses the cluster.
    let short: Vec<String> = (0..6).map(|i| format!("short{i}")).collect();
    let long: Vec<String> = (0..4).map(|i| format!("long{i}")).collect();
    let follow: Vec<String> = (0..2).map(|i| format!("follow{i}")).collect();
    let all: Vec<&String> = short.iter().chain(&long).chain(&follow).collect();
    let held_by: Vec<usize> = all.iter().map(|id| holder(id)).collect();
    assert!(
        (0..PROCESSES).all(|p| held_by.contains(&p)),
        "each process holds some of the streams: {held_by:?}"
    );
    let offsets_ms = [40, -80, 120, 0, 60, -20];
    for (i, id) in short.iter().enumerate() {
        let source = format!("test?duration_s=4&av_offset_ms={}", offsets_ms[i]);
        let via = servers[(holder(id) + 1) % PROCESSES];
        let added = answer(&streams(via, None, &["add", id, "--job", "sync", "--source", &source]));
        assert_eq!(added["id"].as_str(), Some(id.as_str()));
    }
    for id in &long {
        let via = servers[(holder(id) + 1) % PROCESSES];
        answer(&streams(
            via,
            None,
            &["add", id, "--job", "sync", "--source", "test?duration_s=600"],
        ));
    }
    for id in &follow {
        let via = servers[(holder(id) + 1) % PROCESSES];
        let args = [
            "add",
            id,
            "--job",
            "follow",
            "--source",
            &wav,
            "--reference",
            &wfr,
            "--pace",
            "fast",
        ];
        answer(&streams(via, None, &args));
    }
    let clash = streams(
        servers[holder(&long[0])],
        None,
        &["add", &long[0], "--job", "sync", "--source", "test"],
    );
    assert!(!clash.status.success());
    let said = String::from_utf8_lossy(&clash.stderr);
    assert!(
        said.contains("409"),
        "an id in use is refused wherever it is added: {said}"
    );

    let mut expected: Vec<String> = all.iter().map(|id| id.to_string()).collect();
    expected.sort();
    for server in &servers {
        let listed = answer(&streams(*server, None, &["list"]));
        assert_eq!(listed_ids(&listed), expected, "{server} lists every process's streams");
        for description in listed.as_array().expect("a list") {
            let id = description["id"].as_str().expect("an id");
            assert_eq!(
                description["process"].as_u64(),
                Some(holder(id) as u64),
                "{id}'s holder"
            );
        }
    }

    std::thread::sleep(Duration::from_secs(2));
    for id in &long {
        let via = servers[(holder(id) + 1) % PROCESSES];
        let removed = answer(&streams(via, None, &["remove", id]));
        assert_eq!(
            removed["state"].as_str(),
            Some("ended"),
            "{id} removed through the other process"
        );
    }

    // Every stream's events, from whichever process wrote them.
    let mut events: Vec<Vec<Value>> = vec![Vec::new(); PROCESSES];
    let ended =
        |events: &[Vec<Value>], id: &str| events.iter().flatten().any(|e| e["stream"] == id && e["type"] == "eos");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !all.iter().all(|id| ended(&events, id)) {
        assert!(Instant::now() < deadline, "not every stream ended");
        for (process, lines) in lines.iter().enumerate() {
            while let Ok(line) = lines.recv_timeout(Duration::from_millis(50)) {
                events[process].push(serde_json::from_str(&line).expect("pure JSON lines"));
            }
        }
    }
    for (id, holder) in all.iter().zip(&held_by) {
        let written: BTreeMap<usize, usize> = (0..PROCESSES)
            .map(|p| (p, events[p].iter().filter(|e| e["stream"] == id.as_str()).count()))
            .collect();
        assert!(
            written.iter().all(|(p, n)| (*n > 0) == (p == holder)),
            "{id}'s events come from its holder, process {holder}, alone: {written:?}"
        );
        let mine: Vec<&Value> = events[*holder].iter().filter(|e| e["stream"] == id.as_str()).collect();
        let seqs: Vec<u64> = mine.iter().filter_map(|e| e["seq"].as_u64()).collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "{id}'s seq");
        assert_eq!(mine.iter().filter(|e| e["type"] == "eos").count(), 1, "{id}: one eos");
        assert_eq!(
            mine.last().map(|e| &e["type"]),
            Some(&Value::from("eos")),
            "{id} ends with eos"
        );
    }
    for (i, id) in short.iter().enumerate() {
        let last = events[holder(id)]
            .iter()
            .rfind(|e| e["stream"] == id.as_str() && e["type"] == "offset")
            .unwrap_or_else(|| panic!("{id} has an offset"));
        let offset_ms = last["av_offset_ns"].as_f64().expect("a number") / 1e6;
        assert!(
            (offset_ms - f64::from(offsets_ms[i])).abs() < 1000.0 / 30.0,
            "{id}: {offset_ms:.1} ms against {} ms",
            offsets_ms[i]
        );
    }
    for id in &follow {
        let positions = events[holder(id)]
            .iter()
            .filter(|e| e["stream"] == id.as_str() && e["type"] == "position")
            .count();
        assert!(positions > 0, "{id} gave positions");
    }

    // Process 1 leaves: process 0 goes on, and refuses at once what process 1 would hold.
    let leaving = served.pop().expect("two processes");
    let pid = leaving.id().to_string();
    let interrupted = Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
    assert!(interrupted.success());
    let gone = Instant::now() + Duration::from_secs(20);
    // Exited once it is a zombie (its parent, this test, has not reaped it yet) or gone.
    let exited = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
    };
    while !exited() {
        assert!(Instant::now() < gone, "process 1 ended on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    }
    let away = (0..)
        .map(|i| format!("after{i}"))
        .find(|id| holder(id) == 1)
        .expect("an id held by 1");
    let started = Instant::now();
    let refused = streams(servers[0], None, &["add", &away, "--job", "sync", "--source", "test"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("502") && said.contains("left the cluster"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(5), "refused at once");
    let here = (0..)
        .map(|i| format!("after{i}"))
        .find(|id| holder(id) == 0)
        .expect("an id held by 0");
    answer(&streams(
        servers[0],
        None,
        &["add", &here, "--job", "sync", "--source", "test?duration_s=1"],
    ));
    drop(leaving);
}
