//! Supervision of a live source: when to call it lost, when to rebuild it, when it is back.
//!
//! A live source (camera, network stream) that errors or stalls is not the end of a run: it
//! is reported `lost`, torn down, and rebuilt after a delay that doubles with each failed
//! attempt (exponential backoff, capped), until data flows again and it is `recovered`. Like
//! the official Rust plugins' `fallbacksrc`, a rebuilt source that stays silent counts as a
//! failed attempt. This module decides only; [`Capture`](super::Capture) does the tearing
//! down and rebuilding, so the policy is testable without GStreamer.

use std::time::{Duration, Instant};

use super::timestamp_watch::DiscontinuityKind;

/// Timeouts and retry delays of supervision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupervisionConfig {
    /// A source that delivers nothing for this long is lost (also after a rebuild).
    pub stall_timeout: Duration,
    /// Delay before the first rebuild.
    pub first_retry_delay: Duration,
    /// The longest delay between rebuilds.
    pub max_retry_delay: Duration,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        Self {
            stall_timeout: Duration::from_secs(5),
            first_retry_delay: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(10),
        }
    }
}

/// A change in a supervised source's health, for the graph to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceStatus {
    /// The source failed or stalled and was torn down.
    Lost {
        /// The latest running time captured before the loss.
        live_ns: u64,
        /// Why, in words.
        reason: String,
        /// Failed rebuilds of this outage so far.
        retries: u32,
    },
    /// Data flows again.
    Recovered {
        /// Running time of the first record after the outage.
        live_ns: u64,
        /// Rebuilds it took.
        retries: u32,
    },
    /// The stream broke while data kept flowing: the timestamps jumped (a gap, a reset), or
    /// the source said it lost data.
    Discont {
        /// Running time of the first record after the jump, or of the start of the lost span.
        live_ns: u64,
        /// How it broke.
        kind: DiscontinuityKind,
        /// What happened, in words.
        reason: String,
    },
}

/// What the owner of the pipeline must do, and what to tell the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SupervisorAction {
    /// Tear the pipeline down and report the source lost.
    TearDown {
        /// Why, in words.
        reason: String,
        /// Failed rebuilds of this outage so far.
        retries: u32,
    },
    /// Build and start the pipeline again.
    Rebuild,
    /// Data flows again after an outage.
    Recovered {
        /// Rebuilds it took.
        retries: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Data flowed at `last_data_at`.
    Running { last_data_at: Instant },
    /// Torn down; the next rebuild is due at `retry_at`.
    Down { retry_at: Instant },
    /// Rebuilt at `started_at`, no data yet.
    Restarting { started_at: Instant },
}

/// The supervision state of one live source.
#[derive(Debug, Clone)]
pub(crate) struct Supervisor {
    config: SupervisionConfig,
    phase: Phase,
    /// Rebuilds in the current outage.
    retries: u32,
    frames_seen: u64,
}

impl Supervisor {
    /// A source started at `now`, which has `frames_in` records so far.
    pub(crate) fn new(config: SupervisionConfig, now: Instant, frames_in: u64) -> Self {
        Self {
            config,
            phase: Phase::Restarting { started_at: now },
            retries: 0,
            frames_seen: frames_in,
        }
    }

    /// Looks at the source at `now`, when it has delivered `frames_in` records in all.
    pub(crate) fn observe(&mut self, now: Instant, frames_in: u64) -> Option<SupervisorAction> {
        let new_data = frames_in > self.frames_seen;
        self.frames_seen = frames_in;
        match self.phase {
            Phase::Running { last_data_at } => {
                if new_data {
                    self.phase = Phase::Running { last_data_at: now };
                    None
                } else if now.duration_since(last_data_at) >= self.config.stall_timeout {
                    Some(self.go_down(now, format!("no data for {} ms", self.stall_ms())))
                } else {
                    None
                }
            }
            Phase::Down { retry_at } => (now >= retry_at).then(|| {
                self.phase = Phase::Restarting { started_at: now };
                self.retries += 1;
                SupervisorAction::Rebuild
            }),
            Phase::Restarting { started_at } => {
                if new_data {
                    self.phase = Phase::Running { last_data_at: now };
                    let retries = std::mem::take(&mut self.retries);
                    // The first start is no recovery: nothing was lost.
                    (retries > 0).then_some(SupervisorAction::Recovered { retries })
                } else if now.duration_since(started_at) >= self.config.stall_timeout {
                    Some(self.go_down(now, format!("no data within {} ms of starting", self.stall_ms())))
                } else {
                    None
                }
            }
        }
    }

