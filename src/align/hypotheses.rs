//! Relocation hypotheses: a place the relocation search found, followed beside the tracker
//! until the evidence of the following seconds decides between them.
//!
//! One scan's best match is no reason to move: in a strophic song every verse matches the
//! window as well as the one being played, an introduction matches its postlude, a held chord
//! matches every other. So a candidate starts a hypothesis, its own [`OnlineTimeWarper`]
//! restarted at the candidate, and every live frame is weighed at both places: the distance of
//! the frame to the reference frame the hypothesis puts it at, and along the best path that
//! stays within `tracked_slack_frames` of the tracker's place (moving at most one frame a frame
//! against it, so that the tracker a little off is not lost, but a lost one cannot take each
//! frame's best match from the music around it). The tracker moves to the hypothesis only
//! when its frames have matched clearly better (`max_cost_ratio`) for long enough: the more
//! clearly, the sooner (`evidence_frames`) — the any-time tracking of Arzt & Widmer, where
//! several positions are followed in parallel and chosen on accumulated evidence. A hypothesis that has not won
//! within `max_frames`, or that runs into the tracker's own place, is dropped. While the
//! tracker's place is only assumed (a stream's start, before anything confirmed it), a place
//! that matches as a performance matches its reference wins on a laxer ratio.
//!
//! This module owns the hypotheses and their evidence; it does not own the tracker (the
//! [`super::Follower`] passes the tracker's position and acts on what is decided here).

use std::sync::Arc;

use super::frame_scale::frames_in_time;
use super::{inverse_norm, AlignError, Distance, FeatureMatrix, OltwConfig, OnlineTimeWarper, RelocationCandidate};

/// Added to every frame's distance on both sides of a cost ratio (cosine distances of matching
/// frames run from about 0.05 to 0.3).
const COST_FLOOR: f64 = 0.01;

/// How hypotheses are weighed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HypothesisConfig {
    /// Hypotheses followed at once; a new candidate replaces the one with the least evidence
    /// for it when all are taken.
    pub max_hypotheses: usize,
    /// Live frames a hypothesis is followed before it may win, however clearly it leads.
    pub min_frames: usize,
    /// The evidence a hypothesis needs: frames followed × (1 − its cost ratio). At the largest
    /// ratio allowed this takes `evidence_frames / (1 − max_cost_ratio)` frames; a place that
    /// matches far better than the tracked one (a real jump) wins sooner.
    pub evidence_frames: f64,
    /// The evidence a hypothesis needs while the tracker's place is only assumed (see
    /// `unconfirmed_max_cost_ratio`); as much as `evidence_frames` unless the features ask more.
    /// With features that tell a song's verses apart less than they tell it from other music,
    /// another verse can beat an assumed start clearly over a few frames, and only seconds of
    /// evidence tell the verse played from the others.
    pub unconfirmed_evidence_frames: f64,
    /// Live frames after which a hypothesis that has not won is dropped.
    pub max_frames: usize,
    /// A hypothesis wins when its mean distance over the frames it was followed is at most this
    /// fraction of the tracker's over the same frames.
    pub max_cost_ratio: f32,
    /// While the tracker's place is only assumed (see [`Hypotheses::set_tracked_place_confirmed`]),
    /// a hypothesis also wins at up to this fraction, provided it matches as another
    /// performance matches its reference (`unconfirmed_max_mean_distance`): a join minutes into
    /// a performance is then placed without waiting for the assumed start to lose clearly.
    pub unconfirmed_max_cost_ratio: f32,
    /// The largest mean distance at which a hypothesis wins on `unconfirmed_max_cost_ratio`.
    /// A live stream that is not the reference at all (a talk) finds places that beat an
    /// assumed start by as much as a late join does, but matches them worse than a
    /// performance matches its reference.
    pub unconfirmed_max_mean_distance: f64,
    /// Live frames in a row at a confidence of 0.5 or more that confirm the tracker's place.
    pub confirming_frames: usize,
    /// Reference frames within which a hypothesis is the tracker's own place (dropped), or a
    /// candidate is a hypothesis already followed (ignored).
    pub same_place_frames: usize,
    /// The tracked place is weighed along the best path within this many reference frames of
    /// the tracker's, its shift from the tracker's changing by at most one frame a frame: a
    /// tracker a little ahead or behind (as it is while it finds its tempo, or at a fermata) is
    /// not lost, and a far place must beat where the stream nearly is, not where the tracker has
    /// strayed to. A path, not the best reference frame for each live frame: frame by frame, a
    /// lost tracker would find some match for every frame in the seconds of music around it.
    pub tracked_slack_frames: usize,
}

