//! Watching one appsink's timestamps for discontinuities: a jump forward (a gap: data that
//! never came) or backward (a timestamp reset), which the graph must hear of rather than have
//! papered over.

/// A jump forward is a gap when it exceeds this, or two buffer durations if those are longer.
const MIN_GAP_NS: u64 = 100_000_000;
/// A step backward is a reset when it exceeds this; smaller ones are jitter.
const MIN_RESET_NS: u64 = 50_000_000;

/// Where the timestamps jumped, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discontinuity {
    /// Running time of the first buffer after the jump.
    pub live_ns: u64,
    /// What happened, in words.
    pub reason: String,
}

/// The timestamps one appsink has seen.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimestampWatch {
    /// Where the previous buffer ended, and its duration.
    previous: Option<(u64, u64)>,
}

impl TimestampWatch {
    /// Takes the next buffer, at `pts_ns` lasting `duration_ns` (0 when unknown).
    pub(crate) fn observe(&mut self, pts_ns: u64, duration_ns: u64) -> Option<Discontinuity> {
        let found = self.previous.and_then(|(end_ns, last_duration_ns)| {
            let gap_limit_ns = MIN_GAP_NS.max(2 * last_duration_ns.max(duration_ns));
            if pts_ns > end_ns + gap_limit_ns {
                Some(Discontinuity {
                    live_ns: pts_ns,
                    reason: format!("gap of {} ms", (pts_ns - end_ns) / 1_000_000),
                })
            } else if pts_ns + MIN_RESET_NS < end_ns {
                Some(Discontinuity {
                    live_ns: pts_ns,
                    reason: format!("timestamp reset ({} ms back)", (end_ns - pts_ns) / 1_000_000),
                })
            } else {
                None
            }
        });
        self.previous = Some((pts_ns + duration_ns, duration_ns));
        found
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
            assert_eq!(watch.observe(i * 33 * MS, 33 * MS), None);
        }
        // A few ms of jitter either way is no discontinuity.
        assert_eq!(watch.observe(10 * 33 * MS + 4 * MS, 33 * MS), None);
        assert_eq!(watch.observe(11 * 33 * MS - 3 * MS, 33 * MS), None);
        let gap = watch.observe(2_000 * MS, 33 * MS).expect("a gap");
        assert_eq!(gap.live_ns, 2_000 * MS);
        assert!(gap.reason.starts_with("gap of 1"), "{}", gap.reason);
        let reset = watch.observe(0, 33 * MS).expect("a reset");
        assert_eq!(reset.reason, "timestamp reset (2033 ms back)");
        assert_eq!(watch.observe(33 * MS, 33 * MS), None);
    }

    #[test]
    fn long_buffers_need_a_longer_jump_to_count_as_a_gap() {
        let mut watch = TimestampWatch::default();
        assert_eq!(watch.observe(0, 200 * MS), None);
        assert_eq!(watch.observe(500 * MS, 200 * MS), None);
        assert!(watch.observe(1_200 * MS, 200 * MS).is_some());
    }
}
