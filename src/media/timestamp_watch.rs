//! Watching one appsink's stream for discontinuities: a jump forward in the timestamps (a gap:
//! data that never came), a jump backward (a timestamp reset), or data the source itself says
//! it lost (a GAP event, or a buffer flagged DISCONT), which the graph must hear of rather than
//! have papered over.

/// A jump forward is a gap when it exceeds this, or two buffer durations if those are longer.
const MIN_GAP_NS: u64 = 100_000_000;
/// A step backward is a reset when it exceeds this; smaller ones are jitter.
const MIN_RESET_NS: u64 = 50_000_000;
/// Data missing before a DISCONT-flagged buffer is named when it exceeds this.
const MIN_NAMED_LOSS_NS: u64 = 1_000_000;

/// What kind of discontinuity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscontinuityKind {
    /// The timestamps jumped forward: data never came, and nothing said why.
    Gap,
    /// The timestamps went back.
    Reset,
    /// The source said it lost data (a GAP event, a DISCONT flag); the time axis goes on.
    Loss,
}

/// Where the stream broke, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discontinuity {
    /// Running time of the first buffer after the jump, or of the start of the lost span.
    pub live_ns: u64,
    pub kind: DiscontinuityKind,
    /// What happened, in words.
    pub reason: String,
}

/// What one appsink has seen.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimestampWatch {
    /// Where the previous buffer (or announced gap) ended, and the buffer's duration.
    previous: Option<(u64, u64)>,
    /// A GAP event came after the last buffer: the next buffer's DISCONT flag is that loss.
    loss_reported: bool,
    /// Where the span the last GAP event announced starts, until data from after it comes: a
    /// filter that delays (a resampler) may still hand over the end of what came before it.
    announced_start_ns: Option<u64>,
}

impl TimestampWatch {
    /// Takes the next buffer, at `pts_ns` lasting `duration_ns` (0 when unknown), flagged
    /// DISCONT or not. The first buffer is never a discontinuity: streams start flagged.
    pub(crate) fn observe(&mut self, pts_ns: u64, duration_ns: u64, flagged: bool) -> Option<Discontinuity> {
        if let Some(start_ns) = self.announced_start_ns.take() {
            if pts_ns < start_ns && pts_ns + MIN_RESET_NS >= start_ns {
                // The delayed end of the data before the announced span: no jump.
                self.announced_start_ns = Some(start_ns);
                return None;
            }
        }
        let loss_reported = std::mem::take(&mut self.loss_reported);
        let found = self.previous.and_then(|(end_ns, last_duration_ns)| {
            let gap_limit_ns = MIN_GAP_NS.max(2 * last_duration_ns.max(duration_ns));
            let (kind, reason) = if pts_ns > end_ns + gap_limit_ns {
                (
                    DiscontinuityKind::Gap,
                    format!("gap of {} ms", (pts_ns - end_ns) / 1_000_000),
                )
            } else if pts_ns + MIN_RESET_NS < end_ns {
                let back_ms = (end_ns - pts_ns) / 1_000_000;
                (DiscontinuityKind::Reset, format!("timestamp reset ({back_ms} ms back)"))
            } else if flagged && !loss_reported {
                let missing_ns = pts_ns.saturating_sub(end_ns);
                let reason = if missing_ns > MIN_NAMED_LOSS_NS {
                    format!(
                        "the source marked a discontinuity: {} ms of data missing",
                        missing_ns / 1_000_000
                    )
                } else {
                    "the source marked a discontinuity".to_string()
                };
                (DiscontinuityKind::Loss, reason)
            } else {
                return None;
            };
            Some(Discontinuity {
                live_ns: pts_ns,
                kind,
                reason,
            })
        });
        self.previous = Some((pts_ns + duration_ns, duration_ns));
        found
    }

