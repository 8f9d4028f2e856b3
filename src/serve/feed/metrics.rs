//! What `GET /metrics` reports, in Prometheus text format: counts and latencies read off the
//! events the run publishes. Names follow Prometheus conventions (a `warpflow_` prefix, base
//! units, `_total` counters); labels are the stream and the event type, both bounded.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::events::{Event, EventBody};

/// Upper bounds (seconds) of the capture-to-event latency histogram's buckets.
const LATENCY_BUCKETS_S: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Debug, Default, Clone)]
struct StreamCounts {
    frames_in: u64,
    frames_dropped: u64,
    frontier_ns: u64,
    events_by_type: BTreeMap<String, u64>,
    /// Cumulative bucket counts, then the count and sum of every observation.
    latency_buckets: [u64; LATENCY_BUCKETS_S.len()],
    latency_count: u64,
    latency_sum_s: f64,
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
        match &event.body {
            EventBody::Progress {
                frontier_ns,
                frames_in,
                frames_dropped,
                ..
            } => {
                counts.frames_in = *frames_in;
                counts.frames_dropped = *frames_dropped;
                counts.frontier_ns = *frontier_ns;
            }
            EventBody::Position {
                latency_ns,
                is_final: false,
                ..
            } => {
                let latency_s = *latency_ns as f64 / 1e9;
                for (bucket, bound) in counts.latency_buckets.iter_mut().zip(LATENCY_BUCKETS_S) {
                    if latency_s <= bound {
                        *bucket += 1;
                    }
                }
                counts.latency_count += 1;
                counts.latency_sum_s += latency_s;
            }
            _ => {}
        }
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
        let mut latency = Vec::new();
        for (stream, counts) in &self.streams {
            let stream = escape(stream);
            for (bound, n) in LATENCY_BUCKETS_S.iter().zip(counts.latency_buckets) {
                latency.push(format!(
                    "warpflow_event_latency_seconds_bucket{{stream=\"{stream}\",le=\"{bound}\"}} {n}"
                ));
            }
            latency.push(format!(
                "warpflow_event_latency_seconds_bucket{{stream=\"{stream}\",le=\"+Inf\"}} {}",
                counts.latency_count
            ));
            latency.push(format!(
                "warpflow_event_latency_seconds_sum{{stream=\"{stream}\"}} {}",
                counts.latency_sum_s
            ));
            latency.push(format!(
                "warpflow_event_latency_seconds_count{{stream=\"{stream}\"}} {}",
                counts.latency_count
            ));
        }
        family(
            "warpflow_event_latency_seconds",
            "histogram",
            "Capture to event latency of provisional positions.",
            latency,
        );
        family(
            "warpflow_feed_clients",
            "gauge",
            "WebSocket clients connected to the event feed.",
            vec![format!("warpflow_feed_clients {clients}")],
        );
        out
    }
}

/// A label value with `\`, `"` and newlines escaped, as the text format wants.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
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
    fn counts_records_events_and_latencies_in_prometheus_text() {
        let mut metrics = FeedMetrics::default();
        for (seq, latency_ms) in [(0, 3u64), (1, 40), (2, 700)] {
            let position = EventBody::Position {
                live_ns: seq,
                ref_ns: seq,
                tempo: 1.0,
                confidence: 1.0,
                latency_ns: latency_ms * 1_000_000,
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
            "warpflow_event_latency_seconds_bucket{stream=\"live0\",le=\"0.005\"} 1",
            "warpflow_event_latency_seconds_bucket{stream=\"live0\",le=\"0.05\"} 2",
            "warpflow_event_latency_seconds_bucket{stream=\"live0\",le=\"1\"} 3",
            "warpflow_event_latency_seconds_bucket{stream=\"live0\",le=\"+Inf\"} 3",
            "warpflow_event_latency_seconds_count{stream=\"live0\"} 3",
            "warpflow_feed_clients 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
