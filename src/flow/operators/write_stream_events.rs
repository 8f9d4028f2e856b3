//! `write_stream_events`: the end of a dataflow shared by many streams, where each stream's
//! events get its own sequence numbers and leave through its own [`EventSink`].
//!
//! A stream's records reach this operator in its order (every operator before it passes them
//! on in order, pipelined), so its events are written as they come, with no wait for a
//! frontier. Its watermark is carried in its data ([`StreamNote::Watermark`]), not read from
//! the frontier, which is the service's: each watermark that has moved the sink's progress
//! interval past the last `progress` event writes a new one. A failure writes an `error` event.
//! At the stream's end a last `progress` (stage `finished`, or `failed`) and `eos` are written,
//! then its summary, and the stream is listed in [`StreamSinks::take_ended`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::events::{EventBody, RunSummary};
use crate::flow::keyed::{Keyed, StreamKey, StreamNote};

use super::EventSink;

/// A stream that has written its `eos`.
#[derive(Debug)]
pub(crate) struct EndedStream {
    /// Its name in events.
    pub name: String,
    /// Its summary, or why it failed.
    pub outcome: Result<RunSummary, String>,
}

/// One stream's sink and what it has seen.
struct Sink {
    sink: EventSink,
    watermark_ns: u64,
    failure: Option<String>,
}

#[derive(Default)]
struct Sinks {
    streams: HashMap<StreamKey, Sink>,
    ended: Vec<EndedStream>,
}

/// The sinks of one worker's `write_stream_events` operator, by key; shared between the
/// worker's driver, which adds them and collects the ended, and the operator.
#[derive(Clone, Default)]
pub(crate) struct StreamSinks {
    inner: Rc<RefCell<Sinks>>,
}

impl StreamSinks {
    /// Writes stream `key`'s events to `sink`; false (and nothing changes) when `key` is in use.
    pub(crate) fn add(&self, key: StreamKey, sink: EventSink) -> bool {
        let mut sinks = self.inner.borrow_mut();
        if sinks.streams.contains_key(&key) {
            return false;
        }
        let sink = Sink {
            sink,
            watermark_ns: 0,
            failure: None,
        };
        sinks.streams.insert(key, sink);
        true
    }

    /// Streams whose `eos` is written now.
    pub(crate) fn len(&self) -> usize {
        self.inner.borrow().streams.len()
    }

    /// The streams that ended since the last call.
    pub(crate) fn take_ended(&self) -> Vec<EndedStream> {
        std::mem::take(&mut self.inner.borrow_mut().ended)
    }
}

/// Extension trait for ending many streams' events in their sinks.
pub(crate) trait WriteStreamEvents {
    /// Writes each stream's events to its sink in `sinks`, with its progress from its notes.
    fn write_stream_events(self, sinks: StreamSinks);
}

impl WriteStreamEvents for StreamVec<'_, u64, Keyed<EventBody>> {
    fn write_stream_events(self, sinks: StreamSinks) {
        self.sink(Pipeline, "WriteStreamEvents", move |(input, _)| {
            let mut table = sinks.inner.borrow_mut();
            let table = &mut *table;
            input.for_each(|_, records| {
                for record in records.drain(..) {
                    let key = record.stream();
                    let Some(sink) = table.streams.get_mut(&key) else {
                        continue;
                    };
                    let ended = matches!(record, Keyed::End { .. });
                    let written = write_record(sink, record);
                    if let Err(error) = written {
                        let reason = format!("its events could not be written: {error}");
                        sink.failure.get_or_insert(reason);
                    }
                    if ended {
                        if let Some(sink) = table.streams.remove(&key) {
                            table.ended.push(finish(sink));
                        }
                    }
                }
            });
        });
    }
}

/// Writes what one record of a stream says.
fn write_record(sink: &mut Sink, record: Keyed<EventBody>) -> std::io::Result<()> {
    match record {
        Keyed::Data { data, .. } => sink.sink.emit_own(data),
        Keyed::Note { note, .. } => match note {
            StreamNote::Watermark { running_ns } => {
                sink.watermark_ns = sink.watermark_ns.max(running_ns);
                sink.sink.progress(sink.watermark_ns, "aligning", false)
            }
            StreamNote::Health(body) => sink.sink.emit_own(body),
            StreamNote::Failed { reason } => {
                sink.failure.get_or_insert_with(|| reason.clone());
                sink.sink.emit_own(EventBody::Error { reason })
            }
        },
        Keyed::End { .. } => sink.sink.close_stream(sink.watermark_ns, sink.failure.is_some()),
    }
}

