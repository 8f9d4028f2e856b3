//! `write_events`: the graph's end, where events get their sequence numbers and leave.
//!
//! Events are held until the input frontier passes their timestamp, then written in time
//! order, so the output is ordered even when operators finish out of order. The frontier is
//! the watermark: whenever it has moved `progress_every_ns` past the last `progress` event,
//! a new one says how far the graph has got. When the input closes, a last `progress`
//! (stage `finished`, or `failed` when the stream failed) and `eos` follow.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::events::{Event, EventBody, EventWriter, RunKind, RunSummary, Sequencer};
use crate::flow::{FailureSlot, StreamEvent};
use crate::media::CaptureStats;

/// The state of the sink: writer, numbering, summary and what progress needs to know.
pub struct EventSink {
    writer: Box<dyn EventWriter + Send>,
    sequencer: Sequencer,
    summary: RunSummary,
    stats: CaptureStats,
    stream: String,
    reference_duration_ns: Option<u64>,
    last_ref_ns: u64,
    progress_every_ns: u64,
    last_progress_ns: Option<u64>,
}

impl EventSink {
    /// A sink writing `stream`'s events to `writer`; `stats` feed the progress counters and
    /// `reference_duration_ns` (for `follow`) the covered fraction of the reference.
    pub fn new(
        writer: Box<dyn EventWriter + Send>,
        kind: RunKind,
        stream: String,
        stats: CaptureStats,
        reference_duration_ns: Option<u64>,
        progress_every_ns: u64,
    ) -> Self {
        Self {
            writer,
            sequencer: Sequencer::default(),
            summary: RunSummary::new(kind),
            stats,
            stream,
            reference_duration_ns,
            last_ref_ns: 0,
            progress_every_ns: progress_every_ns.max(1),
            last_progress_ns: Some(0),
        }
    }

    /// Numbers and writes one event body of `stream`.
    pub fn emit(&mut self, stream: &str, body: EventBody) -> std::io::Result<()> {
        self.note_position(&body);
        let event = self.sequencer.stamp(stream, body);
        self.write(&event)
    }

    /// Numbers and writes one event body of the sink's own stream.
    pub(crate) fn emit_own(&mut self, body: EventBody) -> std::io::Result<()> {
        self.note_position(&body);
        let event = self.sequencer.stamp(&self.stream, body);
        self.write(&event)
    }

    fn note_position(&mut self, body: &EventBody) {
        if let EventBody::Position { ref_ns, .. } = *body {
            self.last_ref_ns = ref_ns;
        }
    }

    fn write(&mut self, event: &Event) -> std::io::Result<()> {
        self.summary.observe(event);
        self.writer.write_event(event)
    }

    /// Writes a `progress` event at `frontier_ns` if it is due (or `force`d).
    pub(crate) fn progress(&mut self, frontier_ns: u64, stage: &str, force: bool) -> std::io::Result<()> {
        let due = self
            .last_progress_ns
            .is_none_or(|last| frontier_ns >= last.saturating_add(self.progress_every_ns));
        if !(due || force) {
            return Ok(());
        }
        self.last_progress_ns = Some(frontier_ns);
        let ref_fraction = self
            .reference_duration_ns
            .filter(|&d| d > 0)
            .map(|d| (self.last_ref_ns as f64 / d as f64).clamp(0.0, 1.0));
        let body = EventBody::Progress {
            frontier_ns,
            ref_fraction,
            frames_in: self.stats.frames_in(),
            frames_dropped: self.stats.frames_dropped(),
            stage: stage.to_owned(),
        };
        self.emit_own(body)
    }

    /// The stream whose events the sink writes.
    pub(crate) fn stream(&self) -> &str {
        &self.stream
    }

    /// The stream has ended: writes its last `progress` (stage `failed` or `finished`) and its
    /// `eos`. Everything captured has been seen, so the watermark is the later of
    /// `watermark_ns` and the latest running time its capture saw.
    pub(crate) fn close_stream(&mut self, watermark_ns: u64, failed: bool) -> std::io::Result<()> {
        let end_ns = watermark_ns.max(self.stats.latest_running_time_ns());
        let stage = if failed { "failed" } else { "finished" };
        self.progress(end_ns, stage, true)?;
        self.emit_own(EventBody::Eos)
    }

