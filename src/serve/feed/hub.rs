//! The hub between the engine and the feed's clients: the replay buffer, the broadcast every
//! client reads from, the latest watermark per stream for heartbeats, and the end of the run
//! (after [`FeedHub::close`] every client reads what is left, then hears that the run ended).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::events::{Event, EventBody};

use super::{FeedEvent, FeedMetrics, ReplayBuffer, ReplayStart};

/// What a new client gets: the events it asked for that are held, whether they reach back as
/// far as it asked, and the live events from then on.
pub struct Subscription {
    /// Held events to send first, oldest first.
    pub replay: Vec<Arc<FeedEvent>>,
    /// Whether the replay reaches back to the asked-for seq.
    pub start: ReplayStart,
    /// Every event published after the replay was taken.
    pub live: broadcast::Receiver<Arc<FeedEvent>>,
}

struct HubState {
    replay: ReplayBuffer,
    frontier_ns: BTreeMap<String, u64>,
    metrics: FeedMetrics,
    /// `None` once the run has ended: receivers then see `Closed` after the events they hold.
    sender: Option<broadcast::Sender<Arc<FeedEvent>>>,
}

/// Shared by the engine (publishing) and the server (subscribing).
pub struct FeedHub {
    state: Mutex<HubState>,
    /// WebSocket connections still open, including those being closed.
    connections: Arc<AtomicUsize>,
}

/// Held by the server while a client's connection is open; counted by
/// [`FeedHub::open_connections`].
pub struct ConnectionGuard(Arc<AtomicUsize>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FeedHub {
    /// A hub keeping `replay_events` for late clients and letting a client fall up to
    /// `client_queue_events` behind before it is cut off.
    pub fn new(replay_events: usize, client_queue_events: usize) -> Self {
        let (sender, _) = broadcast::channel(client_queue_events.max(1));
        Self {
            state: Mutex::new(HubState {
                replay: ReplayBuffer::new(replay_events),
                frontier_ns: BTreeMap::new(),
                metrics: FeedMetrics::default(),
                sender: Some(sender),
            }),
            connections: Arc::default(),
        }
    }

    /// Publishes `event` to every client and the replay buffer; never waits on a client. After
    /// [`FeedHub::close`] nothing more is published.
    pub fn publish(&self, event: &Event) {
        let feed_event = Arc::new(FeedEvent::new(event));
        let Ok(mut state) = self.state.lock() else { return };
        if state.sender.is_none() {
            return;
        }
        if let EventBody::Progress { frontier_ns, .. } = event.body {
            state.frontier_ns.insert(event.stream.clone(), frontier_ns);
        }
        state.metrics.observe(event, &feed_event.kind);
        state.replay.push(feed_event.clone());
        // Under the lock, so that a subscriber's replay and live events neither overlap nor
        // leave a hole. No receiver is no error: nobody is watching yet.
        if let Some(sender) = &state.sender {
            let _ = sender.send(feed_event);
        }
    }

    /// Ends the run for the clients: each reads the events it still holds, then hears that the
    /// run ended; later subscribers get the replay and that end at once.
    pub fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.sender = None;
    }

    /// Counts a client's connection until the guard is dropped.
    pub fn connection_opened(&self) -> ConnectionGuard {
        self.connections.fetch_add(1, Ordering::SeqCst);
        ConnectionGuard(self.connections.clone())
    }

    /// Connections still open, including those that are being closed.
    pub fn open_connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// A new client's view: held events with `seq >= from_seq` that `wanted` accepts, then
    /// everything published later.
    pub fn subscribe(&self, from_seq: Option<u64>, wanted: impl Fn(&FeedEvent) -> bool) -> Subscription {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let live = match &state.sender {
            Some(sender) => sender.subscribe(),
            // The run has ended: a receiver whose sender is gone reports `Closed` at once.
            None => broadcast::channel(1).1,
        };
        let (replay, start) = match from_seq {
            Some(from_seq) => state.replay.since(from_seq, wanted),
            None => (Vec::new(), ReplayStart::Complete),
        };
        Subscription { replay, start, live }
    }

    /// Lets `stream` go: its held events, watermark and totals (a service removed it), so that
    /// a late client does not see it and its name can start afresh.
    pub fn forget_stream(&self, stream: &str) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.frontier_ns.remove(stream);
        state.replay.forget_stream(stream);
        state.metrics.forget_stream(stream);
    }

    /// The latest watermark of each stream (from its `progress` events).
    pub fn frontiers_ns(&self) -> BTreeMap<String, u64> {
        self.state
            .lock()
            .map(|state| state.frontier_ns.clone())
            .unwrap_or_default()
    }

    /// The Prometheus text of what has been published so far.
    pub fn metrics_text(&self) -> String {
        self.state
            .lock()
            .map(|state| {
                let clients = state.sender.as_ref().map_or(0, broadcast::Sender::receiver_count);
                state.metrics.render(clients)
            })
            .unwrap_or_default()
    }

    /// Clients reading the live events now (not those cut off or told that the run ended).
    pub fn clients(&self) -> usize {
        self.state
            .lock()
            .map(|state| state.sender.as_ref().map_or(0, broadcast::Sender::receiver_count))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(seq: u64, frontier_ns: u64) -> Event {
        Event {
            v: 1,
            stream: "live0".into(),
            seq,
            body: EventBody::Progress {
                frontier_ns,
                ref_fraction: None,
                frames_in: seq,
                frames_dropped: 0,
                stage: "aligning".into(),
            },
        }
    }

    #[test]
    fn a_subscriber_gets_the_replay_then_live_events_without_gap_or_repeat() {
        let hub = FeedHub::new(100, 16);
        for seq in 0..5 {
            hub.publish(&progress(seq, seq * 10));
        }
        let mut subscription = hub.subscribe(Some(2), |_| true);
        hub.publish(&progress(5, 50));
        let replayed: Vec<u64> = subscription.replay.iter().map(|e| e.seq).collect();
        assert_eq!(replayed, [2, 3, 4]);
        assert_eq!(subscription.live.try_recv().map(|e| e.seq).ok(), Some(5));
        assert_eq!(hub.frontiers_ns().get("live0"), Some(&50));
        assert_eq!(hub.clients(), 1);
    }

    #[test]
    fn a_subscriber_that_falls_behind_the_queue_is_told_it_lagged() {
        let hub = FeedHub::new(100, 4);
        let mut slow = hub.subscribe(None, |_| true);
        for seq in 0..10 {
            hub.publish(&progress(seq, seq));
        }
        assert!(matches!(
            slow.live.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(6))
        ));
    }

    #[test]
    fn after_the_run_ends_subscribers_read_what_is_left_then_hear_the_end() {
        let hub = FeedHub::new(100, 16);
        let mut early = hub.subscribe(None, |_| true);
        hub.publish(&progress(0, 0));
        hub.close();
        hub.publish(&progress(1, 10));
        assert_eq!(early.live.try_recv().map(|e| e.seq).ok(), Some(0));
        assert!(matches!(
            early.live.try_recv(),
            Err(broadcast::error::TryRecvError::Closed)
        ));
        let mut late = hub.subscribe(Some(0), |_| true);
        assert_eq!(late.replay.len(), 1, "what was published before the end, and only that");
        assert!(matches!(
            late.live.try_recv(),
            Err(broadcast::error::TryRecvError::Closed)
        ));
        assert_eq!(hub.clients(), 0);
    }
}