    /// The pipeline failed at `now` for `reason`.
    pub(crate) fn on_error(&mut self, now: Instant, reason: String) -> Option<SupervisorAction> {
        match self.phase {
            Phase::Down { .. } => None,
            Phase::Running { .. } | Phase::Restarting { .. } => Some(self.go_down(now, reason)),
        }
    }

    /// Whether data has never flowed: then a failure is the input's fault, not an outage.
    pub(crate) fn never_started(&self) -> bool {
        self.frames_seen == 0 && self.retries == 0
    }

    fn go_down(&mut self, now: Instant, reason: String) -> SupervisorAction {
        let delay = self
            .config
            .first_retry_delay
            .saturating_mul(1u32 << self.retries.min(16))
            .min(self.config.max_retry_delay);
        self.phase = Phase::Down { retry_at: now + delay };
        SupervisorAction::TearDown {
            reason,
            retries: self.retries,
        }
    }

    fn stall_ms(&self) -> u128 {
        self.config.stall_timeout.as_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn config() -> SupervisionConfig {
        SupervisionConfig {
            stall_timeout: 1_000 * MS,
            first_retry_delay: 100 * MS,
            max_retry_delay: 300 * MS,
        }
    }

    #[test]
    fn a_stall_is_lost_then_rebuilt_with_growing_delays_until_data_returns() {
        let t0 = Instant::now();
        let mut supervisor = Supervisor::new(config(), t0, 0);
        assert_eq!(supervisor.observe(t0 + 10 * MS, 5), None);
        assert_eq!(supervisor.observe(t0 + 500 * MS, 9), None);
        assert_eq!(supervisor.observe(t0 + 1_400 * MS, 9), None);
        assert_eq!(
            supervisor.observe(t0 + 1_500 * MS, 9),
            Some(SupervisorAction::TearDown {
                reason: "no data for 1000 ms".into(),
                retries: 0
            })
        );
        // First rebuild after 100 ms.
        assert_eq!(supervisor.observe(t0 + 1_599 * MS, 9), None);
        assert_eq!(supervisor.observe(t0 + 1_600 * MS, 9), Some(SupervisorAction::Rebuild));
        // The rebuilt source stays silent: a failed retry, the next after 200 ms.
        assert_eq!(
            supervisor.observe(t0 + 2_600 * MS, 9),
            Some(SupervisorAction::TearDown {
                reason: "no data within 1000 ms of starting".into(),
                retries: 1
            })
        );
        assert_eq!(supervisor.observe(t0 + 2_799 * MS, 9), None);
        assert_eq!(supervisor.observe(t0 + 2_800 * MS, 9), Some(SupervisorAction::Rebuild));
        // This one errors at once; the delay is capped at 300 ms.
        assert!(matches!(
            supervisor.on_error(t0 + 2_900 * MS, "connection refused".into()),
            Some(SupervisorAction::TearDown { retries: 2, .. })
        ));
        assert_eq!(supervisor.on_error(t0 + 2_950 * MS, "again".into()), None);
        assert_eq!(supervisor.observe(t0 + 3_199 * MS, 9), None);
        assert_eq!(supervisor.observe(t0 + 3_200 * MS, 9), Some(SupervisorAction::Rebuild));
        assert_eq!(
            supervisor.observe(t0 + 3_300 * MS, 12),
            Some(SupervisorAction::Recovered { retries: 3 })
        );
        // A new outage starts counting afresh.
        assert!(matches!(
            supervisor.on_error(t0 + 3_400 * MS, "gone".into()),
            Some(SupervisorAction::TearDown { retries: 0, .. })
        ));
    }

    #[test]
    fn the_first_start_is_no_recovery_and_a_source_that_never_started_is_known() {
        let t0 = Instant::now();
        let mut supervisor = Supervisor::new(config(), t0, 0);
        assert!(supervisor.never_started());
        assert_eq!(supervisor.observe(t0 + 50 * MS, 1), None);
        assert!(!supervisor.never_started());
    }
}
