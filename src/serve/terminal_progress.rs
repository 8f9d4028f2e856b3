//! A progress bar on standard error while a run reads files faster than real time, for people
//! who sent the events elsewhere (`follow --pace fast > out.jsonl`): how far the live stream has
//! been read, and for `follow` how much of the reference it has covered. It only draws; every
//! event goes on to the writer it wraps unchanged.

use std::io;

use indicatif::{ProgressBar, ProgressStyle};

use crate::events::{Event, EventBody, EventWriter, RunSummary};

/// The bar counts per mille of the reference (follow) or tenths of a second read (others).
const PER_MILLE: u64 = 1_000;

/// Wraps a writer, drawing a progress bar from its `progress` events.
pub struct TerminalProgress {
    inner: Box<dyn EventWriter + Send>,
    bar: ProgressBar,
    /// Whether the bar measures the reference (once a `progress` event carried `ref_fraction`).
    of_reference: bool,
}

impl TerminalProgress {
    /// Draws on standard error; `what` names the work (e.g. "following live0").
    pub fn on_stderr(inner: Box<dyn EventWriter + Send>, what: &str) -> Self {
        Self::with_bar(inner, ProgressBar::new_spinner(), what)
    }

    /// Draws on `bar` (a hidden one in tests).
    pub fn with_bar(inner: Box<dyn EventWriter + Send>, bar: ProgressBar, what: &str) -> Self {
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed_precise}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(what.to_owned());
        Self {
            inner,
            bar,
            of_reference: false,
        }
    }

    fn show(&mut self, frontier_ns: u64, ref_fraction: Option<f64>, stream: &str) {
        match ref_fraction {
            Some(fraction) => {
                if !self.of_reference {
                    self.of_reference = true;
                    self.bar.set_length(PER_MILLE);
                    self.bar.set_style(
                        ProgressStyle::with_template(
                            "{msg} [{bar:40}] {percent:>3}% of the reference, {elapsed_precise}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                }
                self.bar
                    .set_position((fraction.clamp(0.0, 1.0) * PER_MILLE as f64).round() as u64);
                self.bar
                    .set_message(format!("{stream}: {:.1} s read", frontier_ns as f64 / 1e9));
            }
            None => {
                self.bar.set_position(frontier_ns / 100_000_000);
                self.bar
                    .set_message(format!("{stream}: {:.1} s read", frontier_ns as f64 / 1e9));
            }
        }
    }
}

impl EventWriter for TerminalProgress {
    fn write_event(&mut self, event: &Event) -> io::Result<()> {
        if let EventBody::Progress {
            frontier_ns,
            ref_fraction,
            ..
        } = &event.body
        {
            self.show(*frontier_ns, *ref_fraction, &event.stream);
        }
        self.inner.write_event(event)
    }

    fn write_summary(&mut self, summary: &RunSummary) -> io::Result<()> {
        // The summary takes the bar's place on the terminal.
        self.bar.finish_and_clear();
        self.inner.write_summary(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Sequencer;

    struct Discard;

    impl EventWriter for Discard {
        fn write_event(&mut self, _: &Event) -> io::Result<()> {
            Ok(())
        }
        fn write_summary(&mut self, _: &RunSummary) -> io::Result<()> {
            Ok(())
        }
    }

    fn progress(frontier_ns: u64, ref_fraction: Option<f64>) -> Event {
        Sequencer::default().stamp(
            "live0",
            EventBody::Progress {
                frontier_ns,
                ref_fraction,
                frames_in: 0,
                frames_dropped: 0,
                stage: "aligning".into(),
            },
        )
    }

    #[test]
    fn the_bar_follows_the_reference_covered_or_the_seconds_read() {
        let bar = ProgressBar::hidden();
        let mut follow = TerminalProgress::with_bar(Box::new(Discard), bar.clone(), "following");
        follow.write_event(&progress(3_000_000_000, Some(0.25))).unwrap();
        assert_eq!((bar.position(), bar.length()), (250, Some(PER_MILLE)));
        assert_eq!(bar.message(), "live0: 3.0 s read");

        let bar = ProgressBar::hidden();
        let mut locate = TerminalProgress::with_bar(Box::new(Discard), bar.clone(), "locating");
        locate.write_event(&progress(12_300_000_000, None)).unwrap();
        assert_eq!(bar.position(), 123);
        locate.write_summary(&RunSummary::default()).unwrap();
        assert!(bar.is_finished());
    }
}