impl Default for HypothesisConfig {
    fn default() -> Self {
        Self {
            max_hypotheses: 3,
            // From 0.4 s to 1 s after the candidate (at a 20 ms hop): with the search window of
            // seconds that found the candidate, a decision rests on several seconds.
            min_frames: 15,
            evidence_frames: 8.0,
            unconfirmed_evidence_frames: 8.0,
            max_frames: 250,
            max_cost_ratio: 0.75,
            // Chosen with `benches/eval/run.py` on the harness's late joins and negative
            // controls (`benches/RESULTS.md`, 2026-12-07, says which were in view).
            unconfirmed_max_cost_ratio: 0.9,
            unconfirmed_max_mean_distance: 0.2,
            // Two seconds at a 20 ms hop.
            confirming_frames: 100,
            same_place_frames: 25,
            tracked_slack_frames: 50,
        }
    }
}

impl HypothesisConfig {
    /// These settings for frames `factor` times as many per second (see
    /// [`super::FollowerConfig::scaled_in_time`]): a hypothesis is followed, weighed and
    /// confirmed over as much time, and places as near in time count as one.
    pub fn scaled_in_time(&self, factor: f64) -> Self {
        let min_frames = frames_in_time(self.min_frames, factor, 1);
        Self {
            min_frames,
            evidence_frames: self.evidence_frames * factor,
            unconfirmed_evidence_frames: self.unconfirmed_evidence_frames * factor,
            max_frames: frames_in_time(self.max_frames, factor, min_frames),
            confirming_frames: frames_in_time(self.confirming_frames, factor, 1),
            same_place_frames: frames_in_time(self.same_place_frames, factor, 0),
            tracked_slack_frames: frames_in_time(self.tracked_slack_frames, factor, 0),
            ..*self
        }
    }

    /// Checks the settings, naming the one at fault.
    pub fn validate(&self) -> Result<(), AlignError> {
        let bad =
            |name, expected: &'static str, actual: String| Err(AlignError::BadParameter { name, expected, actual });
        if self.max_hypotheses == 0 {
            return bad("max_hypotheses", "at least 1", self.max_hypotheses.to_string());
        }
        if self.min_frames == 0 || self.max_frames < self.min_frames {
            return bad(
                "hypothesis frames",
                "0 < min_frames <= max_frames",
                format!("{} and {}", self.min_frames, self.max_frames),
            );
        }
        for (name, frames) in [
            ("hypothesis evidence_frames", self.evidence_frames),
            (
                "hypothesis unconfirmed_evidence_frames",
                self.unconfirmed_evidence_frames,
            ),
        ] {
            if !(frames > 0.0 && frames.is_finite()) {
                return bad(name, "above 0", frames.to_string());
            }
        }
        if !(self.max_cost_ratio > 0.0
            && self.max_cost_ratio <= self.unconfirmed_max_cost_ratio
            && self.unconfirmed_max_cost_ratio < 1.0)
        {
            return bad(
                "hypothesis max_cost_ratio",
                "0 < max_cost_ratio <= unconfirmed_max_cost_ratio < 1",
                format!("{} and {}", self.max_cost_ratio, self.unconfirmed_max_cost_ratio),
            );
        }
        if self.unconfirmed_max_mean_distance.is_nan() || self.unconfirmed_max_mean_distance < 0.0 {
            return bad(
                "hypothesis unconfirmed_max_mean_distance",
                "0 or more",
                self.unconfirmed_max_mean_distance.to_string(),
            );
        }
        Ok(())
    }
}