/// The ended stream's summary, written, or why it failed.
fn finish(mut sink: Sink) -> EndedStream {
    let summary = sink.sink.finish();
    let name = sink.sink.stream().to_owned();
    let outcome = match (sink.failure, summary) {
        (Some(reason), _) => Err(reason),
        (None, Err(error)) => Err(format!("its summary could not be written: {error}")),
        (None, Ok(summary)) => Ok(summary),
    };
    EndedStream { name, outcome }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use timely::dataflow::operators::ToStream;

    use crate::events::{Event, EventWriter, RunKind};
    use crate::media::CaptureStats;

    use super::*;

    /// Every event written, as its JSON.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<serde_json::Value>>>);

    impl EventWriter for Shared {
        fn write_event(&mut self, event: &Event) -> std::io::Result<()> {
            let json = serde_json::to_value(event).map_err(std::io::Error::other)?;
            self.0.lock().expect("not poisoned").push(json);
            Ok(())
        }
        fn write_summary(&mut self, _summary: &RunSummary) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn sink(out: &Shared, name: &str) -> EventSink {
        let writer = Box::new(out.clone());
        EventSink::new(writer, RunKind::Follow, name.into(), CaptureStats::default(), None, 100)
    }

    #[test]
    fn each_stream_is_numbered_and_progressed_by_its_own_notes() {
        let out = Shared::default();
        let cue = |ref_ns| EventBody::Cue {
            cue: "c".into(),
            ref_ns,
            live_ns: 0,
        };
        let watermark = |running_ns| StreamNote::Watermark { running_ns };
        let records = vec![
            Keyed::Data {
                stream: 1,
                data: cue(1),
            },
            Keyed::Data {
                stream: 2,
                data: cue(2),
            },
            Keyed::Note {
                stream: 1,
                note: watermark(50),
            },
            Keyed::Note {
                stream: 1,
                note: watermark(150),
            },
            Keyed::Note {
                stream: 2,
                note: StreamNote::Failed {
                    reason: "bad frame".into(),
                },
            },
            Keyed::End { stream: 2 },
            Keyed::Data {
                stream: 1,
                data: cue(3),
            },
            Keyed::End { stream: 1 },
            // Not here any more: passed over.
            Keyed::Data {
                stream: 1,
                data: cue(4),
            },
        ];
        let written = out.clone();
        let (ended, left, ended_again) = timely::execute_directly(move |worker| {
            let sinks = StreamSinks::default();
            assert!(sinks.add(1, sink(&written, "a")));
            assert!(sinks.add(2, sink(&written, "b")));
            assert!(!sinks.add(2, sink(&written, "b")));
            let in_graph = sinks.clone();
            worker.dataflow::<u64, _, _>(|scope| {
                records
                    .to_stream(scope)
                    .container::<Vec<_>>()
                    .write_stream_events(in_graph);
            });
            while worker.step() {}
            let ended: Vec<(String, Result<RunSummary, String>)> =
                sinks.take_ended().into_iter().map(|e| (e.name, e.outcome)).collect();
            (ended, sinks.len(), sinks.take_ended().len())
        });
        let lines = out.0.lock().expect("not poisoned").clone();
        let of = |name: &str| -> Vec<String> {
            lines
                .iter()
                .filter(|l| l["stream"] == name)
                .map(|l| {
                    let kind = l["type"].as_str().unwrap_or_default();
                    match kind {
                        "progress" => format!("{} progress {} {}", l["seq"], l["frontier_ns"], l["stage"]),
                        _ => format!("{} {kind}", l["seq"]),
                    }
                })
                .collect()
        };
        assert_eq!(
            of("a"),
            [
                "0 cue",
                "1 progress 150 \"aligning\"",
                "2 cue",
                "3 progress 150 \"finished\"",
                "4 eos"
            ]
        );
        assert_eq!(of("b"), ["0 cue", "1 error", "2 progress 0 \"failed\"", "3 eos"]);
        assert_eq!(ended.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(ended[0].1.as_ref().err().map(String::as_str), Some("bad frame"));
        assert!(ended[1].1.is_ok());
        assert_eq!((left, ended_again), (0, 0));
    }
}
