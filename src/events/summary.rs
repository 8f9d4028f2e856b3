//! The one-line summary that ends every run, gathered from the events as they pass.

use std::collections::VecDeque;

use super::{Event, EventBody, SyncBand};

/// What a run does, which says what its summary reports (and how it says it found nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RunKind {
    /// A/V offsets (`sync`).
    #[default]
    Sync,
    /// Positions in a reference (`follow`).
    Follow,
    /// Snippets found in references (`locate`).
    Locate,
}

/// Live time over which the summary's tempo is the median: long enough to smooth the
/// frame-to-frame estimate, short enough to be the tempo the run ended at.
const TEMPO_SPAN_NS: u64 = 10_000_000_000;

/// What a run amounted to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    kind: RunKind,
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
    /// (live time, tempo) of the provisional positions of the last [`TEMPO_SPAN_NS`].
    recent_tempi: VecDeque<(u64, f64)>,
    /// The latest key estimate of `follow`.
    semitones: Option<i32>,
    /// `locate`'s matches: how many, and the best (lowest cost) with its reference.
    matches: u64,
    best_match: Option<(f64, String, u64)>,
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
    /// An empty summary of a run of `kind`.
    pub fn new(kind: RunKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

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
                live_ns,
                ref_ns,
                tempo,
                confidence,
                semitones,
                ..
            } => {
                self.positions += 1;
                self.position_confidence_sum += confidence;
                self.last_ref_ns = Some(*ref_ns);
                self.semitones = *semitones;
                self.recent_tempi.push_back((*live_ns, *tempo));
                while self
                    .recent_tempi
                    .front()
                    .is_some_and(|(t, _)| t.saturating_add(TEMPO_SPAN_NS) < *live_ns)
                {
                    self.recent_tempi.pop_front();
                }
            }
            EventBody::Match {
                reference,
                ref_start_ns,
                cost,
                ..
            } => {
                self.matches += 1;
                if self.best_match.as_ref().is_none_or(|(best, _, _)| cost < best) {
                    self.best_match = Some((*cost, reference.clone(), *ref_start_ns));
                }
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

    /// The tempo the run ended at: the median of the last 10 s of positions.
    pub fn recent_tempo(&self) -> Option<f64> {
        let tempi: Vec<f64> = self.recent_tempi.iter().map(|(_, tempo)| *tempo).collect();
        median(&tempi)
    }

    /// The summary as one line of text.
    pub fn line(&self) -> String {
        let stream = self.stream.as_deref().unwrap_or("stream");
        let mut parts = vec![format!("summary: {:.1} s of {stream}", self.frontier_ns as f64 / 1e9)];
        parts.push(match self.kind {
            RunKind::Sync => self.offsets_part(),
            RunKind::Follow => self.positions_part(),
            RunKind::Locate => self.matches_part(),
        });
        parts.push(format!(
            "{} records in, {} dropped",
            self.frames_in, self.frames_dropped
        ));
        parts.join(" · ")
    }

    fn offsets_part(&self) -> String {
        let Some(offset) = self.median_offset_ns() else {
            return "no A/V offset estimate (no flashes and beeps, or no motion and sound, found)".to_owned();
        };
        let lock = match self.locked_at_ns {
            Some(ns) => format!("locked {:.1} s after the first estimate", ns as f64 / 1e9),
            None => "never locked".to_owned(),
        };
        let (last_ns, last_confidence) = self.last_offset.unwrap_or((offset, 0.0));
        format!(
            "median A/V offset {:+.1} ms ({}) over {} estimates, median confidence {:.2}, last {:+.1} ms at \
             confidence {:.2}, drift {:+.0} ppm, {lock}",
            offset as f64 / 1e6,
            SyncBand::from_offset_ns(offset).describe(),
            self.offsets_ns.len(),
            median(&self.offset_confidences).unwrap_or(0.0),
            last_ns as f64 / 1e6,
            last_confidence,
            self.last_drift_ppm
        )
    }

    fn positions_part(&self) -> String {
        if self.positions == 0 {
            return "no position (the live stream did not reach the aligner)".to_owned();
        }
        let key = match self.semitones {
            Some(0) => ", in the reference's key".to_owned(),
            Some(up) => format!(
                ", {} semitones {} the reference",
                up.abs(),
                if up > 0 { "above" } else { "below" }
            ),
            None => String::new(),
        };
        format!(
            "{} positions ({} final), last at reference {:.2} s, tempo {:.2} (median of the last 10 s){key}, \
             mean confidence {:.2}",
            self.positions,
            self.final_positions,
            self.last_ref_ns.unwrap_or(0) as f64 / 1e9,
            self.recent_tempo().unwrap_or(1.0),
            self.position_confidence_sum / self.positions as f64
        )
    }

    fn matches_part(&self) -> String {
        match &self.best_match {
            Some((cost, reference, ref_start_ns)) => format!(
                "{} matches, the closest in {reference} at {:.2} s (cost {cost:.3})",
                self.matches,
                *ref_start_ns as f64 / 1e9
            ),
            None => "no match (the live audio was too short, or silent)".to_owned(),
        }
    }
}
