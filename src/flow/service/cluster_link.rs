//! The service's messages between the processes of a cluster, over timely's cluster
//! communication.
//!
//! Each process runs one timely worker of a cluster whose only dataflow is an input of
//! [`Envelope`]s and an exchange pact that delivers each to the process it is addressed to. A
//! request (add, remove, list) travels to the process that holds the stream; that process
//! answers it with its own service, on a thread of its own so that a stream being built does
//! not hold the link, and the answer travels back under the request's ticket.
//!
//! Nothing here waits on timely's frontier: the input's epoch moves on only to push what was
//! sent, and the exchange delivers each envelope whenever the receiving worker steps. So a process that leaves the cluster
//! leaves no frontier behind for the others to wait on; requests to it go unanswered and
//! their callers give up after their own deadline.
//!
//! This module owns the link and its wire format; which process holds which stream, and what
//! a request does there, belong to `clustered`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::Hooks;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::Input;
use timely::worker::Worker;

use crate::events::{StreamControl, StreamDescription, StreamRefusal};
use crate::flow::{ClusterPart, FlowError};

/// How long the link's worker sleeps when nothing arrives: the delay a request adds on each
/// hop at most.
const LINK_PARK: Duration = Duration::from_millis(2);
/// How long `finish` waits for the link's worker to leave. Its thread is then left to end with
/// the process: timely's connection threads end only once every other process has left too.
const LEAVE_WAIT: Duration = Duration::from_secs(2);
/// How often a process that is not up yet is tried again.
const CONNECT_RETRY: Duration = Duration::from_millis(200);
/// How long a process that took a connection may take to greet back.
const GREETING_WAIT: Duration = Duration::from_secs(30);

/// A message between two processes' services.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Envelope {
    /// The process it is for.
    to: usize,
    /// The process it is from, which the answer goes back to.
    from: usize,
    /// The sender's number for the request, which its answer carries back.
    ticket: u64,
    body: Body,
}

/// What an envelope carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Body {
    /// `POST /streams` with this body.
    Add(Vec<u8>),
    /// `DELETE /streams/{id}`.
    Remove(String),
    /// `GET /streams`: the streams the receiving process holds.
    List,
    /// The answer to a request: JSON of `Result<Vec<StreamDescription>, StreamRefusal>`
    /// (JSON, not the link's own encoding, because descriptions leave out empty fields).
    Answer(String),
    /// The sender is leaving the cluster, and so must every other process: timely's
    /// connections cannot lose a process and go on.
    Leaving,
}

/// A request to another process, as the local service makes it.
pub(super) enum Request {
    /// Add the stream this request body describes.
    Add(Vec<u8>),
    /// Remove the stream with this id.
    Remove(String),
    /// List the streams held there.
    List,
}

type Answer = Result<Vec<StreamDescription>, StreamRefusal>;

/// Requests in flight, by ticket: where each answer goes.
#[derive(Default)]
struct Pending {
    next_ticket: AtomicU64,
    waiting: Mutex<HashMap<u64, Sender<Answer>>>,
}

impl Pending {
    fn open(&self) -> (u64, Receiver<Answer>) {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = mpsc::channel();
        lock(&self.waiting).insert(ticket, answer);
        (ticket, answered)
    }

    fn close(&self, ticket: u64) -> Option<Sender<Answer>> {
        lock(&self.waiting).remove(&ticket)
    }

    /// Every request in flight is given up: its asker hears so at once.
    fn close_all(&self) {
        lock(&self.waiting).clear();
    }
}

/// Why the link no longer carries requests, once it does not.
#[derive(Default)]
struct Closed(Mutex<Option<String>>);

impl Closed {
    fn reason(&self) -> Option<String> {
        lock(&self.0).clone()
    }

