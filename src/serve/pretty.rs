//! A readable live view of the events, one line each, for people watching a terminal.

use std::io::{self, Write};

use crate::events::{Event, EventBody, EventWriter, RunSummary};

/// Positions arrive at the frame rate; people need only a few lines a second.
const POSITION_EVERY_NS: u64 = 250_000_000;

/// Writes events as aligned, readable lines.
pub struct PrettyWriter<W: Write> {
    out: W,
    last_position_ns: Option<u64>,
    show_latency: bool,
}

impl<W: Write> PrettyWriter<W> {
    /// Writes to `out`, with each position's latency.
    pub fn new(out: W) -> Self {
        Self {
            out,
            last_position_ns: None,
            show_latency: true,
        }
    }

    /// Whether positions show their latency: with media read faster than real time
    /// (`--pace fast`) it only measures how far reading has run ahead, so it is left out.
    pub fn showing_latency(mut self, show: bool) -> Self {
        self.show_latency = show;
        self
    }
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The line for one event, or `None` for events not worth a line on their own.
fn describe(event: &Event, show_latency: bool) -> Option<String> {
    let line = match &event.body {
        EventBody::Offset {
            live_ns,
            av_offset_ns,
            drift_ppm,
            locked,
            confidence,
            band,
            region,
            ..
        } => format!(
            "{:>8.2} s  {}  offset {:>+7.1} ms  drift {:>+6.0} ppm  confidence {:.2}  {}{}{}",
            seconds(*live_ns),
            event.stream,
            *av_offset_ns as f64 / 1e6,
            drift_ppm,
            confidence,
            band.describe(),
            region.map_or(String::new(), |[x, y, w, h]| format!(
                "  at x {x:.2} y {y:.2} ({w:.2}×{h:.2})"
            )),
            if *locked { "" } else { "  (settling)" }
        ),
        EventBody::Position {
            live_ns,
            ref_ns,
            tempo,
            confidence,
            latency_ns,
            ..
        } => format!(
            "{:>8.2} s  {}  at reference {:>8.2} s  tempo {:.2}  confidence {:.2}{}",
            seconds(*live_ns),
            event.stream,
            seconds(*ref_ns),
            tempo,
            confidence,
            if show_latency {
                format!("  latency {:.1} ms", *latency_ns as f64 / 1e6)
            } else {
                String::new()
            }
        ),
        EventBody::Progress {
            frontier_ns,
            frames_in,
            frames_dropped,
            stage,
            ref_fraction,
        } => {
            let covered = ref_fraction
                .map(|f| format!("  reference {:.0}%", f * 100.0))
                .unwrap_or_default();
            // Results come out a window after the live time they are about, while the watermark
            // is now: in the time column it would read out of order, so it is said in words.
            format!(
                "{:>8}    {}  {stage}, read up to {:.2} s: {frames_in} records in, {frames_dropped} dropped{covered}",
                "",
                event.stream,
                seconds(*frontier_ns)
            )
        }
        EventBody::Cue { cue, live_ns, .. } => format!("{:>8.2} s  {}  cue {cue}", seconds(*live_ns), event.stream),
        EventBody::Match {
            reference,
            ref_start_ns,
            cost,
            semitones,
            ..
        } => {
            let key = match semitones {
                Some(up) if *up != 0 => format!(", {up:+} semitones"),
                _ => String::new(),
            };
            format!(
                "{:>8}    {}  matches {reference} at {:.2} s (cost {cost:.3}{key})",
                "",
                event.stream,
                seconds(*ref_start_ns)
            )
        }
        EventBody::Lost {
            live_ns,
            reason,
            retries,
        } => {
            format!(
                "{:>8.2} s  {}  LOST: {reason} (retry {retries})",
                seconds(*live_ns),
                event.stream
            )
        }
        EventBody::Recovered { live_ns, retries } => {
            format!(
                "{:>8.2} s  {}  recovered after {retries} retries",
                seconds(*live_ns),
                event.stream
            )
        }
        EventBody::Discont { live_ns, reason, .. } => format!(
            "{:>8.2} s  {}  discontinuity: {reason}",
            seconds(*live_ns),
            event.stream
        ),
        EventBody::Error { reason } => format!("{:>8}    {}  FAILED: {reason}", "", event.stream),
        EventBody::Eos => format!("{:>8}    {}  end of stream", "", event.stream),
    };
    Some(line)
}

impl<W: Write> EventWriter for PrettyWriter<W> {
    fn write_event(&mut self, event: &Event) -> io::Result<()> {
        if let EventBody::Position { live_ns, is_final, .. } = event.body {
            // The settled path comes a band behind; the live view shows where things are now.
            if is_final {
                return Ok(());
            }
            if self
                .last_position_ns
                .is_some_and(|last| live_ns < last + POSITION_EVERY_NS)
            {
                return Ok(());
            }
            self.last_position_ns = Some(live_ns);
        }
        if let Some(line) = describe(event, self.show_latency) {
            writeln!(self.out, "{line}")?;
            self.out.flush()?;
        }
        Ok(())
    }

    fn write_summary(&mut self, summary: &RunSummary) -> io::Result<()> {
        writeln!(self.out, "{}", summary.line())?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Sequencer, SyncBand};

    #[test]
    fn offsets_read_as_milliseconds_with_their_band() {
        let mut out = Vec::new();
        let mut writer = PrettyWriter::new(&mut out);
        let event = Sequencer::default().stamp(
            "live0",
            EventBody::Offset {
                live_ns: 4_100_000_000,
                av_offset_ns: 80_400_000,
                raw_offset_ns: 80_000_000,
                drift_ppm: 0.0,
                locked: true,
                confidence: 0.9,
                band: SyncBand::Undetectable,
                region: Some([0.25, 0.5, 0.125, 0.25]),
                is_final: true,
            },
        );
        writer.write_event(&event).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("offset   +80.4 ms"), "{text}");
        assert!(text.contains("at x 0.25 y 0.50 (0.12×0.25)"), "{text}");
        assert!(text.contains("too small to notice, by BT.1359"), "{text}");
    }
}
