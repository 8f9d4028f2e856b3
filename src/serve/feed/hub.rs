//! The hub between the engine and the feed's clients: the replay buffer, the broadcast every
//! client reads from, and the latest watermark per stream for heartbeats.

use std::collections::BTreeMap;
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
}

/// Shared by the engine (publishing) and the server (subscribing).
pub struct FeedHub {
    state: Mutex<HubState>,
    sender: broadcast::Sender<Arc<FeedEvent>>,
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
            }),
            sender,
        }
    }

    /// Publishes `event` to every client and the replay buffer; never waits on a client.
    pub fn publish(&self, event: &Event) {
        let feed_event = Arc::new(FeedEvent::new(event));
        let Ok(mut state) = self.state.lock() else { return };
        if let EventBody::Progress { frontier_ns, .. } = event.body {
            state.frontier_ns.insert(event.stream.clone(), frontier_ns);
        }
        state.metrics.observe(event, &feed_event.kind);
        state.replay.push(feed_event.clone());
        // Under the lock, so that a subscriber's replay and live events neither overlap nor
        // leave a hole. No receiver is no error: nobody is watching yet.
        let _ = self.sender.send(feed_event);
    }

    /// A new client's view: held events with `seq >= from_seq` that `wanted` accepts, then
    /// everything published later.
    pub fn subscribe(&self, from_seq: Option<u64>, wanted: impl Fn(&FeedEvent) -> bool) -> Subscription {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let live = self.sender.subscribe();
        let (replay, start) = match from_seq {
            Some(from_seq) => state.replay.since(from_seq, wanted),
            None => (Vec::new(), ReplayStart::Complete),
        };
        Subscription { replay, start, live }
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
        let clients = self.clients();
        self.state
            .lock()
            .map(|state| state.metrics.render(clients))
            .unwrap_or_default()
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.sender.receiver_count()
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
}