/// One place followed beside the tracker.
#[derive(Debug)]
struct Hypothesis {
    warper: OnlineTimeWarper,
    candidate: RelocationCandidate,
    /// Where the hypothesis puts the latest live frame.
    ref_index: usize,
    frames: usize,
    /// Distances summed over the frames followed at the hypothesis's place.
    own_cost: f64,
    /// The best sum of distances over the frames followed of a path near the tracker's that
    /// ends shifted from it by each shift from `-tracked_slack_frames` to
    /// `+tracked_slack_frames`.
    shifted_tracker_costs: Vec<f64>,
}

impl Hypothesis {
    /// How much better the hypothesis has matched: the tracker's mean distance less its own.
    fn advantage(&self) -> f64 {
        (self.tracker_cost() - self.own_cost) / self.frames.max(1) as f64
    }

    /// Its own mean distance over the frames followed.
    fn mean_distance(&self) -> f64 {
        self.own_cost / self.frames.max(1) as f64
    }

    /// Its mean distance as a fraction of the tracker's. Both are raised by a small floor, so
    /// that two places that both match perfectly (a repeat played exactly) weigh the same.
    fn cost_ratio(&self) -> f64 {
        let floor = COST_FLOOR * self.frames as f64;
        (self.own_cost + floor) / (self.tracker_cost() + floor)
    }

    /// Distances summed over the frames followed along the best path near the tracker's.
    fn tracker_cost(&self) -> f64 {
        self.shifted_tracker_costs.iter().copied().fold(f64::INFINITY, f64::min)
    }
}

/// A hypothesis that won: the tracker is to move there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WonHypothesis {
    /// The candidate that started it.
    pub candidate: RelocationCandidate,
    /// Where it puts the latest live frame.
    pub ref_index: usize,
    /// Live frames it was followed.
    pub frames: usize,
    /// Its mean distance over those frames as a fraction of the tracker's.
    pub cost_ratio: f64,
}

/// The hypotheses followed beside a tracker.
#[derive(Debug)]
pub struct Hypotheses {
    reference: Arc<FeatureMatrix>,
    oltw: OltwConfig,
    reference_spread: f32,
    config: HypothesisConfig,
    followed: Vec<Hypothesis>,
    frame_scratch: Vec<f32>,
    /// The latest live frame's distance at the tracker's place moved by each shift.
    shifted_distances: Vec<f32>,
    /// Whether the tracker's place has been confirmed (see
    /// [`Hypotheses::set_tracked_place_confirmed`]).
    tracked_place_confirmed: bool,
}

impl Hypotheses {
    /// No hypotheses yet, over `reference` (whose spread is `reference_spread`); each is
    /// followed by a tracker with `oltw`, without final positions: a hypothesis that wins moves
    /// the main tracker, which settles its own.
    pub fn new(
        reference: Arc<FeatureMatrix>,
        oltw: OltwConfig,
        reference_spread: f32,
        config: HypothesisConfig,
    ) -> Result<Self, AlignError> {
        config.validate()?;
        oltw.validate()?;
        Ok(Self {
            reference,
            oltw: OltwConfig {
                settle_every_frames: 0,
                ..oltw
            },
            reference_spread,
            config,
            followed: Vec::with_capacity(config.max_hypotheses),
            frame_scratch: Vec::new(),
            shifted_distances: Vec::with_capacity(2 * config.tracked_slack_frames + 1),
            tracked_place_confirmed: true,
        })
    }

    /// Hypotheses being followed.
    pub fn len(&self) -> usize {
        self.followed.len()
    }

    /// Whether none is followed.
    pub fn is_empty(&self) -> bool {
        self.followed.is_empty()
    }

    /// Says whether the tracker's place is confirmed (the default) or only assumed; see
    /// `unconfirmed_max_cost_ratio`.
    pub fn set_tracked_place_confirmed(&mut self, confirmed: bool) {
        self.tracked_place_confirmed = confirmed;
    }

    /// Whether the tracker's place is confirmed (see `unconfirmed_max_cost_ratio`).
    pub fn tracked_place_confirmed(&self) -> bool {
        self.tracked_place_confirmed
    }

