//! What the engine measures about itself while it runs, for `GET /metrics`: capture-to-event
//! latency, encoder batch sizes and times, aligner step times, capture queue depths and the
//! share of its relocation budget each `follow` stream may spend.
//!
//! Operators take their histograms and gauges once, when the graph is built, and record into
//! them with atomics: the hot path takes no lock and allocates nothing. The feed reads a
//! rendering at any time. Labels are bounded: stream names come from the run's configuration,
//! stage names from the graph. This module measures; it never changes what the engine does.
//! The registry also carries the newest picture of each stream ([`LatestPictures`]), which
//! travels the same way from the graph to the feed.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::latest_pictures::LatestPictures;

/// Upper bounds (s) for capture-to-event latency.
const LATENCY_BUCKETS_S: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
/// Upper bounds (records) for encoder batch sizes.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// Upper bounds (s) for one encoder batch.
const ENCODE_BUCKETS_S: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];
/// Upper bounds (s) for one aligner step (one live frame, or one offset estimate).
const STEP_BUCKETS_S: &[f64] = &[
    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01,
];

/// Observations are summed in billionths, so that a sum of seconds keeps nanoseconds.
const SUM_SCALE: f64 = 1e9;

/// A histogram with fixed buckets, recorded into without locks.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last one is +Inf.
    counts: Vec<AtomicU64>,
    sum_billionths: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_billionths: AtomicU64::new(0),
        }
    }

    /// Records one observation of `value` (in the family's unit).
    pub fn observe(&self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|&bound| value <= bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_billionths
            .fetch_add((value.max(0.0) * SUM_SCALE).round() as u64, Ordering::Relaxed);
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64());
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn render(&self, name: &str, labels: &str, out: &mut String) {
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        let sum = self.sum_billionths.load(Ordering::Relaxed) as f64 / SUM_SCALE;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

/// A gauge holding a whole number.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the current value.
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A gauge holding a share (0 to 1), unset (and not rendered) until first set.
#[derive(Debug)]
pub struct ShareGauge(AtomicU64);

impl Default for ShareGauge {
    fn default() -> Self {
        Self(AtomicU64::new(f64::NAN.to_bits()))
    }
}

impl ShareGauge {
    /// Sets the current share.
    pub fn set(&self, share: f64) {
        self.0.store(share.to_bits(), Ordering::Relaxed);
    }

    /// The current share, once set.
    pub fn get(&self) -> Option<f64> {
        Some(f64::from_bits(self.0.load(Ordering::Relaxed))).filter(|share| !share.is_nan())
    }
}

/// One encoder stage's histograms.
#[derive(Debug, Clone)]
pub struct EncoderMetrics {
    /// Records per batch.
    pub batch_records: Arc<Histogram>,
    /// Seconds per batch.
    pub batch_seconds: Arc<Histogram>,
}

impl EncoderMetrics {
    /// Histograms that belong to no registry (for graphs run without a feed).
    pub fn detached() -> Self {
        Self {
            batch_records: Arc::new(Histogram::new(BATCH_BUCKETS)),
            batch_seconds: Arc::new(Histogram::new(ENCODE_BUCKETS_S)),
        }
    }
}

/// An aligner operator's histograms.
#[derive(Debug, Clone)]
pub struct AlignerMetrics {
    /// Seconds per step: one live frame (`follow`, `locate`) or one offset estimate (`sync`).
    pub step_seconds: Arc<Histogram>,
    /// Capture-to-event latency (s) of the events it emits as data arrives.
    pub event_latency: Arc<Histogram>,
    /// The share of its relocation search's budget a `follow` stream may spend per frame
    /// (below 1 while its worker's core is full); unset for other aligners.
    pub relocation_budget_share: Arc<ShareGauge>,
}

impl AlignerMetrics {
    /// Histograms that belong to no registry (for graphs run without a feed).
    pub fn detached() -> Self {
        Self {
            step_seconds: Arc::new(Histogram::new(STEP_BUCKETS_S)),
            event_latency: Arc::new(Histogram::new(LATENCY_BUCKETS_S)),
            relocation_budget_share: Arc::default(),
        }
    }
}

/// A family of metrics, keyed by its label values.
type Family<T> = Mutex<BTreeMap<Vec<String>, Arc<T>>>;

/// The registry of a run's engine metrics.
#[derive(Debug, Default)]
pub struct EngineMetrics {
    event_latency: Family<Histogram>,
    batch_records: Family<Histogram>,
    batch_seconds: Family<Histogram>,
    aligner_step: Family<Histogram>,
    queue_depth: Family<Gauge>,
    relocation_budget_share: Family<ShareGauge>,
    /// The newest picture of each stream, for the live page.
    pub pictures: LatestPictures,
}

fn member<T>(family: &Family<T>, labels: &[&str], make: impl FnOnce() -> T) -> Arc<T> {
    let key: Vec<String> = labels.iter().map(|&l| l.to_owned()).collect();
    let mut members = family.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    members.entry(key).or_insert_with(|| Arc::new(make())).clone()
}

/// Drops the members of `family` whose first label is `stream`.
fn forget_members<T>(family: &Family<T>, stream: &str) {
    let mut members = family.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    members.retain(|labels, _| labels.first().is_none_or(|first| first != stream));
}

impl EngineMetrics {
    /// The histograms of `stream`'s aligner, whose events of type `kind` (`position`,
    /// `offset`, `match`) carry its results.
    pub fn aligner(&self, stream: &str, kind: &str) -> AlignerMetrics {
        AlignerMetrics {
            step_seconds: member(&self.aligner_step, &[stream], || Histogram::new(STEP_BUCKETS_S)),
            event_latency: member(&self.event_latency, &[stream, kind], || {
                Histogram::new(LATENCY_BUCKETS_S)
            }),
            relocation_budget_share: member(&self.relocation_budget_share, &[stream], ShareGauge::default),
        }
    }

    /// The batch histograms of the encoder stage `stage` of `stream`.
    pub fn encoder(&self, stream: &str, stage: &str) -> EncoderMetrics {
        EncoderMetrics {
            batch_records: member(&self.batch_records, &[stream, stage], || Histogram::new(BATCH_BUCKETS)),
            batch_seconds: member(&self.batch_seconds, &[stream, stage], || {
                Histogram::new(ENCODE_BUCKETS_S)
            }),
        }
    }

    /// Records waiting in `stream`'s capture ring of `medium` (audio or video).
    pub fn queue_depth(&self, stream: &str, medium: &str) -> Arc<Gauge> {
        member(&self.queue_depth, &[stream, medium], Gauge::default)
    }

    /// Drops every series of `stream` and its picture (a service removed it): a service that
    /// runs for weeks while streams come and go keeps only its streams' own.
    pub fn forget_stream(&self, stream: &str) {
        for family in [
            &self.event_latency,
            &self.batch_records,
            &self.batch_seconds,
            &self.aligner_step,
        ] {
            forget_members(family, stream);
        }
        forget_members(&self.queue_depth, stream);
        forget_members(&self.relocation_budget_share, stream);
        self.pictures.forget(stream);
    }

    /// The Prometheus text exposition of every family.
    pub fn render(&self) -> String {
        let mut out = String::new();
        render_histograms(
            &mut out,
            "warpflow_event_latency_seconds",
            "Wall-clock time from capture of the newest data an event uses to the event.",
            &["stream", "type"],
            &self.event_latency,
        );
        render_histograms(
            &mut out,
            "warpflow_encoder_batch_records",
            "Records per encoder batch.",
            &["stream", "stage"],
            &self.batch_records,
        );
        render_histograms(
            &mut out,
            "warpflow_encoder_batch_seconds",
            "Time to encode one batch.",
            &["stream", "stage"],
            &self.batch_seconds,
        );
        render_histograms(
            &mut out,
            "warpflow_aligner_step_seconds",
            "Time of one aligner step (a live frame, or an offset estimate).",
            &["stream"],
            &self.aligner_step,
        );
        let _ = writeln!(
            out,
            "# HELP warpflow_capture_queue_records Records waiting in a capture ring for the graph.\n\
             # TYPE warpflow_capture_queue_records gauge"
        );
        let gauges = self.queue_depth.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (labels, gauge) in gauges.iter() {
            let labels = label_text(&["stream", "medium"], labels);
            let _ = writeln!(out, "warpflow_capture_queue_records{{{labels}}} {}", gauge.get());
        }
        drop(gauges);
        let _ = writeln!(
            out,
            "# HELP warpflow_relocation_budget_share Share of its relocation search's budget a follow \
             stream may spend per frame (below 1 while its worker's core is full).\n\
             # TYPE warpflow_relocation_budget_share gauge"
        );
        let shares = self
            .relocation_budget_share
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (labels, gauge) in shares.iter() {
            if let Some(share) = gauge.get() {
                let labels = label_text(&["stream"], labels);
                let _ = writeln!(out, "warpflow_relocation_budget_share{{{labels}}} {share}");
            }
        }
        out
    }
}

fn render_histograms(out: &mut String, name: &str, help: &str, label_names: &[&str], family: &Family<Histogram>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    let members = family.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for (labels, histogram) in members.iter() {
        histogram.render(name, &label_text(label_names, labels), out);
    }
}

fn label_text(names: &[&str], values: &[String]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(name, value)| format!("{name}=\"{}\"", escape_label(value)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A label value with `\`, `"` and newlines escaped, as the text format wants.
pub fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets_sum_and_count() {
        let metrics = EngineMetrics::default();
        let encoder = metrics.encoder("live0", "AudioFeatures");
        for records in [1.0, 3.0, 3.0, 300.0] {
            encoder.batch_records.observe(records);
        }
        encoder.batch_seconds.observe_duration(Duration::from_micros(1500));
        // Taken again, the same histogram: operators built twice share their series.
        assert_eq!(metrics.encoder("live0", "AudioFeatures").batch_records.count(), 4);
        let aligner = metrics.aligner("live0", "offset");
        aligner.step_seconds.observe(0.00002);
        aligner.event_latency.observe(0.004);
        metrics.queue_depth("live0", "video").set(7);
        metrics.aligner("song", "position").relocation_budget_share.set(0.5);
        let text = metrics.render();
        assert!(
            !text.contains("warpflow_relocation_budget_share{stream=\"live0\"}"),
            "unset: {text}"
        );
        for line in [
            "# TYPE warpflow_encoder_batch_records histogram",
            "warpflow_encoder_batch_records_bucket{stream=\"live0\",stage=\"AudioFeatures\",le=\"1\"} 1",
            "warpflow_encoder_batch_records_bucket{stream=\"live0\",stage=\"AudioFeatures\",le=\"2\"} 1",
            "warpflow_encoder_batch_records_bucket{stream=\"live0\",stage=\"AudioFeatures\",le=\"4\"} 3",
            "warpflow_encoder_batch_records_bucket{stream=\"live0\",stage=\"AudioFeatures\",le=\"256\"} 3",
            "warpflow_encoder_batch_records_bucket{stream=\"live0\",stage=\"AudioFeatures\",le=\"+Inf\"} 4",
            "warpflow_encoder_batch_records_sum{stream=\"live0\",stage=\"AudioFeatures\"} 307",
            "warpflow_encoder_batch_records_count{stream=\"live0\",stage=\"AudioFeatures\"} 4",
            "warpflow_encoder_batch_seconds_sum{stream=\"live0\",stage=\"AudioFeatures\"} 0.0015",
            "warpflow_aligner_step_seconds_bucket{stream=\"live0\",le=\"0.000025\"} 1",
            "warpflow_event_latency_seconds_bucket{stream=\"live0\",type=\"offset\",le=\"0.005\"} 1",
            "warpflow_capture_queue_records{stream=\"live0\",medium=\"video\"} 7",
            "# TYPE warpflow_relocation_budget_share gauge",
            "warpflow_relocation_budget_share{stream=\"song\"} 0.5",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn a_forgotten_stream_leaves_no_series_and_the_others_stay() {
        let metrics = EngineMetrics::default();
        for stream in ["gone", "kept"] {
            metrics.aligner(stream, "offset").step_seconds.observe(0.00002);
            metrics.aligner(stream, "position").relocation_budget_share.set(1.0);
            metrics.encoder(stream, "AudioFeatures").batch_records.observe(1.0);
            metrics.queue_depth(stream, "audio").set(3);
            metrics.pictures.offer(stream, 0, 1, 1, &[0]);
        }
        metrics.forget_stream("gone");
        let text = metrics.render();
        assert!(!text.contains("\"gone\""), "{text}");
        assert!(text.contains("warpflow_capture_queue_records{stream=\"kept\",medium=\"audio\"} 3"));
        assert!(metrics.pictures.latest(Some("gone")).is_none());
        assert!(metrics.pictures.latest(Some("kept")).is_some());
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = EngineMetrics::default();
        metrics.queue_depth("a\"b", "audio").set(1);
        assert!(metrics
            .render()
            .contains("warpflow_capture_queue_records{stream=\"a\\\"b\",medium=\"audio\"} 1"));
    }
}
