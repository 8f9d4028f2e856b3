//! A `warpflow` process that serves a feed, found by the address it prints on standard error,
//! killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;

/// A running `warpflow` with a feed.
pub struct Served {
    child: Child,
    /// Where its feed listens.
    pub addr: SocketAddr,
}

impl Served {
    /// Starts `warpflow args…` (which must serve: `--serve` or `serve`), its standard output
    /// discarded, and waits until it says where it serves.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with(args, Stdio::null())
    }

    /// [`Served::start`] with standard output going to `stdout`.
    pub fn start_with(args: &[&str], stdout: Stdio) -> Self {
        Self::start_binary(env!("CARGO_BIN_EXE_warpflow"), args, stdout)
    }

    /// [`Served::start_with`] of another build of warpflow, at `binary` (a bench's
    /// before-and-after on one machine).
    pub fn start_binary(binary: &str, args: &[&str], stdout: Stdio) -> Self {
        let mut child = Command::new(binary)
            .args(args)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("the warpflow binary starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("warpflow: events at ws://")
                    .and_then(|rest| rest.strip_suffix("/events"))
                    .and_then(|addr| addr.parse().ok())
            })
            .expect("the run says where it serves");
        // Keep draining standard error so that the run never blocks on it.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, addr }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its standard output, when it was piped.
    pub fn stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Its piped standard output, line by line, read on a thread of its own.
    pub fn stdout_lines(&mut self) -> mpsc::Receiver<String> {
        let stdout = self.stdout().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        lines
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