    /// The frames in a row at a confidence of 0.5 or more that confirm the tracker's place.
    pub fn confirming_frames(&self) -> usize {
        self.config.confirming_frames
    }

    /// Drops every hypothesis (the tracker moved, or the live stream lost frames).
    pub fn clear(&mut self) {
        self.followed.clear();
    }

    /// Starts following `candidate`, unless it is the tracker's place (`tracked_ref`) or a
    /// hypothesis already followed. With every slot taken, it replaces the hypothesis with the
    /// least evidence for it, if that one has been followed long enough to be judged.
    pub fn offer(&mut self, candidate: RelocationCandidate, tracked_ref: usize) -> Result<(), AlignError> {
        let near = |a: usize, b: usize| a.abs_diff(b) <= self.config.same_place_frames;
        if near(candidate.ref_index, tracked_ref)
            || self.followed.iter().any(|h| near(h.ref_index, candidate.ref_index))
        {
            return Ok(());
        }
        if self.followed.len() == self.config.max_hypotheses {
            let weakest = self
                .followed
                .iter()
                .enumerate()
                .filter(|(_, h)| h.frames >= self.config.min_frames)
                .min_by(|(_, a), (_, b)| a.advantage().total_cmp(&b.advantage()))
                .map(|(k, _)| k);
            let Some(weakest) = weakest else {
                return Ok(());
            };
            self.followed.swap_remove(weakest);
        }
        let mut warper =
            OnlineTimeWarper::with_reference_spread(self.reference.clone(), self.oltw.clone(), self.reference_spread)?;
        warper.restart_at(candidate.ref_index + 1);
        self.followed.push(Hypothesis {
            warper,
            candidate,
            ref_index: candidate.ref_index,
            frames: 0,
            own_cost: 0.0,
            shifted_tracker_costs: vec![0.0; 2 * self.config.tracked_slack_frames + 1],
        });
        Ok(())
    }

    /// Follows the next live frame at every hypothesis, weighs it there and at `tracked_ref`,
    /// and returns the hypothesis that won, if one did (the others are dropped then).
    pub fn push_frame(&mut self, frame: &[f32], tracked_ref: usize) -> Result<Option<WonHypothesis>, AlignError> {
        if self.followed.is_empty() {
            return Ok(None);
        }
        let distance = self.oltw.distance;
        let frame_inverse_norm = inverse_norm(frame);
        let slack = self.config.tracked_slack_frames;
        let mut shifted = std::mem::take(&mut self.shifted_distances);
        shifted.clear();
        // Shifts before the reference's start or past its end weigh its first or last frame.
        for shift in 0..=2 * slack {
            let at = (tracked_ref + shift).saturating_sub(slack);
            shifted.push(self.distance_at(frame, frame_inverse_norm, at, distance));
        }
        let mut won: Option<WonHypothesis> = None;
        for k in 0..self.followed.len() {
            let tracked = self.followed[k].warper.push_frame(frame)?;
            let own_cost = f64::from(self.distance_at(frame, frame_inverse_norm, tracked.ref_index, distance));
            let hypothesis = &mut self.followed[k];
            hypothesis.ref_index = tracked.ref_index;
            hypothesis.frames += 1;
            hypothesis.own_cost += own_cost;
            relax_shifts(&mut hypothesis.shifted_tracker_costs, &shifted);
            let ratio = hypothesis.cost_ratio();
            let evidence = hypothesis.frames as f64 * (1.0 - ratio);
            let evidence_needed = if self.tracked_place_confirmed {
                self.config.evidence_frames
            } else {
                self.config.unconfirmed_evidence_frames
            };
            let judged = hypothesis.frames >= self.config.min_frames && evidence >= evidence_needed;
            let clearly_better = ratio <= f64::from(self.config.max_cost_ratio)
                || (!self.tracked_place_confirmed
                    && ratio <= f64::from(self.config.unconfirmed_max_cost_ratio)
                    && hypothesis.mean_distance() <= self.config.unconfirmed_max_mean_distance);
            if judged && clearly_better && won.is_none_or(|w| ratio < w.cost_ratio) {
                won = Some(WonHypothesis {
                    candidate: hypothesis.candidate,
                    ref_index: hypothesis.ref_index,
                    frames: hypothesis.frames,
                    cost_ratio: ratio,
                });
            }
        }
        self.shifted_distances = shifted;
        if won.is_some() {
            self.followed.clear();
            return Ok(won);
        }
        let (max_frames, same_place) = (self.config.max_frames, self.config.same_place_frames);
        self.followed
            .retain(|h| h.frames < max_frames && h.ref_index.abs_diff(tracked_ref) > same_place);
        Ok(None)
    }

