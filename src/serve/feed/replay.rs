//! The replay buffer: the latest events of a run, for clients that connect late or reconnect.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::events::Event;

/// One event as the feed sends it: its JSON text, and what filters look at.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    /// The stream it is about.
    pub stream: String,
    /// Its `type` field.
    pub kind: String,
    /// Its `seq` in the stream.
    pub seq: u64,
    /// The event as one JSON text message.
    pub json: String,
}

impl FeedEvent {
    /// The feed's form of `event`.
    pub fn new(event: &Event) -> Self {
        let json = event.to_json_line();
        let kind = serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|value| value["type"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            stream: event.stream.clone(),
            kind,
            seq: event.seq,
            json,
        }
    }
}

/// Where a resumed subscription starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayStart {
    /// Every event asked for is still in the buffer.
    Complete,
    /// The buffer starts after the asked-for `seq`: events `from_seq..oldest_seq` are gone.
    Truncated {
        /// The first seq the client asked for.
        from_seq: u64,
        /// The oldest seq still held (of the asked-for streams).
        oldest_seq: u64,
    },
}

/// The newest `capacity` events, oldest first.
#[derive(Debug)]
pub struct ReplayBuffer {
    events: VecDeque<Arc<FeedEvent>>,
    capacity: usize,
}

impl ReplayBuffer {
    /// An empty buffer holding at most `capacity` events (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            events: VecDeque::with_capacity(capacity.clamp(1, 4096)),
            capacity: capacity.max(1),
        }
    }

    /// Adds the newest event, dropping the oldest when full.
    pub fn push(&mut self, event: Arc<FeedEvent>) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// The held events with `seq >= from_seq` that `wanted` accepts, in order, and whether the
    /// buffer still reached back to `from_seq` for every stream it holds.
    pub fn since(&self, from_seq: u64, wanted: impl Fn(&FeedEvent) -> bool) -> (Vec<Arc<FeedEvent>>, ReplayStart) {
        let mut oldest_seq: Option<u64> = None;
        let mut replay = Vec::new();
        for event in self.events.iter().filter(|e| wanted(e)) {
            oldest_seq = Some(oldest_seq.map_or(event.seq, |seq| seq.min(event.seq)));
            if event.seq >= from_seq {
                replay.push(event.clone());
            }
        }
        // Whatever the filter, the oldest event held of any stream tells whether events were
        // dropped: seq counts every event of a stream.
        let oldest_held = self.events.iter().map(|e| e.seq).min();
        let start = match oldest_held.or(oldest_seq) {
            Some(oldest) if oldest > from_seq => ReplayStart::Truncated {
                from_seq,
                oldest_seq: oldest,
            },
            _ => ReplayStart::Complete,
        };
        (replay, start)
    }

    /// Drops every held event of `stream`.
    pub fn forget_stream(&mut self, stream: &str) {
        self.events.retain(|event| event.stream != stream);
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, kind: &str) -> Arc<FeedEvent> {
        Arc::new(FeedEvent {
            stream: "live0".into(),
            kind: kind.into(),
            seq,
            json: format!("{{\"seq\":{seq}}}"),
        })
    }

    #[test]
    fn resumes_from_a_seq_and_says_when_the_buffer_no_longer_reaches_it() {
        let mut buffer = ReplayBuffer::new(4);
        for seq in 0..6 {
            buffer.push(event(seq, if seq % 2 == 0 { "offset" } else { "progress" }));
        }
        assert_eq!(buffer.len(), 4);
        let (replay, start) = buffer.since(3, |_| true);
        assert_eq!(replay.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(start, ReplayStart::Complete);

        let (replay, start) = buffer.since(0, |e| e.kind == "offset");
        assert_eq!(replay.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(
            start,
            ReplayStart::Truncated {
                from_seq: 0,
                oldest_seq: 2
            }
        );
    }

    #[test]
    fn a_forgotten_stream_is_no_longer_replayed_and_the_others_are() {
        let mut buffer = ReplayBuffer::new(8);
        for seq in 0..3 {
            buffer.push(event(seq, "offset"));
            buffer.push(Arc::new(FeedEvent {
                stream: "gone".into(),
                ..(*event(seq, "offset")).clone()
            }));
        }
        buffer.forget_stream("gone");
        let (replay, start) = buffer.since(0, |_| true);
        assert!(replay.iter().all(|e| e.stream == "live0"));
        assert_eq!(replay.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(start, ReplayStart::Complete);
    }

    #[test]
    fn the_type_is_read_from_the_event() {
        let event = Event {
            v: 1,
            stream: "cam".into(),
            seq: 7,
            body: crate::events::EventBody::Eos,
        };
        let feed = FeedEvent::new(&event);
        assert_eq!((feed.stream.as_str(), feed.kind.as_str(), feed.seq), ("cam", "eos", 7));
        assert_eq!(feed.json, event.to_json_line());
    }
}
