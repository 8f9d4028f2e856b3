//! Bounded waits for tests that drive runs and servers: a `warpflow` that does not end (after
//! Ctrl-C, or by itself), or a test that does not end at all, fails with the stacks of its threads
//! instead of holding the CI run until its own time limit cuts it off without a word.

use std::io::{Read, Write};
use std::process::{Child, Command, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The stacks of every thread of process `pid`, as gdb prints them (gdb is on the machines
/// this project's CI runs on); the reason when they cannot be had.
pub fn thread_stacks(pid: u32) -> String {
    let output = Command::new("timeout")
        .args([
            "60",
            "gdb",
            "-p",
            &pid.to_string(),
            "-batch",
            "-ex",
            "thread apply all bt",
        ])
        .output();
    match output {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout).into_owned(),
        Ok(output) => format!(
            "(gdb on {pid} ended with {}: {})",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => format!("(no gdb to show the stacks of {pid}: {error})"),
    }
}

/// Reads `pipe` to its end on a thread of its own; what was read before an error still counts.
fn read_in_background(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send(bytes);
    });
    receiver
}

fn bytes_of(pipe: Option<mpsc::Receiver<Vec<u8>>>, within: Duration) -> Vec<u8> {
    pipe.and_then(|r| r.recv_timeout(within).ok()).unwrap_or_default()
}

/// Waits at most `within` for `child` to end, and gives what `wait_with_output` would (the
/// outputs the test has not taken). One still running then fails the test with its threads'
/// stacks and its standard error so far (it is killed first).
pub fn ends_within(mut child: Child, within: Duration) -> Output {
    let pid = child.id();
    let stdout = child.stdout.take().map(read_in_background);
    let stderr = child.stderr.take().map(read_in_background);
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the run's status") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let Some(status) = status else {
        let stacks = thread_stacks(pid);
        let _ = child.kill();
        let _ = child.wait();
        let stderr = String::from_utf8_lossy(&bytes_of(stderr, Duration::from_secs(5))).into_owned();
        panic!("warpflow ({pid}) still ran after {within:?}; its stderr:\n{stderr}\nits threads:\n{stacks}")
    };
    Output {
        status,
        stdout: bytes_of(stdout, Duration::from_secs(10)),
        stderr: bytes_of(stderr, Duration::from_secs(10)),
    }
}

/// Sends `child` SIGINT (Ctrl-C) and gives [`ends_within`]'s account of its end.
pub fn interrupt_and_wait(child: Child, within: Duration) -> Output {
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    assert!(
        sent.is_ok_and(|s| s.success()),
        "could not send SIGINT to {}",
        child.id()
    );
    ends_within(child, within)
}

/// Aborts the test process, with the stacks of its threads and of its children on standard
/// error, if it is still alive `limit` after `Watchdog::arm` and the watchdog has not been
/// dropped. A test armed with one fails in bounded time whatever it waits on.
pub struct Watchdog {
    disarm: mpsc::Sender<()>,
}

impl Watchdog {
    pub fn arm(test: &'static str, limit: Duration) -> Self {
        let (disarm, disarmed) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if disarmed.recv_timeout(limit) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            let own = std::process::id();
            let mut report = format!("\n{test} still ran after {limit:?}; the stacks of its process ({own}):\n");
            report.push_str(&thread_stacks(own));
            let children = Command::new("pgrep")
                .args(["-P", &own.to_string()])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for child in children.split_whitespace().filter_map(|p| p.parse::<u32>().ok()) {
                report.push_str(&format!("\nchild {child}:\n{}", thread_stacks(child)));
            }
            // Straight to the file descriptor: the test harness's capture of `eprintln!` is
            // lost when the process aborts.
            let _ = std::io::stderr().write_all(report.as_bytes());
            std::process::abort();
        });
        Self { disarm }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.disarm.send(());
    }
}
