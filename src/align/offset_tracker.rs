//! Smoothing raw A/V offset estimates into a tracked offset and drift (a Kalman filter).
//!
//! The state is the offset (ms) and its drift (ms per second, i.e. thousandths: 1 ms/s is
//! 1000 ppm), which a constant-velocity model carries from one estimate to the next. Each raw
//! estimate is a measurement whose noise grows as its confidence falls. An estimate too far
//! from the prediction (beyond `gate_sigmas` standard deviations) is set aside as an outlier;
//! several in a row mean the offset really changed (a re-cut, a new source) and the filter
//! starts over from the newest. The track is *locked* once the offset's standard deviation is
//! below `lock_std_ms` after at least `lock_min_estimates` estimates; the time from the first
//! estimate to the first locked one is the time-to-lock (the run summary reports it).
//!
//! Estimates come in two kinds. Those of flashes and beeps ([`OffsetTracker::update`]) are
//! independent window by window, so their agreement is the evidence: their confidence only
//! weighs them. Those whose confidence is calibrated against chance and that build on one
//! another (the region estimator's, [`OffsetTracker::update_calibrated`]) must themselves be
//! sure: only those of `lock_min_confidence` or more count towards lock, and the newest must be
//! that sure to keep it; one below `track_min_confidence` does not move the track at all (the
//! track is carried to its time unchanged, and where there is none the estimate is passed on as
//! it is, unlocked). So chance correlations (another person's speech over a face) neither lock
//! nor drag a track that sure estimates made.

use super::AlignError;

/// Settings of the offset tracker.
#[derive(Debug, Clone, PartialEq)]
pub struct OffsetTrackerConfig {
    /// Standard deviation of a raw estimate made with confidence 1.
    pub measurement_std_ms: f64,
    /// How fast the offset may wander by itself, in ms per √s.
    pub offset_wander_ms: f64,
    /// How fast the drift may change, in ms/s per √s.
    pub drift_wander_ms_per_s: f64,
    /// Estimates further than this many standard deviations from the prediction are outliers.
    pub gate_sigmas: f64,
    /// Outliers in a row after which the filter starts over.
    pub outliers_to_reset: u32,
    /// Offset standard deviation below which the track is locked.
    pub lock_std_ms: f64,
    /// Estimates needed before the track can lock.
    pub lock_min_estimates: u32,
    /// Confidence a calibrated estimate needs to count towards lock, and the newest one to keep
    /// it.
    pub lock_min_confidence: f64,
    /// Confidence below which a calibrated estimate does not move the track at all.
    pub track_min_confidence: f64,
}

impl Default for OffsetTrackerConfig {
    fn default() -> Self {
        Self {
            measurement_std_ms: 3.0,
            offset_wander_ms: 0.5,
            drift_wander_ms_per_s: 0.01,
            gate_sigmas: 5.0,
            outliers_to_reset: 3,
            lock_std_ms: 4.0,
            lock_min_estimates: 3,
            lock_min_confidence: 0.5,
            track_min_confidence: 0.1,
        }
    }
}