    /// Takes a GAP event: no data from `start_ns` for `duration_ns` (`None` when unknown). Before
    /// the first buffer it says nothing (some elements announce a gap until data starts).
    pub(crate) fn observe_gap(&mut self, start_ns: u64, duration_ns: Option<u64>) -> Option<Discontinuity> {
        let (end_ns, last_duration_ns) = self.previous?;
        let span_end_ns = start_ns + duration_ns.unwrap_or(0);
        self.previous = Some((end_ns.max(span_end_ns), last_duration_ns));
        self.loss_reported = true;
        self.announced_start_ns = Some(start_ns);
        let reason = match duration_ns {
            Some(ns) => format!("the source reported {} ms without data (GAP event)", ns / 1_000_000),
            None => "the source reported a span without data (GAP event)".to_string(),
        };
        Some(Discontinuity {
            live_ns: start_ns,
            kind: DiscontinuityKind::Loss,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn steady_buffers_and_jitter_pass_gaps_and_resets_are_named() {
        let mut watch = TimestampWatch::default();
        for i in 0..10 {
            assert_eq!(watch.observe(i * 33 * MS, 33 * MS, i == 0), None);
        }
        // A few ms of jitter either way is no discontinuity.
        assert_eq!(watch.observe(10 * 33 * MS + 4 * MS, 33 * MS, false), None);
        assert_eq!(watch.observe(11 * 33 * MS - 3 * MS, 33 * MS, false), None);
        let gap = watch.observe(2_000 * MS, 33 * MS, true).expect("a gap");
        assert_eq!(gap.live_ns, 2_000 * MS);
        assert!(gap.reason.starts_with("gap of 1"), "{}", gap.reason);
        assert_eq!(gap.kind, DiscontinuityKind::Gap);
        let reset = watch.observe(0, 33 * MS, true).expect("a reset");
        assert_eq!(reset.reason, "timestamp reset (2033 ms back)");
        assert_eq!(reset.kind, DiscontinuityKind::Reset);
        assert_eq!(watch.observe(33 * MS, 33 * MS, false), None);
    }

    #[test]
    fn long_buffers_need_a_longer_jump_to_count_as_a_gap() {
        let mut watch = TimestampWatch::default();
        assert_eq!(watch.observe(0, 200 * MS, false), None);
        assert_eq!(watch.observe(500 * MS, 200 * MS, false), None);
        assert!(watch.observe(1_200 * MS, 200 * MS, false).is_some());
    }

    #[test]
    fn losses_the_source_marks_are_named_once() {
        let mut watch = TimestampWatch::default();
        // Before any data a GAP event says nothing.
        assert_eq!(watch.observe_gap(0, Some(20 * MS)), None);
        assert_eq!(watch.observe(0, 20 * MS, true), None);
        assert_eq!(watch.observe(20 * MS, 20 * MS, false), None);
        // A lost packet: a GAP event for its span, then the next buffer flagged DISCONT.
        let gap = watch.observe_gap(40 * MS, Some(20 * MS)).expect("a loss");
        assert_eq!((gap.live_ns, gap.kind), (40 * MS, DiscontinuityKind::Loss));
        assert_eq!(gap.reason, "the source reported 20 ms without data (GAP event)");
        assert_eq!(watch.observe(60 * MS, 20 * MS, true), None, "the same loss, told twice");
        // A loss marked by the flag alone, with its missing span, and one without a span.
        let flagged = watch.observe(100 * MS, 20 * MS, true).expect("a loss");
        assert_eq!(flagged.kind, DiscontinuityKind::Loss);
        assert_eq!(
            flagged.reason,
            "the source marked a discontinuity: 20 ms of data missing"
        );
        let flagged = watch.observe(120 * MS, 20 * MS, true).expect("a loss");
        assert_eq!(flagged.reason, "the source marked a discontinuity");
        // A long GAP event moves the expected time on: the data after it is no gap, nor is
        // the delayed end of what came before it (a resampler drains after the event).
        assert!(watch.observe_gap(140 * MS, Some(2_000 * MS)).is_some());
        assert_eq!(watch.observe(138 * MS, 2 * MS, false), None);
        assert_eq!(watch.observe(2_140 * MS, 20 * MS, false), None);
        // Once data after the span has come, going back is a reset again.
        let reset = watch.observe(140 * MS, 20 * MS, false).expect("a reset");
        assert_eq!(reset.kind, DiscontinuityKind::Reset);
    }
}
