//! `--publish ws://HOST:PORT`: a run pushes its events to a `warpflow serve` elsewhere, beside
//! its usual output.
//!
//! The engine never waits on the network: events go into a bounded queue (the newest 10 000;
//! past that the oldest are dropped and counted), and a thread of their own sends them over
//! one WebSocket, reconnecting with growing delays (0.5 s to 10 s) when the server is away. A
//! server that refuses the run (a stream name another run uses, a wrong token) ends it: the
//! next write fails with the server's reason.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

use crate::events::{Event, EventWriter, RunSummary};

use super::{PublishError, Refusal, RunDescription};

/// Events held while the server is slow or away.
const QUEUE_EVENTS: usize = 10_000;
/// How long the end of a run waits for held events to leave.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// Shared by the run's writer and the sending thread.
struct Outbox {
    queue: ArrayQueue<String>,
    dropped: AtomicU64,
    closing: AtomicBool,
    refused: Mutex<Option<Refusal>>,
}

/// Writes each event to `inner` and queues it for the server at `url`.
pub struct FeedPublisher {
    inner: Box<dyn EventWriter + Send>,
    outbox: Arc<Outbox>,
    sender: Option<JoinHandle<()>>,
}

impl FeedPublisher {
    /// Starts sending to `url` (`ws://HOST:PORT`, the server's root; `/publish` is added),
    /// introducing the run as `run`, with `token` as a bearer token when given.
    pub fn start(
        inner: Box<dyn EventWriter + Send>,
        url: &str,
        token: Option<String>,
        run: &RunDescription,
    ) -> Result<Self, PublishError> {
        let endpoint = format!("{}/publish", url.trim_end_matches('/'));
        let mut request = endpoint
            .as_str()
            .into_client_request()
            .map_err(|source| PublishError::NotAnAddress {
                url: url.to_owned(),
                source,
            })?;
        if let Some(token) = &token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|source| PublishError::BadToken { source })?;
            request.headers_mut().insert("Authorization", value);
        }
        let mut hello = serde_json::to_value(run).map_err(|source| PublishError::Introduction { source })?;
        hello["type"] = "run".into();
        let outbox = Arc::new(Outbox {
            queue: ArrayQueue::new(QUEUE_EVENTS),
            dropped: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            refused: Mutex::new(None),
        });
        let shared = outbox.clone();
        let hello = hello.to_string();
        let sender = std::thread::Builder::new()
            .name("warpflow-publish".into())
            .spawn(move || send_until_closed(request, hello, &shared))
            .map_err(|source| PublishError::Thread { source })?;
        Ok(Self {
            inner,
            outbox,
            sender: Some(sender),
        })
    }

    /// The server's refusal, once it has refused the run, as the error the next write returns.
    fn refusal(&self) -> Option<io::Error> {
        let refusal = self.outbox.refused.lock().ok()?.clone()?;
        Some(io::Error::new(
            io::ErrorKind::PermissionDenied,
            PublishError::Refused { refusal },
        ))
    }
}

impl EventWriter for FeedPublisher {
    fn write_event(&mut self, event: &Event) -> io::Result<()> {
        if let Some(error) = self.refusal() {
            return Err(error);
        }
        if self.outbox.queue.force_push(event.to_json_line()).is_some() {
            self.outbox.dropped.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(sender) = &self.sender {
            sender.thread().unpark();
        }
        self.inner.write_event(event)
    }

    fn write_summary(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.inner.write_summary(summary)
    }
}

impl Drop for FeedPublisher {
    fn drop(&mut self) {
        self.outbox.closing.store(true, Ordering::Release);
        if let Some(sender) = self.sender.take() {
            sender.thread().unpark();
            let _ = sender.join();
        }
        let dropped = self.outbox.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!("--publish: {dropped} events were dropped while the server was away");
        }
    }
}

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