    fn distance_at(&mut self, frame: &[f32], frame_inverse_norm: f32, ref_index: usize, distance: Distance) -> f32 {
        let index = ref_index.min(self.reference.len() - 1);
        let reference_frame = self.reference.frame_in(index, &mut self.frame_scratch);
        distance.between_with_inverse_norms(
            frame,
            frame_inverse_norm,
            reference_frame,
            self.reference.frame_inverse_norm(index),
        )
    }
}

/// Adds the latest frame's distances under each shift to the best sums of paths through the
/// shifts, a path moving at most one shift a frame.
fn relax_shifts(sums: &mut [f64], distances: &[f32]) {
    let mut before = f64::INFINITY;
    for k in 0..sums.len() {
        let here = sums[k];
        let after = sums.get(k + 1).copied().unwrap_or(f64::INFINITY);
        sums[k] = f64::from(distances[k]) + before.min(here).min(after);
        before = here;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::test_sequences::{blurred_and_true_passage, spread_frames, symbols};

    fn candidate(live_index: usize, ref_index: usize) -> RelocationCandidate {
        RelocationCandidate {
            live_index,
            ref_index,
            live_start: live_index.saturating_sub(50),
            live_end: live_index,
            ref_start: ref_index.saturating_sub(50),
            ref_end: ref_index,
            cost_per_frame: 0.1,
        }
    }

    fn config() -> (OltwConfig, HypothesisConfig) {
        (
            OltwConfig {
                band_frames: 40,
                ..OltwConfig::default()
            },
            HypothesisConfig::default(),
        )
    }

    #[test]
    fn a_hypothesis_at_the_true_place_wins_after_its_evidence() {
        let reference = Arc::new(FeatureMatrix::new(12, spread_frames(2_000, 12, 3)).unwrap());
        let (oltw, hypotheses_config) = config();
        let mut hypotheses = Hypotheses::new(reference.clone(), oltw, 0.2, hypotheses_config).unwrap();
        // The live stream plays from 1 000 on; the tracker thinks it is at 300 and moving.
        hypotheses.offer(candidate(0, 1_000), 300).unwrap();
        let mut won_at = None;
        for k in 0..200 {
            if let Some(won) = hypotheses.push_frame(&reference.frame(1_001 + k), 301 + k).unwrap() {
                assert!(won.ref_index.abs_diff(1_001 + k) <= 2, "won at {}", won.ref_index);
                assert!(won.cost_ratio < 0.75);
                won_at = Some(k + 1);
                break;
            }
        }
        assert_eq!(won_at, Some(hypotheses_config.min_frames), "a clear lead wins soon");
        assert!(hypotheses.is_empty(), "the others go when one wins");
    }

    /// A strophic reference (the same 500 frames twice), and hypotheses with one candidate in
    /// the second verse while the tracker is at frame 100 of the first.
    fn strophic() -> (Arc<FeatureMatrix>, Hypotheses) {
        let verse = spread_frames(500, 12, 4);
        let reference = Arc::new(FeatureMatrix::new(12, [verse.clone(), verse].concat()).unwrap());
        let (oltw, hypotheses_config) = config();
        let mut hypotheses = Hypotheses::new(reference.clone(), oltw, 0.2, hypotheses_config).unwrap();
        hypotheses.offer(candidate(100, 600), 100).unwrap();
        (reference, hypotheses)
    }

    #[test]
    fn a_place_that_matches_as_well_as_the_tracked_one_never_wins() {
        // The live stream plays the first verse, the tracker is right, and a candidate puts it
        // in the second.
        let (reference, mut hypotheses) = strophic();
        assert_eq!(hypotheses.len(), 1);
        for k in 0..300 {
            let truth = 101 + k;
            assert_eq!(hypotheses.push_frame(&reference.frame(truth), truth).unwrap(), None);
        }
        assert!(hypotheses.is_empty(), "dropped after max_frames");
    }

    #[test]
    fn a_tracker_drifting_behind_in_a_verse_is_not_lost() {
        // The tracker lags further and further behind the verse it is right about (a frame
        // every ten), and the second verse matches as well.
        let (reference, mut hypotheses) = strophic();
        for k in 0..300 {
            let truth = 101 + k;
            let tracked = truth - k / 10;
            assert_eq!(hypotheses.push_frame(&reference.frame(truth), tracked).unwrap(), None);
        }
    }

    #[test]
    fn a_stalled_tracker_cannot_pick_each_frame_from_the_music_around_it() {
        // The passage the live stream plays (at 1 000) also lies, shuffled, around the place the
        // tracker is stuck at (300): frame by frame the tracker's surroundings match every live
        // frame exactly, but no path through them plays the passage.
        let passage = spread_frames(100, 12, 7);
        let mut frames = spread_frames(2_000, 12, 8);
        for i in 0..100 {
            let shuffled = (i * 37) % 100;
            frames[(250 + i) * 12..(251 + i) * 12].copy_from_slice(&passage[shuffled * 12..(shuffled + 1) * 12]);
            frames[(1_000 + i) * 12..(1_001 + i) * 12].copy_from_slice(&passage[i * 12..(i + 1) * 12]);
        }
        let reference = Arc::new(FeatureMatrix::new(12, frames).unwrap());
        let (oltw, hypotheses_config) = config();
        let mut hypotheses = Hypotheses::new(reference.clone(), oltw, 0.2, hypotheses_config).unwrap();
        hypotheses.offer(candidate(0, 1_000), 300).unwrap();
        let won = (0..99).find_map(|k| hypotheses.push_frame(&reference.frame(1_001 + k), 300).unwrap());
        let won = won.expect("the true place wins");
        assert!(
            won.frames <= 2 * hypotheses_config.min_frames,
            "won after {} frames",
            won.frames
        );
    }

    /// The hypothesis that `live` is at the reference's second half (frame 600 on, see
    /// [`blurred_and_true_passage`]) while the tracker is at the first half's frame 100 on.
    fn follow_the_second_half(
        reference: &Arc<FeatureMatrix>,
        live: &[Vec<f32>],
        confirmed: bool,
        config: HypothesisConfig,
    ) -> Option<WonHypothesis> {
        let (oltw, _) = self::config();
        let mut hypotheses = Hypotheses::new(reference.clone(), oltw, 0.2, config).unwrap();
        hypotheses.set_tracked_place_confirmed(confirmed);
        hypotheses.offer(candidate(0, 600), 100).unwrap();
        live.iter()
            .enumerate()
            .skip(1)
            .find_map(|(k, frame)| hypotheses.push_frame(frame, 100 + k).unwrap())
    }

    #[test]
    fn an_assumed_place_gives_way_to_one_that_matches_less_clearly_better() {
        // The live stream matches the second half at about 0.83 of the first half's cost.
        let (reference, live) = blurred_and_true_passage(0.25, 0.5);
        let reference = Arc::new(reference);
        let config = HypothesisConfig::default();
        let confirmed = follow_the_second_half(&reference, &live, true, config);
        assert_eq!(confirmed, None, "a confirmed place keeps its claim");
        let won = follow_the_second_half(&reference, &live, false, config).expect("an assumed place gives way");
        assert!(
            won.cost_ratio > f64::from(config.max_cost_ratio)
                && won.cost_ratio <= f64::from(config.unconfirmed_max_cost_ratio),
            "{won:?}"
        );
        assert!(won.ref_index.abs_diff(600 + won.frames) <= 3, "{won:?}");
    }

    #[test]
    fn an_assumed_place_asks_the_evidence_set_for_it_and_a_confirmed_one_the_usual() {
        // The second half about 0.83 of the first's cost: about 0.17 frames of evidence a frame.
        let (reference, live) = blurred_and_true_passage(0.25, 0.5);
        let reference = Arc::new(reference);
        let usual = HypothesisConfig::default();
        let patient = HypothesisConfig {
            unconfirmed_evidence_frames: 3.0 * usual.evidence_frames,
            ..usual
        };
        let evidence = |won: &WonHypothesis| won.frames as f64 * (1.0 - won.cost_ratio);
        let sooner = follow_the_second_half(&reference, &live, false, usual).expect("wins on the usual evidence");
        let later = follow_the_second_half(&reference, &live, false, patient).expect("wins on more evidence");
        assert!(evidence(&sooner) < patient.unconfirmed_evidence_frames, "{sooner:?}");
        assert!(evidence(&later) >= patient.unconfirmed_evidence_frames, "{later:?}");
        assert!(later.frames >= 2 * sooner.frames, "{sooner:?} then {later:?}");
        let clear = HypothesisConfig {
            max_cost_ratio: 0.9,
            ..patient
        };
        let confirmed = follow_the_second_half(&reference, &live, true, clear).expect("a clear lead wins");
        assert_eq!(
            confirmed.frames, sooner.frames,
            "a confirmed place asks evidence_frames"
        );
    }

    #[test]
    fn a_place_matched_worse_than_a_performance_matches_its_reference_never_wins_on_the_laxer_ratio() {
        // As above, the second half about 0.83 of the first's cost, but at a mean distance
        // near 0.27: a live stream that resembles the reference, not a performance of it.
        let (reference, live) = blurred_and_true_passage(0.45, 0.9);
        let reference = Arc::new(reference);
        let config = HypothesisConfig::default();
        assert_eq!(follow_the_second_half(&reference, &live, false, config), None);
        let unbounded = HypothesisConfig {
            unconfirmed_max_mean_distance: f64::INFINITY,
            ..config
        };
        let won = follow_the_second_half(&reference, &live, false, unbounded).expect("wins on the ratio alone");
        assert!(won.cost_ratio > f64::from(config.max_cost_ratio), "{won:?}");
    }

    #[test]
    fn candidates_at_the_tracked_place_or_at_a_followed_one_are_ignored() {
        let reference = Arc::new(FeatureMatrix::new(12, symbols(2_000, 12, 5)).unwrap());
        let (oltw, hypotheses_config) = config();
        let mut hypotheses = Hypotheses::new(reference, oltw, 0.2, hypotheses_config).unwrap();
        hypotheses.offer(candidate(10, 510), 500).unwrap();
        assert!(hypotheses.is_empty(), "the tracker's own place");
        hypotheses.offer(candidate(10, 900), 500).unwrap();
        hypotheses.offer(candidate(12, 910), 500).unwrap();
        assert_eq!(hypotheses.len(), 1, "the same place twice");
        hypotheses.offer(candidate(12, 1_500), 500).unwrap();
        assert_eq!(hypotheses.len(), 2);
    }

    #[test]
    fn settings_out_of_range_are_refused_by_name() {
        let reference = Arc::new(FeatureMatrix::new(12, symbols(100, 12, 6)).unwrap());
        let bad = HypothesisConfig {
            max_cost_ratio: 1.5,
            ..HypothesisConfig::default()
        };
        let error = Hypotheses::new(reference.clone(), OltwConfig::default(), 0.2, bad).unwrap_err();
        assert!(error.to_string().contains("max_cost_ratio"), "{error}");
        let stricter_when_assumed = HypothesisConfig {
            unconfirmed_max_cost_ratio: 0.6,
            ..HypothesisConfig::default()
        };
        let error = Hypotheses::new(reference.clone(), OltwConfig::default(), 0.2, stricter_when_assumed).unwrap_err();
        assert!(error.to_string().contains("unconfirmed_max_cost_ratio"), "{error}");
        let no_evidence = HypothesisConfig {
            unconfirmed_evidence_frames: 0.0,
            ..HypothesisConfig::default()
        };
        let error = Hypotheses::new(reference, OltwConfig::default(), 0.2, no_evidence).unwrap_err();
        assert!(error.to_string().contains("unconfirmed_evidence_frames"), "{error}");
    }
}