    /// Keeps the first reason given.
    fn close(&self, reason: String) {
        lock(&self.0).get_or_insert(reason);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// This process's end of the cluster's link.
pub(super) struct ClusterLink {
    process: usize,
    outgoing: Mutex<Sender<Envelope>>,
    pending: Arc<Pending>,
    stop: Arc<AtomicBool>,
    closed: Arc<Closed>,
    /// Disconnected once the link has left the cluster and its connections have closed.
    left: Mutex<Receiver<()>>,
}

impl ClusterLink {
    /// Joins the cluster `part` describes, in the background (connecting to the other
    /// processes until they are all up); requests that come for this process are answered by
    /// `local`.
    pub(super) fn start(part: ClusterPart, local: Arc<dyn StreamControl>) -> Result<Self, FlowError> {
        let (process, threads) = (part.process, part.threads);
        let (outgoing, to_send) = mpsc::channel::<Envelope>();
        let pending = Arc::new(Pending::default());
        let stop = Arc::new(AtomicBool::new(false));
        let to_send = Arc::new(Mutex::new(Some(to_send)));
        let (leaving, left) = mpsc::channel::<()>();
        let closed = Arc::new(Closed::default());
        let worker_side = LinkWorker {
            process,
            closed: closed.clone(),
            to_send,
            answers: outgoing.clone(),
            pending: pending.clone(),
            stop: stop.clone(),
            local,
        };
        std::thread::Builder::new()
            .name("warpflow-cluster-link".into())
            .spawn(move || {
                // Dropped when this thread ends: after the connections have closed.
                let _leaving = leaving;
                let (closed, pending) = (worker_side.closed.clone(), worker_side.pending.clone());
                let joined = join_cluster(&part.addresses, process, threads, &worker_side.stop);
                let run = joined.and_then(|(builders, guard)| {
                    timely::execute::execute_from(builders, guard, timely::WorkerConfig::default(), move |worker| {
                        worker_side.run(worker)
                    })
                });
                match run {
                    Ok(guards) => {
                        for joined in guards.join() {
                            if let Err(reason) = joined {
                                tracing::error!("the cluster link stopped: {reason}");
                            }
                        }
                    }
                    Err(reason) => {
                        tracing::error!("the cluster link did not start: {reason}");
                        // Requests for other processes are refused at once from now on.
                        closed.close(format!("the cluster link did not start: {reason}"));
                        pending.close_all();
                    }
                }
            })
            .map_err(FlowError::Output)?;
        Ok(Self {
            process,
            outgoing: Mutex::new(outgoing),
            pending,
            stop,
            closed,
            left: Mutex::new(left),
        })
    }

    /// Sends `request` to process `to` and waits up to `wait` for its answer.
    pub(super) fn ask(&self, to: usize, request: Request, wait: Duration) -> Result<Answer, String> {
        if let Some(reason) = self.closed.reason() {
            return Err(reason);
        }
        let (ticket, answered) = self.pending.open();
        let body = match request {
            Request::Add(body) => Body::Add(body),
            Request::Remove(id) => Body::Remove(id),
            Request::List => Body::List,
        };
        let envelope = Envelope {
            to,
            from: self.process,
            ticket,
            body,
        };
        if lock(&self.outgoing).send(envelope).is_err() {
            self.pending.close(ticket);
            return Err(
                "this process's cluster link has stopped: a process of the cluster was lost without leaving \
                        (killed, or its connection broke)"
                    .into(),
            );
        }
        let answer = answered.recv_timeout(wait);
        self.pending.close(ticket);
        answer.map_err(|error| match error {
            RecvTimeoutError::Timeout => format!("no answer within {} s", wait.as_secs_f64()),
            RecvTimeoutError::Disconnected => self
                .closed
                .reason()
                .unwrap_or_else(|| "the cluster's link closed".into()),
        })
    }

    /// Leaves the cluster, and has every other process leave it too (each goes on with the
    /// streams it holds); waits a little for the connections to close, so that no process
    /// writes to one that has gone.
    pub(super) fn finish(&self) {
        self.closed
            .close(format!("process {} has left the cluster", self.process));
        self.stop.store(true, Ordering::Relaxed);
        // Disconnected once the link has left, or if it never joined.
        let _ = lock(&self.left).recv_timeout(LEAVE_WAIT);
    }
}

/// What the link's timely worker needs.
struct LinkWorker {
    process: usize,
    /// Envelopes to send; taken by the one worker this process runs.
    to_send: Arc<Mutex<Option<Receiver<Envelope>>>>,
    /// Where answers made on other threads are put to be sent.
    answers: Sender<Envelope>,
    pending: Arc<Pending>,
    stop: Arc<AtomicBool>,
    closed: Arc<Closed>,
    local: Arc<dyn StreamControl>,
}

impl LinkWorker {
    fn run(&self, worker: &mut Worker) {
        let Some(to_send) = lock(&self.to_send).take() else {
            return;
        };
        let arrived: Rc<RefCell<Vec<Envelope>>> = Rc::default();
        let dataflow = worker.next_dataflow_index();
        let delivered = arrived.clone();
        let mut input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, envelopes) = scope.new_input::<Vec<Envelope>>();
            envelopes.sink(
                Exchange::new(|envelope: &Envelope| envelope.to as u64),
                "ClusterRequests",
                move |(input, _)| {
                    input.for_each(|_, batch| delivered.borrow_mut().append(batch));
                },
            );
            input
        });
        let others: Vec<usize> = (0..worker.peers()).filter(|&p| p != self.process).collect();
        let mut gone: Vec<usize> = Vec::new();
        let mut leaving_since: Option<Instant> = None;
        loop {
            let mut sent = false;
            if leaving_since.is_none() && self.stop.load(Ordering::Relaxed) {
                leaving_since = Some(Instant::now());
                for &to in &others {
                    input.send(self.envelope(to, 0, Body::Leaving));
                }
                sent = true;
            }
            while let Ok(envelope) = to_send.try_recv() {
                input.send(envelope);
                sent = true;
            }
            if sent {
                // Only the end of an epoch pushes what was sent on to the exchange.
                let next = input.time() + 1;
                input.advance_to(next);
            }
            worker.step_or_park(Some(LINK_PARK));
            let envelopes = std::mem::take(&mut *arrived.borrow_mut());
            for envelope in envelopes {
                if matches!(envelope.body, Body::Leaving) {
                    self.closed
                        .close(format!("process {} has left the cluster", envelope.from));
                    self.pending.close_all();
                    self.stop.store(true, Ordering::Relaxed);
                    gone.push(envelope.from);
                } else {
                    self.receive(envelope);
                }
            }
            // Each process waits until every other has said it leaves, so that none closes
            // its connections while another still writes to it.
            let all_said = others.iter().all(|p| gone.contains(p));
            if leaving_since.is_some_and(|since| all_said || since.elapsed() > LEAVE_WAIT) {
                break;
            }
        }
        self.pending.close_all();
        // Dropped rather than drained: draining would wait on every other process's input.
        drop(input);
        worker.drop_dataflow(dataflow);
    }

    fn envelope(&self, to: usize, ticket: u64, body: Body) -> Envelope {
        Envelope {
            to,
            from: self.process,
            ticket,
            body,
        }
    }

    /// An answer goes to whoever waits on its ticket; a request is answered by the local
    /// service on a thread of its own.
    fn receive(&self, envelope: Envelope) {
        let Envelope { from, ticket, body, .. } = envelope;
        let request = match body {
            Body::Answer(json) => {
                let answer = serde_json::from_str::<Answer>(&json).unwrap_or_else(|error| {
                    Err(StreamRefusal::HolderAway {
                        id: String::new(),
                        process: from,
                        reason: format!("its answer was not understood: {error}"),
                    })
                });
                // The caller may have given up waiting.
                if let Some(waiting) = self.pending.close(ticket) {
                    let _ = waiting.send(answer);
                }
                return;
            }
            request => request,
        };
        let local = self.local.clone();
        let answers = self.answers.clone();
        let process = self.process;
        let answering = std::thread::Builder::new()
            .name("warpflow-cluster-request".into())
            .spawn(move || {
                let answer: Answer = match request {
                    Body::Add(body) => local.add(&body).map(|described| vec![described]),
                    Body::Remove(id) => local.remove(&id).map(|described| vec![described]),
                    Body::List => Ok(local.list()),
                    Body::Answer(_) | Body::Leaving => return,
                };
                // Descriptions and refusals are plain data: an empty answer, which the asker
                // reports as not understood, is only for a failure that cannot happen.
                let json = serde_json::to_string(&answer).unwrap_or_default();
                let envelope = Envelope {
                    to: from,
                    from: process,
                    ticket,
                    body: Body::Answer(json),
                };
                // The link has stopped: the asker gives up on its own.
                let _ = answers.send(envelope);
            });
        if let Err(error) = answering {
            tracing::error!("a request from process {from} could not be answered: {error}");
        }
    }
}