/// The sending thread: connect, introduce the run, send what is queued; again after a loss.
fn send_until_closed(request: tungstenite::handshake::client::Request, hello: String, outbox: &Outbox) {
    let mut retry = FIRST_RETRY;
    // An event taken from the queue whose send failed goes first after reconnecting.
    let mut unsent: Option<String> = None;
    let closing_since = || outbox.closing.load(Ordering::Acquire).then(Instant::now);
    let mut gave_up_at: Option<Instant> = None;
    loop {
        let closing = gave_up_at.or_else(closing_since);
        if closing.is_some_and(|since| since.elapsed() > FLUSH_TIMEOUT) {
            return;
        }
        gave_up_at = closing;
        let mut socket = match connect(&request, &hello) {
            Ok(socket) => socket,
            Err(Refused(reason)) => {
                if let Ok(mut refused) = outbox.refused.lock() {
                    *refused = Some(reason);
                }
                return;
            }
            Err(Unreachable(reason)) => {
                if closing.is_some() {
                    return;
                }
                tracing::warn!("--publish: {reason}; trying again in {:.1} s", retry.as_secs_f64());
                std::thread::park_timeout(retry);
                retry = (retry * 2).min(LAST_RETRY);
                continue;
            }
        };
        retry = FIRST_RETRY;
        match send_queued(&mut socket, outbox, &mut unsent) {
            Ok(()) => {
                let _ = socket.close(None);
                let _ = socket.flush();
                return;
            }
            Err(Refused(reason)) => {
                if let Ok(mut refused) = outbox.refused.lock() {
                    *refused = Some(reason);
                }
                return;
            }
            Err(Unreachable(reason)) => tracing::warn!("--publish: {reason}; reconnecting"),
        }
    }
}

enum SendFailure {
    /// The server said no; trying again would not help.
    Refused(Refusal),
    /// The server is away or the connection broke.
    Unreachable(String),
}
use SendFailure::{Refused, Unreachable};

fn connect(request: &tungstenite::handshake::client::Request, hello: &str) -> Result<Socket, SendFailure> {
    let (mut socket, _) = tungstenite::connect(request.clone()).map_err(|error| match &error {
        tungstenite::Error::Http(response) if response.status().as_u16() == 401 => Refused(Refusal::Token),
        _ => Unreachable(format!("cannot reach {}: {error}", request.uri())),
    })?;
    if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = socket.get_mut() {
        // Reads only look for a word from the server between events; a write that cannot
        // leave in 5 s means the server is gone.
        let timeouts = tcp
            .set_read_timeout(Some(Duration::from_millis(1)))
            .and_then(|()| tcp.set_write_timeout(Some(Duration::from_secs(5))));
        timeouts.map_err(|e| Unreachable(e.to_string()))?;
    }
    socket
        .send(Message::text(hello))
        .map_err(|e| Unreachable(e.to_string()))?;
    Ok(socket)
}

/// Sends queued events until the run closes and the queue is empty.
fn send_queued(socket: &mut Socket, outbox: &Outbox, unsent: &mut Option<String>) -> Result<(), SendFailure> {
    loop {
        let next = unsent.take().or_else(|| outbox.queue.pop());
        let Some(json) = next else {
            if outbox.closing.load(Ordering::Acquire) {
                return Ok(());
            }
            socket.flush().map_err(|e| broken(socket, e))?;
            // Between events, a look for what the server says: a refusal comes as a close frame.
            match socket.read() {
                Ok(Message::Close(frame)) => return Err(closed_by_server(frame)),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(error) => return Err(broken(socket, error)),
            }
            // The run's writer wakes the thread as soon as it queues an event.
            std::thread::park_timeout(Duration::from_millis(50));
            continue;
        };
        if let Err(error) = socket.write(Message::text(json.clone())) {
            *unsent = Some(json);
            return Err(broken(socket, error));
        }
        if outbox.queue.is_empty() {
            socket.flush().map_err(|e| broken(socket, e))?;
        }
    }
}

/// Why a send failed: the server's close frame when one is still to be read (a refusal), or
/// the error.
fn broken(socket: &mut Socket, error: tungstenite::Error) -> SendFailure {
    for _ in 0..16 {
        match socket.read() {
            Ok(Message::Close(frame)) => return closed_by_server(frame),
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    Unreachable(error.to_string())
}

/// A refusal when the server closed for a policy or bad data, a loss otherwise.
fn closed_by_server(frame: Option<tungstenite::protocol::CloseFrame>) -> SendFailure {
    match frame {
        Some(frame) if matches!(frame.code, CloseCode::Policy | CloseCode::Invalid) => Refused(Refusal::Closed {
            code: frame.code.into(),
            reason: frame.reason.to_string(),
        }),
        Some(frame) => Unreachable(format!("the server closed the connection: {}", frame.reason)),
        None => Unreachable("the server closed the connection".into()),
    }
}
