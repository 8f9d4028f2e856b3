//! What `GET /metrics` reports about the published events, in Prometheus text format: records
//! in and dropped, the watermark, events by type, connected clients (the engine's own timings
//! are [`crate::engine_metrics`]). Names follow Prometheus conventions (a `warpflow_` prefix,
//! base units, `_total` counters); labels are the stream and the event type, both bounded.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::engine_metrics::escape_label as escape;
use crate::events::{Event, EventBody};

#[derive(Debug, Default, Clone)]
struct StreamCounts {
    frames_in: u64,
    frames_dropped: u64,
    frontier_ns: u64,
    events_by_type: BTreeMap<String, u64>,
}

/// Running totals per stream.
#[derive(Debug, Default)]
pub struct FeedMetrics {
    streams: BTreeMap<String, StreamCounts>,
}

impl FeedMetrics {
    /// Counts `event`, whose type is `kind`.
    pub fn observe(&mut self, event: &Event, kind: &str) {
        let counts = self.streams.entry(event.stream.clone()).or_default();
        *counts.events_by_type.entry(kind.to_owned()).or_default() += 1;
        if let EventBody::Progress {
            frontier_ns,
            frames_in,
            frames_dropped,
            ..
        } = &event.body
        {
            counts.frames_in = *frames_in;
            counts.frames_dropped = *frames_dropped;
            counts.frontier_ns = *frontier_ns;
        }
    }

    /// Drops `stream`'s totals (a service removed it).
    pub fn forget_stream(&mut self, stream: &str) {
        self.streams.remove(stream);
    }

    /// The Prometheus text exposition, with `clients` connected to the feed.
    pub fn render(&self, clients: usize) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, lines: Vec<String>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        };
        let per_stream = |value: &dyn Fn(&StreamCounts) -> String, name: &str| -> Vec<String> {
            self.streams
                .iter()
                .map(|(stream, counts)| format!("{name}{{stream=\"{}\"}} {}", escape(stream), value(counts)))
                .collect()
        };
        family(
            "warpflow_records_in_total",
            "counter",
            "Media records (video frames, audio buffers) captured.",
            per_stream(&|c| c.frames_in.to_string(), "warpflow_records_in_total"),
        );
        family(
            "warpflow_records_dropped_total",
            "counter",
            "Media records dropped because the graph fell behind a live source.",
            per_stream(&|c| c.frames_dropped.to_string(), "warpflow_records_dropped_total"),
        );
        family(
            "warpflow_frontier_seconds",
            "gauge",
            "Running time the whole graph has passed (the watermark).",
            per_stream(
                &|c| format!("{}", c.frontier_ns as f64 / 1e9),
                "warpflow_frontier_seconds",
            ),
        );
        let events = self
            .streams
            .iter()
            .flat_map(|(stream, counts)| {
                counts.events_by_type.iter().map(move |(kind, n)| {
                    format!(
                        "warpflow_events_total{{stream=\"{}\",type=\"{}\"}} {n}",
                        escape(stream),
                        escape(kind)
                    )
                })
            })
            .collect();
        family("warpflow_events_total", "counter", "Events published, by type.", events);
        family(
            "warpflow_feed_clients",
            "gauge",
            "WebSocket clients connected to the event feed.",
            vec![format!("warpflow_feed_clients {clients}")],
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, body: EventBody) -> Event {
        Event {
            v: 1,
            stream: "live0".into(),
            seq,
            body,
        }
    }

    #[test]
    fn counts_records_and_events_in_prometheus_text() {
        let mut metrics = FeedMetrics::default();
        for (seq, latency_ms) in [(0, 3u64), (1, 40), (2, 700)] {
            let position = EventBody::Position {
                live_ns: seq,
                ref_ns: seq,
                tempo: 1.0,
                confidence: 1.0,
                latency_ns: latency_ms * 1_000_000,
                semitones: None,
                is_final: false,
            };
            metrics.observe(&event(seq, position), "position");
        }
        let progress = EventBody::Progress {
            frontier_ns: 2_500_000_000,
            ref_fraction: None,
            frames_in: 120,
            frames_dropped: 3,
            stage: "aligning".into(),
        };
        metrics.observe(&event(3, progress), "progress");
        let text = metrics.render(2);
        for line in [
            "# TYPE warpflow_records_in_total counter",
            "warpflow_records_in_total{stream=\"live0\"} 120",
            "warpflow_records_dropped_total{stream=\"live0\"} 3",
            "warpflow_frontier_seconds{stream=\"live0\"} 2.5",
            "warpflow_events_total{stream=\"live0\",type=\"position\"} 3",
            "warpflow_feed_clients 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