    /// Writes the closing summary and hands it back.
    pub fn finish(&mut self) -> std::io::Result<RunSummary> {
        self.writer.write_summary(&self.summary)?;
        Ok(self.summary.clone())
    }
}

/// Extension trait for ending a stream of events in an [`EventSink`].
pub trait WriteEvents {
    /// Writes the events to `sink` in time order, with progress from the frontier.
    ///
    /// # Examples
    /// ```
    /// use std::cell::RefCell;
    /// use std::io::Write;
    /// use std::rc::Rc;
    /// use std::sync::{Arc, Mutex};
    /// use timely::dataflow::operators::ToStream;
    /// use warpflow::events::{EventBody, RunKind};
    /// use warpflow::flow::{FailureSlot, StreamEvent};
    /// use warpflow::flow::operators::{EventSink, WriteEvents};
    /// use warpflow::media::CaptureStats;
    /// use warpflow::serve::JsonLinesWriter;
    ///
    /// #[derive(Clone, Default)]
    /// struct Shared(Arc<Mutex<Vec<u8>>>);
    /// impl Write for Shared {
    ///     fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
    ///         self.0.lock().unwrap().extend_from_slice(bytes);
    ///         Ok(bytes.len())
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let out = Shared::default();
    /// let for_graph = out.clone();
    /// timely::example(move |scope| {
    ///     let writer = Box::new(JsonLinesWriter::new(for_graph, std::io::sink()));
    ///     let sink = Rc::new(RefCell::new(EventSink::new(writer, RunKind::Sync, "live0".into(), CaptureStats::default(), None, 1_000)));
    ///     let cue = EventBody::Cue { cue: "scene-2".into(), ref_ns: 5, live_ns: 7 };
    ///     vec![StreamEvent { stream: "live0".into(), body: cue }]
    ///         .to_stream(scope)
    ///         .container::<Vec<_>>()
    ///         .write_events(sink, FailureSlot::default());
    /// });
    /// let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    /// let types: Vec<&str> = text.lines().map(|l| l.split("\"type\":\"").nth(1).unwrap().split('"').next().unwrap()).collect();
    /// assert_eq!(types, ["cue", "progress", "eos"]);
    /// ```
    fn write_events(self, sink: Rc<RefCell<EventSink>>, failures: FailureSlot);
}

impl WriteEvents for StreamVec<'_, u64, StreamEvent> {
    fn write_events(self, sink: Rc<RefCell<EventSink>>, failures: FailureSlot) {
        let mut pending: BTreeMap<u64, Vec<StreamEvent>> = BTreeMap::new();
        let mut last_frontier_ns = 0u64;
        let mut closed = false;
        self.sink(Pipeline, "WriteEvents", move |(input, frontier)| {
            input.for_each_stamp(|cap, containers| {
                let time = cap.least().copied().unwrap_or(last_frontier_ns);
                last_frontier_ns = last_frontier_ns.max(time);
                let entry = pending.entry(time).or_default();
                for container in containers {
                    entry.append(container);
                }
            });
            let watermark = frontier.frontier().first().copied();
            let mut sink = sink.borrow_mut();
            let mut written = Ok(());
            while let Some(entry) = pending.first_entry() {
                if watermark.is_some_and(|w| *entry.key() >= w) {
                    break;
                }
                for event in entry.remove() {
                    written = written.and_then(|_| sink.emit(&event.stream, event.body));
                }
            }
            match watermark {
                Some(frontier_ns) => {
                    last_frontier_ns = last_frontier_ns.max(frontier_ns);
                    written = written.and_then(|_| sink.progress(frontier_ns, "aligning", false));
                }
                None if !closed => {
                    closed = true;
                    written = written.and_then(|_| sink.close_stream(last_frontier_ns, failures.has_failed()));
                }
                None => {}
            }
            if let Err(error) = written {
                failures.record(error);
            }
        });
    }
}