impl OffsetTrackerConfig {
    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), AlignError> {
        let positive = [
            ("measurement_std_ms", self.measurement_std_ms),
            ("offset_wander_ms", self.offset_wander_ms),
            ("drift_wander_ms_per_s", self.drift_wander_ms_per_s),
            ("gate_sigmas", self.gate_sigmas),
            ("lock_std_ms", self.lock_std_ms),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(AlignError::BadParameter {
                    name,
                    expected: "finite and above 0",
                    actual: value.to_string(),
                });
            }
        }
        for (name, value) in [
            ("lock_min_confidence", self.lock_min_confidence),
            ("track_min_confidence", self.track_min_confidence),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(AlignError::BadParameter {
                    name,
                    expected: "between 0 and 1",
                    actual: value.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// The tracked offset after an estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackedOffset {
    /// The time the offset is for (that of the last estimate).
    pub time_ns: u64,
    /// Smoothed offset; positive when audio comes later than video.
    pub offset_ns: i64,
    /// How fast the offset changes, in parts per million (positive: audio falls further behind).
    pub drift_ppm: f64,
    /// Standard deviation of the smoothed offset.
    pub std_ns: f64,
    /// Whether the track has settled (see the module docs).
    pub locked: bool,
    /// Whether this estimate was set aside as an outlier.
    pub outlier: bool,
}

/// Kalman filter over (offset, drift).
#[derive(Debug)]
pub struct OffsetTracker {
    config: OffsetTrackerConfig,
    /// (time s, offset ms, drift ms/s, covariance [[oo, od], [od, dd]])
    state: Option<(f64, f64, f64, [[f64; 2]; 2])>,
    /// Estimates in the track as sure as `lock_min_confidence`.
    estimates: u32,
    outliers_in_a_row: u32,
}

impl TrackedOffset {
    /// The offset carried to `time_ns` by the tracked drift.
    pub fn offset_at_ns(&self, time_ns: u64) -> i64 {
        let elapsed_ns = time_ns as f64 - self.time_ns as f64;
        self.offset_ns + (elapsed_ns * self.drift_ppm * 1e-6).round() as i64
    }
}

impl OffsetTracker {
    /// A tracker with no estimates yet.
    pub fn new(config: OffsetTrackerConfig) -> Result<Self, AlignError> {
        config.validate()?;
        Ok(Self {
            config,
            state: None,
            estimates: 0,
            outliers_in_a_row: 0,
        })
    }

    /// Forgets every estimate: the next one starts the track afresh and lock must be earned
    /// again (after an outage, when the offset may have changed).
    pub fn forget(&mut self) {
        self.state = None;
        self.estimates = 0;
        self.outliers_in_a_row = 0;
    }

    /// Takes a raw estimate that holds at `time_ns` (for an estimate over a window, its centre)
    /// with `confidence` in [0, 1].
    pub fn update(&mut self, time_ns: u64, raw_offset_ns: i64, confidence: f64) -> TrackedOffset {
        self.take(time_ns, raw_offset_ns, confidence, true)
    }

    /// Takes a raw estimate whose confidence is calibrated against chance (see the module
    /// docs): it moves the track only from `track_min_confidence`, and counts towards lock only
    /// from `lock_min_confidence`.
    pub fn update_calibrated(&mut self, time_ns: u64, raw_offset_ns: i64, confidence: f64) -> TrackedOffset {
        if confidence < self.config.track_min_confidence {
            return self.carried_to(time_ns, raw_offset_ns);
        }
        let sure = confidence >= self.config.lock_min_confidence;
        self.take(time_ns, raw_offset_ns, confidence, sure)
    }

    /// Takes an estimate into the filter; `sure` says whether it counts towards lock.
    fn take(&mut self, time_ns: u64, raw_offset_ns: i64, confidence: f64, sure: bool) -> TrackedOffset {
        let time_s = time_ns as f64 / 1e9;
        let measured_ms = raw_offset_ns as f64 / 1e6;
        let measurement_var = (self.config.measurement_std_ms / confidence.clamp(0.05, 1.0)).powi(2);

        let mut outlier = false;
        match self.state {
            None => self.restart(time_s, measured_ms, measurement_var, sure),
            Some((last_s, offset, drift, p)) => {
                let dt = (time_s - last_s).max(0.0);
                // Predict with the constant-drift model.
                let predicted = offset + drift * dt;
                let q_offset = self.config.offset_wander_ms.powi(2) * dt;
                let q_drift = self.config.drift_wander_ms_per_s.powi(2) * dt;
                let p00 = p[0][0] + 2.0 * dt * p[0][1] + dt * dt * p[1][1] + q_offset;
                let p01 = p[0][1] + dt * p[1][1];
                let p11 = p[1][1] + q_drift;
                let innovation = measured_ms - predicted;
                let innovation_var = p00 + measurement_var;
                if innovation * innovation > self.config.gate_sigmas.powi(2) * innovation_var {
                    outlier = true;
                    self.outliers_in_a_row += 1;
                    if self.outliers_in_a_row >= self.config.outliers_to_reset {
                        self.restart(time_s, measured_ms, measurement_var, sure);
                    } else {
                        self.state = Some((time_s, predicted, drift, [[p00, p01], [p01, p11]]));
                    }
                } else {
                    self.outliers_in_a_row = 0;
                    let (k0, k1) = (p00 / innovation_var, p01 / innovation_var);
                    let covariance = [[(1.0 - k0) * p00, (1.0 - k0) * p01], [(1.0 - k0) * p01, p11 - k1 * p01]];
                    self.state = Some((time_s, predicted + k0 * innovation, drift + k1 * innovation, covariance));
                    self.estimates += u32::from(sure);
                }
            }
        }
        let (_, offset, drift, p) =
            self.state
                .unwrap_or((time_s, measured_ms, 0.0, [[measurement_var, 0.0], [0.0, 0.0]]));
        let std_ms = p[0][0].max(0.0).sqrt();
        let locked = sure && self.estimates >= self.config.lock_min_estimates && std_ms < self.config.lock_std_ms;

        TrackedOffset {
            time_ns,
            offset_ns: (offset * 1e6).round() as i64,
            drift_ppm: drift * 1e3,
            std_ns: std_ms * 1e6,
            locked,
            outlier,
        }
    }

    /// The track as it stands, carried to `time_ns` by its drift (never locked: the newest
    /// estimate was unsure); with no track, `raw_offset_ns` itself.
    fn carried_to(&self, time_ns: u64, raw_offset_ns: i64) -> TrackedOffset {
        let (offset_ns, drift_ppm, std_ns) = match self.state {
            Some((last_s, offset, drift, p)) => {
                let dt = (time_ns as f64 / 1e9 - last_s).max(0.0);
                ((offset + drift * dt) * 1e6, drift * 1e3, p[0][0].max(0.0).sqrt() * 1e6)
            }
            None => (raw_offset_ns as f64, 0.0, f64::INFINITY),
        };
        TrackedOffset {
            time_ns,
            offset_ns: offset_ns.round() as i64,
            drift_ppm,
            std_ns,
            locked: false,
            outlier: false,
        }
    }

    fn restart(&mut self, time_s: f64, measured_ms: f64, measurement_var: f64, sure: bool) {
        let initial_drift_var = 1.0; // (1 ms/s)²: drift unknown up to 1000 ppm
        self.state = Some((
            time_s,
            measured_ms,
            0.0,
            [[measurement_var, 0.0], [0.0, initial_drift_var]],
        ));
        self.estimates = u32::from(sure);
        self.outliers_in_a_row = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    fn noise(i: u64) -> f64 {
        // Deterministic, zero-mean, within ±1.
        ((i.wrapping_mul(2_654_435_761) % 2001) as f64 - 1000.0) / 1000.0
    }

    #[test]
    fn settles_on_a_steady_offset_and_locks() {
        let mut tracker = OffsetTracker::new(OffsetTrackerConfig::default()).unwrap();
        let tracked: Vec<TrackedOffset> = (0..20u64)
            .map(|i| {
                let raw = 80 * MS + (noise(i) * 4.0 * MS as f64) as i64;
                tracker.update(1_500_000_000 + i * 500_000_000, raw, 0.9)
            })
            .collect();
        let last = tracked.last().unwrap();
        assert!((last.offset_ns - 80 * MS).abs() < 2 * MS, "offset {}", last.offset_ns);
        assert!(last.locked);
        let first_lock = tracked.iter().find(|t| t.locked).unwrap();
        assert!(
            first_lock.time_ns - tracked[0].time_ns <= 3_000_000_000,
            "locked at {} ns",
            first_lock.time_ns
        );
    }

    #[test]
    fn follows_drift() {
        let mut tracker = OffsetTracker::new(OffsetTrackerConfig::default()).unwrap();
        let drift_ppm = 1_000.0;
        let mut last = None;
        for i in 0..80u64 {
            let t_s = 1.0 + i as f64 * 0.5;
            let raw = (40.0 + drift_ppm * 1e-3 * t_s) * 1e6 + noise(i) * 2e6;
            last = Some(tracker.update((t_s * 1e9) as u64, raw as i64, 1.0));
        }
        let last = last.unwrap();
        assert!(
            (last.drift_ppm - drift_ppm).abs() < 150.0,
            "drift {} ppm",
            last.drift_ppm
        );
        let truth = (40.0 + drift_ppm * 1e-3 * 40.5) * 1e6;
        assert!(
            (last.offset_ns as f64 - truth).abs() < 3e6,
            "offset {} vs {truth}",
            last.offset_ns
        );
    }

    #[test]
    fn unsure_estimates_never_lock_and_too_unsure_ones_leave_the_track_alone() {
        let mut tracker = OffsetTracker::new(OffsetTrackerConfig::default()).unwrap();
        let first = tracker.update_calibrated(0, 70 * MS, 0.05);
        assert_eq!((first.offset_ns, first.locked), (70 * MS, false));
        for i in 1..20u64 {
            let tracked = tracker.update_calibrated(i * 500_000_000, 40 * MS, 0.3);
            assert!(!tracked.locked, "locked on confidence 0.3");
        }
        let before = tracker.update_calibrated(10_000_000_000, 40 * MS, 0.3).offset_ns;
        let unsure = tracker.update_calibrated(10_500_000_000, -300 * MS, 0.01);
        assert!(!unsure.locked);
        assert!((unsure.offset_ns - before).abs() < MS, "moved to {}", unsure.offset_ns);
        for i in 0..6u64 {
            tracker.update_calibrated(11_000_000_000 + i * 500_000_000, 40 * MS, 0.9);
        }
        assert!(tracker.update_calibrated(14_000_000_000, 40 * MS, 0.9).locked);
        assert!(!tracker.update_calibrated(14_500_000_000, 40 * MS, 0.2).locked);
    }

    #[test]
    fn sets_aside_a_stray_estimate_and_restarts_after_a_real_jump() {
        let mut tracker = OffsetTracker::new(OffsetTrackerConfig::default()).unwrap();
        for i in 0..10u64 {
            tracker.update(i * 500_000_000, 50 * MS, 1.0);
        }
        let stray = tracker.update(5_000_000_000, 300 * MS, 1.0);
        assert!(stray.outlier);
        assert!((stray.offset_ns - 50 * MS).abs() < 2 * MS);
        let mut after = None;
        for i in 0..6u64 {
            after = Some(tracker.update(5_500_000_000 + i * 500_000_000, -100 * MS, 1.0));
        }
        let after = after.unwrap();
        assert!(!after.outlier);
        assert!(
            (after.offset_ns + 100 * MS).abs() < 2 * MS,
            "offset {}",
            after.offset_ns
        );
    }
}
