//! `scan_budget`: how much of its relocation budget each of a worker's follow streams may
//! spend, so that the worker keeps real time when it has more streams than it can scan for.
//!
//! A follow stream's work per live frame is its tracker's step, which it cannot go without,
//! and its relocation scan's share, which can wait: a scan that spends half its cells per frame
//! covers the reference in twice as many frames, and finds a jump that much later. The
//! [`ScanBudget`] measures the load the worker's follow streams put on its core (their steps'
//! wall-clock time per frame, times the frames all of them bring a second in real time) and,
//! when it passes [`ScanBudgetPolicy::target_core_share`], lowers every stream's share of its
//! scan budget until it does not; when the load falls well below, the share rises back to
//! the whole budget. Wall-clock time counts what other processes take from the worker as
//! well, so the scans yield on a busy machine too. What a scan finds does not depend on its
//! pace; only when it finds it does.
//!
//! It owns the measurement and the share; it does not touch the followers (the operator hands
//! the share on) and knows nothing of timely.

use std::time::{Duration, Instant};

/// How the scan budget follows the load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanBudgetPolicy {
    /// The share of a core the worker's follow streams may take in real time before their
    /// scans slow down. Below 1 because the worker also captures, encodes and writes events,
    /// and because steps vary from frame to frame: a tick's busiest moments must fit as well
    /// as its mean.
    pub target_core_share: f64,
    /// The smallest share of its budget a scan keeps, so that a jump is still found, late,
    /// on a worker that tracking alone fills.
    pub min_budget_share: f64,
    /// How often the load is measured and the share changed: long enough to hold many
    /// frames of every stream, short enough to follow streams coming and going.
    pub update_every: Duration,
}

impl Default for ScanBudgetPolicy {
    fn default() -> Self {
        Self {
            target_core_share: 0.6,
            min_budget_share: 0.125,
            update_every: Duration::from_millis(500),
        }
    }
}

/// A share is raised when the load is below this fraction of the target, and held between
/// it and the target, so that it does not swing between two values around the target.
const RAISE_BELOW: f64 = 0.85;
/// How much a share rises in one update.
const RAISE_FACTOR: f64 = 1.25;
/// The most a share falls in one update: the load of the next window is measured at the new
/// share before it falls again.
const MAX_FALL: f64 = 0.5;

/// The frames a second a stream brings in real time, as the load counts them: its own rate
/// (`nominal_fps`), or the `frames` it brought over `window` where that is fewer (a camera that
/// stalled, a stream that joined late in the window), and never more (a file played as fast as
/// the machine allows asks no more of the core in real time than live).
pub fn real_time_rate(nominal_fps: f64, frames: u64, window: Duration) -> f64 {
    let seen_fps = frames as f64 / window.as_secs_f64().max(f64::MIN_POSITIVE);
    seen_fps.min(nominal_fps)
}

/// The measured load and the share of the scan budget it allows.
#[derive(Debug, Clone)]
pub struct ScanBudget {
    policy: ScanBudgetPolicy,
    share: f64,
    window_started: Option<Instant>,
    window_busy: Duration,
    window_frames: u64,
}

impl ScanBudget {
    /// The whole budget, until a load says otherwise.
    pub fn new(policy: ScanBudgetPolicy) -> Self {
        Self {
            policy,
            share: 1.0,
            window_started: None,
            window_busy: Duration::ZERO,
            window_frames: 0,
        }
    }

    /// The share of its scan budget each stream may spend now.
    pub fn share(&self) -> f64 {
        self.share
    }

    /// `frames` live frames took `busy` (wall-clock) to follow.
    pub fn record(&mut self, busy: Duration, frames: usize) {
        self.window_busy += busy;
        self.window_frames += frames as u64;
    }

