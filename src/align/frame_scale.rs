//! Settings that count frames, taken to frames of another length.
//!
//! The aligner's settings count frames (a band of 500, hypotheses weighed over 250, a place
//! confirmed after 100), and their defaults were chosen for `follow`'s frames of 20 ms. A
//! TorchScript model may frame its features otherwise; a stretch of time then takes another
//! count of its frames. Each settings struct says which of its counts are stretches of time
//! (`scaled_in_time`) and scales them with [`frames_in_time`]; counts that are not (how many
//! steps one side may take in a row, how many hypotheses are followed) stay as they are.
//!
//! This module owns the rounding alone.

/// `frames` counted in frames of one length, counted in frames `factor` times as many per
/// second (2 for frames of 10 ms where the count was for 20 ms): rounded, and at least
/// `at_least`, since a count the aligner needs cannot fall to 0 with a coarse model.
pub(crate) fn frames_in_time(frames: usize, factor: f64, at_least: usize) -> usize {
    ((frames as f64 * factor).round() as usize).max(at_least)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_scale_round_and_keep_their_floor() {
        assert_eq!(frames_in_time(500, 2.0, 2), 1000);
        assert_eq!(frames_in_time(35, 0.8, 1), 28);
        assert_eq!(frames_in_time(3, 0.1, 1), 1);
        assert_eq!(frames_in_time(1, 0.1, 2), 2);
        assert_eq!(frames_in_time(25, 1.0, 1), 25);
    }
}
