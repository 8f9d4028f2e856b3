//! The one-line summary that ends every run, gathered from the events as they pass.

use crate::events::{Event, EventBody, SyncBand};

/// What a run amounted to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    offsets_ns: Vec<i64>,
    offset_confidences: Vec<f64>,
    /// The newest offset and its confidence.
    last_offset: Option<(i64, f64)>,
    last_drift_ppm: f64,
    first_offset_ns: Option<u64>,
    locked_at_ns: Option<u64>,
    positions: u64,
    final_positions: u64,
    position_confidence_sum: f64,
    last_ref_ns: Option<u64>,
    last_tempo: Option<f64>,
    frames_in: u64,
    frames_dropped: u64,
    frontier_ns: u64,
    /// The stream the events were about.
    stream: Option<String>,
}

fn median<T: Copy + PartialOrd>(values: &[T]) -> Option<T> {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    sorted.get(sorted.len() / 2).copied()
}

impl RunSummary {
    /// Takes an event into account.
    pub fn observe(&mut self, event: &Event) {
        if self.stream.is_none() {
            self.stream = Some(event.stream.clone());
        }
        match &event.body {
            EventBody::Offset {
                live_ns,
                av_offset_ns,
                confidence,
                drift_ppm,
                locked,
                ..
            } => {
                self.offsets_ns.push(*av_offset_ns);
                self.offset_confidences.push(*confidence);
                self.last_offset = Some((*av_offset_ns, *confidence));
                self.last_drift_ppm = *drift_ppm;
                let first = *self.first_offset_ns.get_or_insert(*live_ns);
                if *locked && self.locked_at_ns.is_none() {
                    self.locked_at_ns = Some(live_ns.saturating_sub(first));
                }
            }
            EventBody::Position { is_final: true, .. } => self.final_positions += 1,
            EventBody::Position {
                ref_ns,
                tempo,
                confidence,
                ..
            } => {
                self.positions += 1;
                self.position_confidence_sum += confidence;
                self.last_ref_ns = Some(*ref_ns);
                self.last_tempo = Some(*tempo);
            }
            EventBody::Progress {
                frontier_ns,
                frames_in,
                frames_dropped,
                ..
            } => {
                self.frontier_ns = *frontier_ns;
                self.frames_in = *frames_in;
                self.frames_dropped = *frames_dropped;
            }
            _ => {}
        }
    }

    /// Median of all offset estimates, if there were any.
    pub fn median_offset_ns(&self) -> Option<i64> {
        median(&self.offsets_ns)
    }

    /// The summary as one line of text.
    pub fn line(&self) -> String {
        let stream = self.stream.as_deref().unwrap_or("stream");
        let mut parts = vec![format!("summary: {:.1} s of {stream}", self.frontier_ns as f64 / 1e9)];
        if let Some(offset) = self.median_offset_ns() {
            let lock = match self.locked_at_ns {
                Some(ns) => format!("locked {:.1} s after the first estimate", ns as f64 / 1e9),
                None => "never locked".to_owned(),
            };
            let (last_ns, last_confidence) = self.last_offset.unwrap_or((offset, 0.0));
            parts.push(format!(
                "median A/V offset {:+.1} ms ({}) over {} estimates, median confidence {:.2}, last {:+.1} ms at \
                 confidence {:.2}, drift {:+.0} ppm, {lock}",
                offset as f64 / 1e6,
                SyncBand::from_offset_ns(offset).as_str(),
                self.offsets_ns.len(),
                median(&self.offset_confidences).unwrap_or(0.0),
                last_ns as f64 / 1e6,
                last_confidence,
                self.last_drift_ppm
            ));
        } else if self.positions == 0 {
            parts.push("no A/V offset estimate (no flashes and beeps, or no motion and sound, found)".to_owned());
        }
        if self.positions > 0 {
            parts.push(format!(
                "{} positions ({} final), last at reference {:.2} s, tempo {:.2}, mean confidence {:.2}",
                self.positions,
                self.final_positions,
                self.last_ref_ns.unwrap_or(0) as f64 / 1e9,
                self.last_tempo.unwrap_or(1.0),
                self.position_confidence_sum / self.positions as f64
            ));
        }
        parts.push(format!(
            "{} records in, {} dropped",
            self.frames_in, self.frames_dropped
        ));
        parts.join(" · ")
    }
}
