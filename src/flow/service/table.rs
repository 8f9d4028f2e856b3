//! The service's table of streams: what `GET /streams` lists, kept up to date by the worker
//! (states) and by the events the streams write (counters, watermark).
//!
//! Shared between the threads that take requests and the worker's thread; every access is a
//! short lock. It does not touch the graph.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::events::{Event, EventBody, EventWriter, RunSummary, StreamDescription, StreamRefusal, StreamState};
use crate::flow::StopSignal;

/// One stream of the table.
struct Entry {
    /// Its place in the order streams were added.
    added: u64,
    description: StreamDescription,
    stop: StopSignal,
}

/// The streams of a service by id: every event looks its stream up, so the lookup does not
/// grow with the streams.
#[derive(Default)]
struct Entries {
    by_id: HashMap<String, Entry>,
    next_added: u64,
}

/// The streams of a service; listed in the order they were added.
#[derive(Default)]
pub(super) struct StreamTable {
    entries: Mutex<Entries>,
}

impl StreamTable {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // A panic elsewhere while holding the lock leaves plain data behind: still readable.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a stream, running; refused when another stream holds its id.
    pub(super) fn insert(&self, description: StreamDescription, stop: StopSignal) -> Result<(), StreamRefusal> {
        let mut entries = self.lock();
        if entries.by_id.contains_key(&description.id) {
            return Err(StreamRefusal::IdInUse(description.id));
        }
        let added = entries.next_added;
        entries.next_added += 1;
        entries.by_id.insert(
            description.id.clone(),
            Entry {
                added,
                description,
                stop,
            },
        );
        Ok(())
    }

    /// Every stream's description, in the order they were added.
    pub(super) fn list(&self) -> Vec<StreamDescription> {
        let entries = self.lock();
        let mut listed: Vec<&Entry> = entries.by_id.values().collect();
        listed.sort_by_key(|e| e.added);
        listed.into_iter().map(|e| e.description.clone()).collect()
    }

    /// The description of `id`.
    pub(super) fn describe(&self, id: &str) -> Option<StreamDescription> {
        self.lock().by_id.get(id).map(|e| e.description.clone())
    }

    /// Changes the description of `id`, if it is there.
    pub(super) fn update(&self, id: &str, change: impl FnOnce(&mut StreamDescription)) {
        if let Some(entry) = self.lock().by_id.get_mut(id) {
            change(&mut entry.description);
        }
    }

    /// Asks `id` to end (a running stream becomes `ending`); its description as it is now.
    pub(super) fn request_end(&self, id: &str) -> Result<StreamDescription, StreamRefusal> {
        let mut entries = self.lock();
        let entry = entries
            .by_id
            .get_mut(id)
            .ok_or_else(|| StreamRefusal::NoSuchStream(id.to_owned()))?;
        if entry.description.state == StreamState::Running {
            entry.description.state = StreamState::Ending;
            entry.stop.request();
        }
        Ok(entry.description.clone())
    }

    /// Asks every stream to end.
    pub(super) fn request_end_all(&self) {
        for entry in self.lock().by_id.values_mut() {
            if entry.description.state == StreamState::Running {
                entry.description.state = StreamState::Ending;
            }
            entry.stop.request();
        }
    }

    /// Takes `id` out of the table, returning its last description.
    pub(super) fn remove(&self, id: &str) -> Option<StreamDescription> {
        self.lock().by_id.remove(id).map(|e| e.description)
    }
}

/// The writer every stream of the service writes through: passes events on and counts them
/// into the table.
pub(super) struct CountingWriter {
    inner: Box<dyn EventWriter + Send>,
    table: Arc<StreamTable>,
}

impl CountingWriter {
    /// Counts what passes from the streams to `inner` into `table`.
    pub(super) fn new(inner: Box<dyn EventWriter + Send>, table: Arc<StreamTable>) -> Self {
        Self { inner, table }
    }
}

impl EventWriter for CountingWriter {
    fn write_event(&mut self, event: &Event) -> std::io::Result<()> {
        self.table.update(&event.stream, |description| {
            description.events += 1;
            if let EventBody::Progress {
                frontier_ns,
                frames_in,
                frames_dropped,
                ..
            } = &event.body
            {
                description.watermark_ns = description.watermark_ns.max(*frontier_ns);
                description.frames_in = *frames_in;
                description.frames_dropped = *frames_dropped;
            }
        });
        self.inner.write_event(event)
    }

    fn write_summary(&mut self, summary: &RunSummary) -> std::io::Result<()> {
        self.inner.write_summary(summary)
    }

    fn forget_stream(&mut self, stream: &str) {
        self.inner.forget_stream(stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(id: &str) -> StreamDescription {
        StreamDescription::started(id, "sync", "test pattern")
    }

    #[test]
    fn an_id_is_held_until_its_stream_is_removed() {
        let table = StreamTable::default();
        table.insert(described("cam1"), StopSignal::default()).unwrap();
        assert_eq!(
            table.insert(described("cam1"), StopSignal::default()),
            Err(StreamRefusal::IdInUse("cam1".into()))
        );
        table.update("cam1", |d| d.state = StreamState::Ended);
        assert!(table.insert(described("cam1"), StopSignal::default()).is_err());
        assert_eq!(table.remove("cam1").map(|d| d.state), Some(StreamState::Ended));
        table.insert(described("cam1"), StopSignal::default()).unwrap();
    }

    #[test]
    fn ending_a_stream_asks_its_own_stop_only() {
        let table = StreamTable::default();
        let (one, two) = (StopSignal::default(), StopSignal::default());
        table.insert(described("a"), one.clone()).unwrap();
        table.insert(described("b"), two.clone()).unwrap();
        assert_eq!(table.request_end("a").map(|d| d.state), Ok(StreamState::Ending));
        assert!(one.is_requested() && !two.is_requested());
        assert_eq!(table.request_end("c"), Err(StreamRefusal::NoSuchStream("c".into())));
        let states: Vec<_> = table.list().into_iter().map(|d| (d.id, d.state)).collect();
        assert_eq!(
            states,
            [
                ("a".to_owned(), StreamState::Ending),
                ("b".to_owned(), StreamState::Running)
            ]
        );
    }
}