    /// At `now`, with the streams bringing `frames_per_second(window)` live frames a second
    /// between them in real time over the window just ended (see [`real_time_rate`]): once a
    /// window of [`ScanBudgetPolicy::update_every`] has passed with frames in it, measures its
    /// load and returns the new share when it changed.
    pub fn update(&mut self, now: Instant, frames_per_second: impl FnOnce(Duration) -> f64) -> Option<f64> {
        let started = *self.window_started.get_or_insert(now);
        let window = now.duration_since(started);
        if window < self.policy.update_every {
            return None;
        }
        let (busy, frames) = (self.window_busy, self.window_frames);
        self.window_started = Some(now);
        self.window_busy = Duration::ZERO;
        self.window_frames = 0;
        if frames == 0 {
            return None;
        }
        let load = busy.as_secs_f64() / frames as f64 * frames_per_second(window);
        let target = self.policy.target_core_share;
        let share = if load > target {
            // Aimed inside the band where the share holds; the tracker's part of the load does
            // not shrink with the share, so this falls short and the next windows close the rest.
            let aim = target * (1.0 + RAISE_BELOW) / 2.0;
            (self.share * (aim / load).max(MAX_FALL)).max(self.policy.min_budget_share)
        } else if load < target * RAISE_BELOW {
            (self.share * RAISE_FACTOR).min(1.0)
        } else {
            self.share
        };
        if share == self.share {
            return None;
        }
        self.share = share;
        Some(share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_micros(50);

    /// Windows of `frames` frames, each of `busy_per_frame_us(share)` µs at the share in force,
    /// 50 streams of 50 frames a second; the shares after each window.
    fn shares(windows: usize, frames: usize, busy_per_frame_us: impl Fn(f64) -> f64) -> Vec<f64> {
        let mut budget = ScanBudget::new(ScanBudgetPolicy::default());
        let start = Instant::now();
        let mut seen = Vec::new();
        for window in 0..=windows {
            let busy = Duration::from_secs_f64(busy_per_frame_us(budget.share()) * 1e-6 * frames as f64);
            budget.record(busy, frames);
            budget.update(start + FRAME * 10_000 * window as u32, |_| 2_500.0);
            seen.push(budget.share());
        }
        seen
    }

    #[test]
    fn a_light_load_keeps_the_whole_budget() {
        // 100 µs a frame at 2500 frames a second: a quarter of a core.
        assert!(shares(10, 1_000, |_| 100.0).iter().all(|&s| s == 1.0));
    }

    #[test]
    fn a_heavy_load_lowers_the_share_until_the_load_fits() {
        // Tracking 100 µs a frame, scanning 300 µs at the whole budget: 1.0 of a core, 0.6
        // at most wanted, which a share of 0.47 gives.
        let cost = |share: f64| 100.0 + 300.0 * share;
        let seen = shares(12, 1_000, cost);
        assert_eq!(seen[0], 1.0, "the first window only starts the clock");
        assert!(seen.windows(2).take(4).all(|w| w[1] <= w[0]), "{seen:?}");
        let last = *seen.last().unwrap();
        let load = cost(last) * 1e-6 * 2_500.0;
        assert!(
            (0.6 * RAISE_BELOW..=0.6).contains(&load),
            "share {last}, load {load}: {seen:?}"
        );
    }

    #[test]
    fn the_share_rises_back_when_the_load_falls_and_keeps_its_floor() {
        let mut budget = ScanBudget::new(ScanBudgetPolicy::default());
        let start = Instant::now();
        let at = |budget: &mut ScanBudget, window: u32, busy_us: u64| {
            budget.record(Duration::from_micros(busy_us * 1_000), 1_000);
            budget.update(start + FRAME * 10_000 * window, |_| 2_500.0)
        };
        at(&mut budget, 0, 0);
        // Tracking alone takes the whole core: the share falls to its floor and stays.
        for window in 1..10 {
            at(&mut budget, window, 400);
        }
        assert_eq!(budget.share(), 0.125);
        // Streams left: the share climbs back to the whole budget.
        for window in 10..25 {
            at(&mut budget, window, 40);
        }
        assert_eq!(budget.share(), 1.0);
    }

    #[test]
    fn a_stream_counts_at_its_own_rate_or_what_it_brought() {
        let second = Duration::from_secs(1);
        assert_eq!(real_time_rate(50.0, 50, second), 50.0);
        assert_eq!(real_time_rate(50.0, 0, second), 0.0, "stalled");
        assert_eq!(real_time_rate(50.0, 10, second / 2), 20.0, "joined late");
        assert_eq!(real_time_rate(50.0, 5_000, second), 50.0, "played fast");
        // The load is measured over the window's own length.
        let mut budget = ScanBudget::new(ScanBudgetPolicy::default());
        let start = Instant::now();
        budget.update(start, |_| unreachable!("no window yet"));
        budget.record(Duration::from_millis(1), 100);
        let mut seen = None;
        budget.update(start + Duration::from_millis(700), |window| {
            seen = Some(window);
            0.0
        });
        assert_eq!(seen, Some(Duration::from_millis(700)));
    }

    #[test]
    fn no_frames_or_a_short_window_change_nothing() {
        let mut budget = ScanBudget::new(ScanBudgetPolicy::default());
        let start = Instant::now();
        assert_eq!(budget.update(start, |_| 2_500.0), None);
        budget.record(Duration::from_secs(1), 10);
        assert_eq!(budget.update(start + Duration::from_millis(100), |_| 2_500.0), None);
        assert_eq!(budget.update(start + Duration::from_secs(1), |_| 2_500.0), Some(0.5));
        // A window without frames measures nothing.
        assert_eq!(budget.update(start + Duration::from_secs(2), |_| 2_500.0), None);
        assert_eq!(budget.share(), 0.5);
    }
}
