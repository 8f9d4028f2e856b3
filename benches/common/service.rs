//! What the benchmarks of `warpflow serve` share: starting the service on a free port, its
//! client, a reference to follow, and reading a process's resident memory, open files and
//! threads from /proc. Builds on the integration tests' helpers (`tests/common`), which the
//! bench includes as `common`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

pub use crate::common::melody_reference as reference_wfr;
use crate::common::served::Served;

/// `warpflow streams --server ADDR ARGS…`; whether it succeeded.
pub fn client(server: &str, args: &[&str]) -> bool {
    Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["streams", "--server", server])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `warpflow streams --server ADDR list`: each stream's description.
pub fn list(server: &str) -> Vec<serde_json::Value> {
    let listed = Command::new(env!("CARGO_BIN_EXE_warpflow"))
        .args(["streams", "--server", server, "list"])
        .output()
        .map(|output| output.stdout)
        .unwrap_or_default();
    match serde_json::from_slice(&listed) {
        Ok(serde_json::Value::Array(streams)) => streams,
        _ => Vec::new(),
    }
}

/// VmRSS in MB, open file descriptors and threads of process `pid`.
pub fn usage(pid: u32) -> (f64, usize, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(f64::NAN);
    let count = |dir: &str| std::fs::read_dir(format!("/proc/{pid}/{dir}")).map_or(0, |d| d.count());
    (rss_kb / 1024.0, count("fd"), count("task"))
}

/// Starts `warpflow serve --bind 127.0.0.1:0` with `options`; its address and the process
/// (killed when dropped). Each event it writes on stdout goes to `on_event`. SERVICE_BENCH_BIN
/// runs another build of warpflow as the service (an earlier commit's, for a before-and-after
/// on one machine); the client is this build's.
pub fn start_service(
    options: &[&str],
    mut on_event: impl FnMut(serde_json::Value) + Send + 'static,
) -> (String, Served) {
    let mut args = vec!["serve", "--bind", "127.0.0.1:0"];
    args.extend_from_slice(options);
    let binary = std::env::var("SERVICE_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_warpflow").to_owned());
    let mut served = Served::start_binary(&binary, &args, Stdio::piped());
    let stdout = served.stdout().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) {
                on_event(event);
            }
        }
    });
    (served.addr.to_string(), served)
}
