//! `warpflow streams` against a running `warpflow serve`, as the service's tests call it.

use std::net::SocketAddr;
use std::process::{Command, Output};

use serde_json::Value;

/// `warpflow streams --server ADDR [--token TOKEN] ARGS…`.
pub fn streams(server: SocketAddr, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warpflow"));
    command.args(["streams", "--server", &server.to_string()]);
    if let Some(token) = token {
        command.args(["--token", token]);
    }
    command.args(args).output().expect("the warpflow binary runs")
}

/// The JSON a successful client call printed.
pub fn answer(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the client prints JSON")
}

/// What a refused client call said.
pub fn refusal(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "taken: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}