/// Connects to every other process of the cluster (to those listed before this one, which
/// listen; from those after it, which connect) and builds this process's one worker on those
/// connections. timely's own way prints its progress on standard output, which carries the
/// service's events; this one retries quietly until every process is up, or `stop`. Each pair
/// of processes first tells each other their worker threads: processes that count them
/// differently would place streams differently, so they do not join.
fn join_cluster(
    addresses: &[String],
    process: usize,
    threads: usize,
    stop: &AtomicBool,
) -> Result<(Vec<AllocatorBuilder>, Box<dyn std::any::Any + Send>), String> {
    let refused = |what: &str, error: std::io::Error| format!("{what}: {error}");
    let Some(own) = addresses.get(process) else {
        return Err(format!(
            "process {process} has no address among {} in the hostfile",
            addresses.len()
        ));
    };
    let listener = TcpListener::bind(own).map_err(|e| refused(&format!("listening at {own}"), e))?;
    let mut sockets: Vec<Option<TcpStream>> = Vec::with_capacity(addresses.len());
    for (index, address) in addresses.iter().enumerate().take(process) {
        let mut socket = loop {
            if stop.load(Ordering::Relaxed) {
                return Err("stopped while connecting".into());
            }
            match TcpStream::connect(address) {
                Ok(socket) => break socket,
                Err(error) => {
                    tracing::debug!("process {index} at {address} not up yet: {error}");
                    std::thread::sleep(CONNECT_RETRY);
                }
            }
        };
        let greeting = [process as u64, threads as u64].map(u64::to_be_bytes).concat();
        let mut theirs = [0u8; 8];
        socket
            .set_nodelay(true)
            .and_then(|()| socket.set_read_timeout(Some(GREETING_WAIT)))
            .and_then(|()| socket.write_all(&greeting))
            .and_then(|()| socket.read_exact(&mut theirs))
            .and_then(|()| socket.set_read_timeout(None))
            .map_err(|e| refused(&format!("greeting process {index} at {address}"), e))?;
        same_threads(index, u64::from_be_bytes(theirs), threads)?;
        sockets.push(Some(socket));
    }
    sockets.push(None);
    let mut later: Vec<Option<TcpStream>> = (process + 1..addresses.len()).map(|_| None).collect();
    listener
        .set_nonblocking(true)
        .map_err(|e| refused(&format!("listening at {own}"), e))?;
    while later.iter().any(Option::is_none) {
        if stop.load(Ordering::Relaxed) {
            return Err("stopped while the cluster connected".into());
        }
        match listener.accept() {
            Ok((mut socket, peer)) => {
                let (mut index, mut theirs) = ([0u8; 8], [0u8; 8]);
                socket
                    .set_nonblocking(false)
                    .and_then(|()| socket.set_nodelay(true))
                    .and_then(|()| socket.set_read_timeout(Some(GREETING_WAIT)))
                    .and_then(|()| socket.read_exact(&mut index))
                    .and_then(|()| socket.read_exact(&mut theirs))
                    .and_then(|()| socket.write_all(&(threads as u64).to_be_bytes()))
                    .and_then(|()| socket.set_read_timeout(None))
                    .map_err(|e| refused(&format!("a connection from {peer}"), e))?;
                let index = u64::from_be_bytes(index) as usize;
                same_threads(index, u64::from_be_bytes(theirs), threads)?;
                match index.checked_sub(process + 1).and_then(|slot| later.get_mut(slot)) {
                    Some(slot) => *slot = Some(socket),
                    None => tracing::warn!("{peer} greeted as process {index}, which should not connect here"),
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(CONNECT_RETRY),
            Err(error) => return Err(refused(&format!("listening at {own}"), error)),
        }
    }
    sockets.extend(later);
    let hooks = Hooks::default();
    let local = ProcessBuilder::new_typed_vector(1, hooks.refill.clone(), hooks.spill.clone());
    let (builders, guard) = initialize_networking_from_sockets(local, sockets, process, 1, hooks)
        .map_err(|e| refused("starting the cluster's connections", e))?;
    Ok((
        builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
        Box::new(guard),
    ))
}

/// Refuses to join a process that runs `theirs` worker threads where this one runs `ours`.
fn same_threads(process: usize, theirs: u64, ours: usize) -> Result<(), String> {
    if theirs == ours as u64 {
        return Ok(());
    }
    Err(format!(
        "process {process} runs --workers {theirs} and this one --workers {ours}: every process of a cluster \
         must run the same, or they would place streams differently"
    ))
}
