//! Following a reference: the local tracker, relocation decided on evidence, the reported
//! tempo and the confidence.
//!
//! Every live frame goes to the [`OnlineTimeWarper`] and, when relocation is on, to the
//! [`Relocator`]. A relocation candidate is never acted on at once: it starts a hypothesis,
//! followed beside the tracker until the seconds after it show that it matches the live stream
//! clearly better than the tracked place (see [`Hypotheses`]). The tracker then restarts where
//! the hypothesis is, and the step says so, so the caller can report the jump.
//!
//! A stream that is not told where it joins is assumed to start at the reference's start, but
//! it may join a performance already under way: until the tracker's place is confirmed (its
//! confidence at 0.5 or more for `confirming_frames` in a row, or a relocation won), the
//! relocator and the hypotheses take places that beat the assumed one less clearly.
//!
//! Before the path starts, a live frame nearer to silence (as the encoder encodes it) than to
//! any of the reference's first frames means the performance has not begun: the position waits
//! at the reference's start, where the tracker would otherwise take the silence for the first
//! notes and run into the reference at tempo 1.
//!
//! When the live stream loses frames (the source was down, or data was lost), the performance
//! went on meanwhile: [`Follower::skip_live_frames`] restarts the tracker where the recent tempo
//! would have brought it, and relocation corrects that guess if the performance did otherwise.

use std::collections::VecDeque;
use std::sync::Arc;

use super::frame_scale::frames_in_time;
use super::oltw::reference_spread;
use super::{
    inverse_norm, AlignError, ConfidenceEvidence, Distance, FeatureMatrix, FinalPosition, Hypotheses, HypothesisConfig,
    OltwConfig, OnlineTimeWarper, PositionConfidence, RelocationCandidate, Relocator, RelocatorConfig,
    TranspositionTracker,
};
use crate::features::{PitchLayout, PITCH_CLASSES};

/// Settings of a follower.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowerConfig {
    /// The local tracker.
    pub oltw: OltwConfig,
    /// Relocation, or `None` to follow without it.
    pub relocation: Option<RelocatorConfig>,
    /// How relocation candidates are weighed against the tracked place before the tracker
    /// moves (with relocation on).
    pub hypotheses: HypothesisConfig,
    /// Estimate the live stream's transposition and undo it (features laid out in pitch only,
    /// see `pitch_layout`), after this many live frames; `None` compares frames as they come.
    pub transposition_settle_frames: Option<usize>,
    /// How the features lay out pitch, as their encoder says; `None` for features that do not
    /// (a transposition cannot be estimated on them).
    pub pitch_layout: Option<PitchLayout>,
    /// The features of silence, as the encoder gives them. Before the path starts, a live
    /// frame strictly nearer to it than to each of the reference's first `start_gate_frames`
    /// frames keeps the position at the reference's start, and the path starts with the
    /// `gate_opening_frames`th frame in a row that is not. `None` starts the path at once.
    pub silence: Option<Vec<f32>>,
    /// How many of the reference's first frames a live frame is compared with before the
    /// path starts.
    pub start_gate_frames: usize,
    /// The reference frame the live stream joins at, when the user knows it (a performance
    /// already under way); `None` starts at the reference's start. In music that repeats (the
    /// verses of a strophic song) a join cannot be placed from the sound alone until the
    /// repeats part ways, which can take tens of seconds; this places it at once, and
    /// relocation still corrects a wrong guess. The path starts with the first frame there:
    /// the start gate, which waits for the reference's beginning, does not apply.
    pub join_at_ref_frame: Option<usize>,
    /// Frames in a row, each nearer the reference's first frames than silence, that start the
    /// path ([`GATE_OPENING_FRAMES`] by default).
    pub gate_opening_frames: usize,
    /// Live frames between the samples of the path that the reported tempo is a line through
    /// (half a second of 20 ms frames by default).
    pub tempo_sample_frames: usize,
    /// Live frames over which the confidence's evidence is averaged (a second of 20 ms frames
    /// by default, the averaging the confidence was calibrated with).
    pub confidence_frames: usize,
}

impl Default for FollowerConfig {
    fn default() -> Self {
        Self {
            oltw: OltwConfig::default(),
            relocation: Some(RelocatorConfig::default()),
            hypotheses: HypothesisConfig::default(),
            transposition_settle_frames: None,
            pitch_layout: None,
            silence: None,
            start_gate_frames: 25,
            join_at_ref_frame: None,
            gate_opening_frames: GATE_OPENING_FRAMES,
            tempo_sample_frames: 25,
            confidence_frames: 50,
        }
    }
}

impl FollowerConfig {
    /// These settings for live and reference frames `factor` times as many per second as the
    /// ones they were given for: `follow`'s defaults count frames of 20 ms, and a model that
    /// frames its features every 10 ms takes them scaled by 2, so that every stretch of time
    /// they stand for (the band, the windows, how long a hypothesis is weighed, how long a
    /// place takes to confirm, where a join is placed) stays as long.
    pub fn scaled_in_time(&self, factor: f64) -> Self {
        Self {
            oltw: self.oltw.scaled_in_time(factor),
            relocation: self.relocation.as_ref().map(|r| r.scaled_in_time(factor)),
            hypotheses: self.hypotheses.scaled_in_time(factor),
            transposition_settle_frames: self
                .transposition_settle_frames
                .map(|frames| frames_in_time(frames, factor, 1)),
            start_gate_frames: frames_in_time(self.start_gate_frames, factor, 1),
            join_at_ref_frame: self.join_at_ref_frame.map(|frame| frames_in_time(frame, factor, 0)),
            gate_opening_frames: frames_in_time(self.gate_opening_frames, factor, 1),
            tempo_sample_frames: frames_in_time(self.tempo_sample_frames, factor, 1),
            confidence_frames: frames_in_time(self.confidence_frames, factor, 1),
            ..self.clone()
        }
    }
}

/// What one live frame did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FollowStep {
    /// Index of the live frame since the start of the stream.
    pub live_index: usize,
    /// Reference frame matching it.
    pub ref_index: usize,
    /// Reference frames per live frame over the last seconds of the path.
    pub tempo: f64,
    /// The probability that the position is within 50 ms of the truth (calibrated, see
    /// [`PositionConfidence`]); 0 before the performance has begun.
    pub confidence: f64,
    /// What the confidence was made of, once the path has started.
    pub evidence: Option<ConfidenceEvidence>,
    /// Set when this frame relocated the tracker.
    pub relocation: Option<RelocationCandidate>,
}

/// The local tracker and relocation together.
#[derive(Debug)]
pub struct Follower {
    reference: Arc<FeatureMatrix>,
    distance: Distance,
    warper: OnlineTimeWarper,
    /// The relocation search and the places it found, followed beside the tracker.
    relocation: Option<(Relocator, Hypotheses)>,
    /// Live frames in a row, up to the latest, at a confidence of 0.5 or more while the
    /// tracker's place is assumed (see the module's doc).
    confident_frames: usize,
    frames: usize,
    /// The live frame the tracker's current path started at (0, or just after a relocation).
    path_start_frame: usize,
    /// Final positions found and not yet taken, in this follower's frame numbering.
    final_positions: Vec<FinalPosition>,
    transposition: Option<TranspositionTracker>,
    /// The reference frame the latest live frame was placed at: the transposition estimate
    /// compares the live stream with the stretch of the reference it has been placed in.
    placed_at: usize,
    /// The live frame as the aligners see it (rotated back to the reference's key).
    rotated: Vec<f32>,
    /// (live frame, reference frame) every `tempo_sample_frames` frames of the current path,
    /// the newest [`PATH_SAMPLES`]: the tempo over the last seconds, steadier than the
    /// tracker's own estimate from the last few steps.
    path_samples: VecDeque<(usize, usize)>,
    /// The tempo last fitted to the path samples (1, the reference's own, before any).
    fitted_tempo: f64,
    /// Silence, and how many of the reference's first frames it is weighed against, until the
    /// path starts.
    start_gate: Option<(Vec<f32>, usize)>,
    /// Distances from the live frame to the reference's first frames.
    gate_distances: Vec<f32>,
    /// The live frame in another key, for the start gate.
    gate_frame: Vec<f32>,
    /// Frames in a row, up to the latest, that were not silence while the gate was closed.
    sounding_frames: usize,
    /// The evidence behind the positions' confidence.
    confidence: PositionConfidence,
    /// See [`FollowerConfig::gate_opening_frames`].
    gate_opening_frames: usize,
    /// See [`FollowerConfig::tempo_sample_frames`].
    tempo_sample_frames: usize,
}

/// Frames in a row, each nearer the reference's first frames than silence, that start the
/// path (60 ms at a 20 ms hop). One such frame is not enough: in a noisy lead-in a single
/// frame of noise can sit nearer a reference frame than digital silence, and a path started
/// there runs ahead through the rest of the lead-in.
pub const GATE_OPENING_FRAMES: usize = 3;

/// Samples kept: about ten seconds of path.
const PATH_SAMPLES: usize = 20;
/// The newest samples the reported tempo is fitted to: five seconds of path. The tracker's own
/// tempo, from its last steps, swings by tens of percent from note to note; a line through
/// seconds of positions reads a steady performance as steady and still follows a ritardando
/// within seconds.
const TEMPO_SAMPLES: usize = 10;

impl Follower {
    /// A follower of `reference`.
    pub fn new(reference: Arc<FeatureMatrix>, config: FollowerConfig) -> Result<Self, AlignError> {
        let counts = [
            config.gate_opening_frames,
            config.tempo_sample_frames,
            config.confidence_frames,
        ];
        if counts.contains(&0) {
            return Err(AlignError::BadParameter {
                name: "gate_opening_frames, tempo_sample_frames, confidence_frames",
                expected: "at least 1 each",
                actual: format!("{counts:?}"),
            });
        }
        let transposition = config
            .transposition_settle_frames
            .map(|frames| {
                let layout = config.pitch_layout.ok_or_else(|| AlignError::BadParameter {
                    name: "transposition",
                    expected: "features laid out in pitch (--audio-features chroma or semitone-flux)",
                    actual: "features without a pitch layout".to_owned(),
                })?;
                TranspositionTracker::new(&reference, frames, layout)
            })
            .transpose()?;
        let distance = config.oltw.distance;
        // Measured once for the tracker, the hypotheses' trackers and the confidence.
        let spread = reference_spread(&reference, distance, config.oltw.spread_lag_frames);
        // A join the user gave is a place told, not assumed.
        let place_confirmed = config.join_at_ref_frame.is_some();
        let relocation = config
            .relocation
            .map(|r| {
                let mut relocator = Relocator::new(reference.clone(), r)?;
                let mut hypotheses =
                    Hypotheses::new(reference.clone(), config.oltw.clone(), spread, config.hypotheses)?;
                relocator.set_tracked_place_confirmed(place_confirmed);
                hypotheses.set_tracked_place_confirmed(place_confirmed);
                Ok::<_, AlignError>((relocator, hypotheses))
            })
            .transpose()?;
        let mut warper = OnlineTimeWarper::with_reference_spread(reference.clone(), config.oltw, spread)?;
        let start_gate = match config.join_at_ref_frame {
            Some(join) if join >= reference.len() => {
                return Err(AlignError::BadParameter {
                    name: "join position (--join-at-s, or join_at_s in a stream request)",
                    expected: "within the reference",
                    actual: format!("frame {join} of a reference of {} frames", reference.len()),
                })
            }
            Some(join) => {
                warper.restart_at(join);
                None
            }
            None => config.silence.map(|silence| (silence, config.start_gate_frames)),
        };
        Ok(Self {
            confident_frames: 0,
            confidence: PositionConfidence::new(distance, spread, config.confidence_frames),
            gate_opening_frames: config.gate_opening_frames,
            tempo_sample_frames: config.tempo_sample_frames,
            warper,
            reference,
            distance,
            relocation,
            frames: 0,
            path_start_frame: 0,
            final_positions: Vec::new(),
            transposition,
            placed_at: config.join_at_ref_frame.unwrap_or(0),
            rotated: Vec::new(),
            path_samples: VecDeque::with_capacity(PATH_SAMPLES + 1),
            fitted_tempo: 1.0,
            start_gate,
            gate_distances: Vec::with_capacity(config.start_gate_frames),
            gate_frame: Vec::new(),
            sounding_frames: 0,
        })
    }

    /// Semitones the live stream is estimated to sit above the reference, when estimated.
    pub fn transposition_semitones(&self) -> Option<usize> {
        self.transposition.as_ref().map(TranspositionTracker::semitones)
    }

    /// Lets the relocation scan spend `share` of its budget per live frame (see
    /// [`Relocator::set_scan_budget_share`]); nothing to do without relocation.
    pub fn set_relocation_budget_share(&mut self, share: f64) {
        if let Some((relocator, _)) = self.relocation.as_mut() {
            relocator.set_scan_budget_share(share);
        }
    }

    /// Whether the tracker reports final positions (see [`OnlineTimeWarper::drain_final_positions`]).
    pub fn settles_positions(&self) -> bool {
        self.warper.settles_positions()
    }

    /// Takes the positions that have become final, in live order, with live indices counted
    /// like [`FollowStep::live_index`]. A relocation ends the path it interrupts: the rest of
    /// that path is settled then, as at the end of the stream.
    pub fn drain_final_positions(&mut self) -> std::vec::Drain<'_, FinalPosition> {
        self.final_positions.drain(..)
    }

    /// Declares the rest of the path final once the live stream has ended.
    pub fn finish(&mut self) {
        self.warper.finish();
        self.take_final_positions();
    }

    fn take_final_positions(&mut self) {
        let start = self.path_start_frame;
        self.final_positions
            .extend(self.warper.drain_final_positions().map(|position| FinalPosition {
                live_index: position.live_index + start,
                ..position
            }));
    }

    /// The live stream lost `missing_frames` frames before the next one: the path so far is
    /// settled, and the tracker restarts `missing_frames` × the recent tempo further on.
    pub fn skip_live_frames(&mut self, missing_frames: usize) {
        if missing_frames == 0 {
            return;
        }
        self.start_gate = None;
        self.warper.finish();
        self.take_final_positions();
        let (ref_index, tempo) = self.recent_tempo();
        // The next frame comes `missing_frames + 1` frames after the latest one.
        let ahead = ((missing_frames + 1) as f64 * tempo).round() as usize;
        self.warper.restart_at(ref_index + ahead);
        self.path_samples.clear();
        self.confidence.reset();
        self.frames += missing_frames;
        self.path_start_frame = self.frames;
        if let Some((relocator, hypotheses)) = self.relocation.as_mut() {
            relocator.skip_live_frames(missing_frames);
            hypotheses.clear();
        }
    }

    /// The latest sampled reference frame, and the tempo (reference frames per live frame) of
    /// the sampled path: 1 until the path is a few samples long.
    fn recent_tempo(&self) -> (usize, f64) {
        let (Some(&(first_live, first_ref)), Some(&(last_live, last_ref))) =
            (self.path_samples.front(), self.path_samples.back())
        else {
            return (0, 1.0);
        };
        if last_live < first_live + 2 * self.tempo_sample_frames {
            return (last_ref, 1.0);
        }
        let tempo = (last_ref as f64 - first_ref as f64) / (last_live - first_live) as f64;
        // Projected from the latest sample to the latest frame.
        let since = self.frames.saturating_sub(last_live + 1) as f64;
        (last_ref + (since * tempo).round() as usize, tempo.max(0.0))
    }

    /// The tempo (reference frames per live frame) of the line fitted by least squares to the
    /// newest [`TEMPO_SAMPLES`] path samples; `None` until there are three.
    fn smoothed_tempo(&self) -> Option<f64> {
        let samples = self.path_samples.len().min(TEMPO_SAMPLES);
        if samples < 3 {
            return None;
        }
        let newest = self.path_samples.iter().skip(self.path_samples.len() - samples);
        let n = samples as f64;
        let (sum_t, sum_j) = newest.clone().fold((0.0, 0.0), |(t, j), &(live, reference)| {
            (t + live as f64, j + reference as f64)
        });
        let (mean_t, mean_j) = (sum_t / n, sum_j / n);
        let (covariance, variance) = newest.fold((0.0, 0.0), |(c, v), &(live, reference)| {
            let dt = live as f64 - mean_t;
            (c + dt * (reference as f64 - mean_j), v + dt * dt)
        });
        (variance > 0.0).then(|| (covariance / variance).max(0.0))
    }

    /// The tempo reported with live frame `live_index`, placed at `ref_index`: the line through
    /// the last seconds of the path once it has three samples; before that (the first second of
    /// a path, at the start or after a jump) the mean slope since the path started once it has
    /// run `tempo_sample_frames` frames, and until then the tempo last fitted (1, the
    /// reference's own, at the start). The tracker's own tempo, from its last few steps, swings
    /// by tens of percent while a path finds its way.
    fn reported_tempo(&mut self, live_index: usize, ref_index: usize) -> f64 {
        if let Some(tempo) = self.smoothed_tempo() {
            self.fitted_tempo = tempo;
            return tempo;
        }
        match self.path_samples.front() {
            Some(&(first_live, first_ref)) if live_index >= first_live + self.tempo_sample_frames => {
                (ref_index as f64 - first_ref as f64).max(0.0) / (live_index - first_live) as f64
            }
            _ => self.fitted_tempo,
        }
    }

    /// Takes the next live frame.
    pub fn push_frame(&mut self, frame: &[f32]) -> Result<FollowStep, AlignError> {
        let Some(transposition) = self.transposition.as_mut() else {
            return self.follow(frame);
        };
        let mut rotated = std::mem::take(&mut self.rotated);
        transposition.push_frame(frame, self.placed_at, &mut rotated)?;
        let step = self.follow(&rotated);
        self.rotated = rotated;
        let step = step?;
        self.placed_at = step.ref_index;
        Ok(step)
    }

    /// Follows a frame as the aligners see it.
    fn follow(&mut self, frame: &[f32]) -> Result<FollowStep, AlignError> {
        let live_index = self.frames;
        self.frames += 1;
        if self.before_the_reference(frame) {
            return self.wait_at_the_start(live_index, frame);
        }
        let tracked = self.warper.push_frame(frame)?;
        if live_index.is_multiple_of(self.tempo_sample_frames) || self.path_samples.is_empty() {
            if self.path_samples.len() == PATH_SAMPLES {
                self.path_samples.pop_front();
            }
            self.path_samples.push_back((live_index, tracked.ref_index));
        }
        self.take_final_positions();
        let evidence = self
            .confidence
            .push(frame, &self.reference, tracked.ref_index, tracked.confidence);
        let step = FollowStep {
            live_index,
            ref_index: tracked.ref_index,
            tempo: self.reported_tempo(live_index, tracked.ref_index),
            confidence: evidence.probability(),
            evidence: Some(evidence),
            relocation: None,
        };
        self.look_for_a_jump(frame, step)
    }

    /// Whether the path has not started and `frame` is to wait at the start: silence (strictly
    /// nearer to the encoder's silence than to each of the reference's first frames), or one
    /// of the first frames of a run of sound shorter than `gate_opening_frames`. The frame
    /// that completes the run starts the path, for good. When the live stream's key is
    /// estimated, the frame is weighed in every key: until the estimate settles, a performance
    /// in another key can look further from the reference's first frames than silence does
    /// (silence has no key).
    fn before_the_reference(&mut self, frame: &[f32]) -> bool {
        let Some((silence, frames)) = self.start_gate.as_ref() else {
            return false;
        };
        let to_silence = self.distance.between(frame, silence);
        let layout = self.transposition.as_ref().map(TranspositionTracker::layout);
        let keys = if layout.is_some() { PITCH_CLASSES } else { 1 };
        let mut in_key = std::mem::take(&mut self.gate_frame);
        let mut waits = true;
        for semitones in 0..keys {
            match layout {
                Some(layout) => layout.shift_down(frame, semitones, &mut in_key),
                None => {
                    in_key.clear();
                    in_key.extend_from_slice(frame);
                }
            }
            self.reference.distances_to(
                &in_key,
                inverse_norm(&in_key),
                0..*frames,
                self.distance,
                &mut self.gate_distances,
            );
            if self.gate_distances.is_empty() || self.gate_distances.iter().any(|&d| d <= to_silence) {
                waits = false;
                break;
            }
        }
        self.gate_frame = in_key;
        self.sounding_frames = if waits { 0 } else { self.sounding_frames + 1 };
        if self.sounding_frames < self.gate_opening_frames {
            return true;
        }
        self.start_gate = None;
        false
    }

    /// A frame before the reference: its position is the reference's start, final at once.
    fn wait_at_the_start(&mut self, live_index: usize, frame: &[f32]) -> Result<FollowStep, AlignError> {
        self.path_start_frame = live_index + 1;
        if self.warper.settles_positions() {
            self.final_positions.push(FinalPosition {
                live_index,
                ref_first: 0,
                ref_last: 0,
                exact: true,
            });
        }
        let step = FollowStep {
            live_index,
            ref_index: 0,
            tempo: 1.0,
            confidence: 0.0,
            evidence: None,
            relocation: None,
        };
        self.look_for_a_jump(frame, step)
    }

    /// Gives `frame` to the relocation search and to the hypotheses it started, and moves the
    /// tracker when one of them wins.
    fn look_for_a_jump(&mut self, frame: &[f32], mut step: FollowStep) -> Result<FollowStep, AlignError> {
        let live_index = step.live_index;
        let Some((relocator, hypotheses)) = self.relocation.as_mut() else {
            return Ok(step);
        };
        if !hypotheses.tracked_place_confirmed() {
            self.confident_frames = if step.confidence >= 0.5 {
                self.confident_frames + 1
            } else {
                0
            };
            if self.confident_frames >= hypotheses.confirming_frames() {
                confirm_tracked_place(relocator, hypotheses);
            }
        }
        let won = hypotheses.push_frame(frame, step.ref_index)?;
        // A candidate is for this frame: its hypothesis follows from the next one.
        if let Some(candidate) = relocator.push_live(frame, step.ref_index)? {
            if won.is_none() {
                hypotheses.offer(candidate, step.ref_index)?;
            }
        }
        let Some(won) = won else {
            return Ok(step);
        };
        self.start_gate = None;
        confirm_tracked_place(relocator, hypotheses);
        // The stretch before the jump ends here: its best path is as final as it will get.
        self.warper.finish();
        self.take_final_positions();
        self.warper.restart_at(won.ref_index + 1);
        self.path_start_frame = live_index + 1;
        self.path_samples.clear();
        self.path_samples.push_back((live_index, won.ref_index));
        self.confidence.reset();
        step.ref_index = won.ref_index;
        step.relocation = Some(RelocationCandidate {
            live_index,
            ref_index: won.ref_index,
            ..won.candidate
        });
        Ok(step)
    }
}

/// Tells the relocation search and the hypotheses that the tracker's place is confirmed, no
/// longer assumed: from then on a place must beat it clearly.
fn confirm_tracked_place(relocator: &mut Relocator, hypotheses: &mut Hypotheses) {
    relocator.set_tracked_place_confirmed(true);
    hypotheses.set_tracked_place_confirmed(true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::test_sequences::{spread_frames, symbols};

    #[test]
    fn settings_scaled_in_time_keep_every_stretch_of_time_and_no_other_count() {
        let given = FollowerConfig {
            transposition_settle_frames: Some(50),
            join_at_ref_frame: Some(1_000),
            ..FollowerConfig::default()
        };
        assert_eq!(
            given.scaled_in_time(1.0),
            given,
            "frames of the length the settings are for"
        );

        // Frames of 10 ms where the settings count frames of 20 ms.
        let finer = given.scaled_in_time(2.0);
        let (oltw, scaled_oltw) = (&given.oltw, &finer.oltw);
        for (name, before, after) in [
            ("band", oltw.band_frames, scaled_oltw.band_frames),
            (
                "tempo window",
                oltw.tempo_window_frames,
                scaled_oltw.tempo_window_frames,
            ),
            (
                "rival exclusion",
                oltw.rival_exclusion_frames,
                scaled_oltw.rival_exclusion_frames,
            ),
            ("start-up", oltw.startup_frames, scaled_oltw.startup_frames),
            ("settling", oltw.settle_every_frames, scaled_oltw.settle_every_frames),
            ("lookahead", oltw.lookahead_frames, scaled_oltw.lookahead_frames),
            ("spread lag", oltw.spread_lag_frames, scaled_oltw.spread_lag_frames),
            ("start gate", given.start_gate_frames, finer.start_gate_frames),
            ("gate opening", given.gate_opening_frames, finer.gate_opening_frames),
            ("tempo samples", given.tempo_sample_frames, finer.tempo_sample_frames),
            ("confidence", given.confidence_frames, finer.confidence_frames),
        ] {
            assert_eq!(after, 2 * before, "{name}");
        }
        assert_eq!(finer.transposition_settle_frames, Some(100));
        assert_eq!(finer.join_at_ref_frame, Some(2_000));
        let (hypotheses, scaled_hypotheses) = (&given.hypotheses, &finer.hypotheses);
        for (name, before, after) in [
            ("min", hypotheses.min_frames, scaled_hypotheses.min_frames),
            ("max", hypotheses.max_frames, scaled_hypotheses.max_frames),
            (
                "confirming",
                hypotheses.confirming_frames,
                scaled_hypotheses.confirming_frames,
            ),
            (
                "same place",
                hypotheses.same_place_frames,
                scaled_hypotheses.same_place_frames,
            ),
            (
                "slack",
                hypotheses.tracked_slack_frames,
                scaled_hypotheses.tracked_slack_frames,
            ),
        ] {
            assert_eq!(after, 2 * before, "hypotheses' {name} frames");
        }
        assert_eq!(scaled_hypotheses.evidence_frames, 2.0 * hypotheses.evidence_frames);
        let (relocation, scaled_relocation) = (
            given.relocation.as_ref().expect("relocation on by default"),
            finer.relocation.as_ref().expect("still on"),
        );
        assert_eq!(scaled_relocation.query_frames, 2 * relocation.query_frames);
        assert_eq!(scaled_relocation.pooled_frames, 2 * relocation.pooled_frames);
        assert_eq!(
            2 * scaled_relocation.cells_per_frame,
            relocation.cells_per_frame,
            "the same scan, as long"
        );

        // Counts that are no stretch of time stay.
        assert_eq!(scaled_oltw.max_run_count, oltw.max_run_count);
        assert_eq!(scaled_hypotheses.max_hypotheses, hypotheses.max_hypotheses);
        assert_eq!(scaled_relocation.max_cost_ratio, relocation.max_cost_ratio);
        let reference = || Arc::new(FeatureMatrix::new(8, symbols(3_000, 8, 5)).expect("a reference"));
        let without_key = |config: FollowerConfig| FollowerConfig {
            transposition_settle_frames: None,
            ..config
        };
        Follower::new(reference(), without_key(finer)).expect("scaled settings are valid");

        // Frames of 200 ms: no count the aligner needs falls below what it accepts.
        let coarse = given.scaled_in_time(0.1);
        assert!(coarse.oltw.band_frames >= 2 && coarse.oltw.tempo_window_frames >= 2);
        assert!(coarse
            .relocation
            .as_ref()
            .is_some_and(|r| r.query_frames >= 2 && r.pooled_frames >= 1));
        Follower::new(reference(), without_key(coarse)).expect("scaled settings are valid");
    }

    /// How far `follower` places frame `truth` of `reference`, played live, from where it is.
    fn placed_off_by(follower: &mut Follower, reference: &FeatureMatrix, truth: usize) -> usize {
        follower
            .push_frame(&reference.frame(truth))
            .unwrap()
            .ref_index
            .abs_diff(truth)
    }

    #[test]
    fn a_stream_joined_where_the_user_says_is_placed_from_its_first_frame() {
        let dim = 12;
        let reference = Arc::new(FeatureMatrix::new(dim, spread_frames(2_000, dim, 7)).unwrap());
        let joined = |join_at_ref_frame| {
            let config = FollowerConfig {
                oltw: OltwConfig {
                    band_frames: 50,
                    ..OltwConfig::default()
                },
                relocation: None,
                join_at_ref_frame,
                ..FollowerConfig::default()
            };
            let mut follower = Follower::new(reference.clone(), config).unwrap();
            (1_200..1_400)
                .map(|truth| placed_off_by(&mut follower, &reference, truth))
                .max()
                .unwrap_or(usize::MAX)
        };
        assert!(joined(Some(1_200)) <= 2, "joined where it is: {}", joined(Some(1_200)));
        assert!(joined(None) > 100, "started at the reference's start instead");
        let beyond = FollowerConfig {
            join_at_ref_frame: Some(2_000),
            ..FollowerConfig::default()
        };
        assert!(Follower::new(reference.clone(), beyond).is_err());
    }

    #[test]
    fn recovers_from_a_jump_and_says_so() {
        let dim = 12;
        // Frames that no neighbour matches exactly: among one-hot symbols the frames around
        // the tracked place would match the live stream as well as the true place does.
        let reference = Arc::new(FeatureMatrix::new(dim, spread_frames(2_000, dim, 5)).unwrap());
        let config = FollowerConfig {
            oltw: OltwConfig {
                band_frames: 50,
                ..OltwConfig::default()
            },
            relocation: Some(RelocatorConfig {
                query_frames: 50,
                cells_per_frame: 40_000,
                ..RelocatorConfig::default()
            }),
            ..FollowerConfig::default()
        };
        let mut follower = Follower::new(reference.clone(), config).unwrap();
        let mut finals = Vec::new();
        let live: Vec<usize> = (0..400).chain(1_300..1_700).collect();
        let mut relocated_at = None;
        let mut errors_after = Vec::new();
        for (i, &truth) in live.iter().enumerate() {
            let step = follower.push_frame(&reference.frame(truth)).unwrap();
            finals.extend(follower.drain_final_positions());
            if step.relocation.is_some() && relocated_at.is_none() {
                relocated_at = Some(i);
            }
            if relocated_at.is_some() {
                errors_after.push(step.ref_index.abs_diff(truth));
            }
            if i < 400 {
                assert!(step.relocation.is_none(), "relocated before the jump, at {i}");
            }
        }
        let at = relocated_at.expect("a relocation after the jump");
        assert!(
            at >= 400 && at - 400 < 200,
            "relocated {} frames after the jump",
            at as i64 - 400
        );
        assert!(
            errors_after.iter().all(|&e| e <= 3),
            "errors after relocating: {:?}",
            &errors_after[..10]
        );
        // Every frame gets one final position, in order: the stretch before the jump is settled
        // when the relocation cuts it, the rest at the end; both sit on the truth.
        follower.finish();
        finals.extend(follower.drain_final_positions());
        assert!(finals.iter().map(|f| f.live_index).eq(0..live.len()));
        let settled_error = |f: &FinalPosition| (f.ref_middle() - live[f.live_index] as f64).abs();
        assert!(finals[..390].iter().all(|f| settled_error(f) <= 2.0));
        assert!(finals[at + 10..].iter().all(|f| settled_error(f) <= 2.0));
    }

    #[test]
    fn a_performance_in_another_key_opens_the_start_gate_before_its_key_is_known() {
        let dim = 12;
        // Chroma over a floor of 0.2 (the flat row is silence); the reference holds pitch class
        // 0 for its first second. Two semitones up, its first note is pitch class 2, which in
        // the reference's key lies nearer silence than the reference's first frames.
        let chord = |class: usize| -> Vec<f32> { (0..dim).map(|k| if k == class { 1.0 } else { 0.2 }).collect() };
        let values: Vec<f32> = (0..300)
            .flat_map(|k| chord(if k < 50 { 0 } else { k / 10 % dim }))
            .collect();
        let reference = Arc::new(FeatureMatrix::new(dim, values).unwrap());
        let opens_at_the_first_note = |key_estimated: bool| {
            let config = FollowerConfig {
                oltw: OltwConfig {
                    band_frames: 50,
                    ..OltwConfig::default()
                },
                relocation: None,
                silence: Some(vec![0.2; dim]),
                transposition_settle_frames: key_estimated.then_some(150),
                pitch_layout: Some(PitchLayout::Chroma),
                ..FollowerConfig::default()
            };
            let mut follower = Follower::new(reference.clone(), config).unwrap();
            for _ in 0..10 {
                follower.push_frame(&vec![0.2; dim]).unwrap();
            }
            assert!(follower.start_gate.is_some(), "silence keeps the gate closed");
            for _ in 0..GATE_OPENING_FRAMES {
                follower.push_frame(&chord(2)).unwrap();
            }
            follower.start_gate.is_none()
        };
        assert!(opens_at_the_first_note(true), "weighed in every key, the note is music");
        assert!(
            !opens_at_the_first_note(false),
            "the premise: in one key it looks like silence"
        );
    }

    #[test]
    fn waits_at_the_start_while_the_live_stream_has_not_reached_the_reference() {
        let dim = 12;
        // Over a floor of 0.2 (silence), the reference opens on a faint note and goes on with
        // louder ones; the live stream starts with a second of the floor with a little noise
        // before it plays the reference. The lead-in is nearest the first frame, and nearly as
        // near all the others: under Manhattan normalisation a path through them costs less per
        // step than one that stays.
        let mut values: Vec<f32> = symbols(601, dim, 3).iter().map(|&v| 0.2 + 0.28 * v).collect();
        values[..dim]
            .iter_mut()
            .enumerate()
            .for_each(|(d, v)| *v = if d == 0 { 0.4 } else { 0.2 });
        let reference = Arc::new(FeatureMatrix::new(dim, values).unwrap());
        let lead_in = |k: usize| -> Vec<f32> { (0..dim).map(|d| 0.2 + 0.01 * ((k * 7 + d * 3) % 5) as f32).collect() };
        let run = |gated: bool| {
            let config = FollowerConfig {
                oltw: OltwConfig {
                    band_frames: 50,
                    ..OltwConfig::default()
                },
                relocation: None,
                silence: gated.then(|| vec![0.2; dim]),
                ..FollowerConfig::default()
            };
            let mut follower = Follower::new(reference.clone(), config).unwrap();
            let lead: Vec<usize> = (0..50)
                .map(|k| follower.push_frame(&lead_in(k)).unwrap().ref_index)
                .collect();
            let errors: Vec<usize> = (1..300)
                .map(|truth| placed_off_by(&mut follower, &reference, truth))
                .collect();
            follower.finish();
            let finals: Vec<FinalPosition> = follower.drain_final_positions().collect();
            (lead, errors, finals)
        };
        let (lead, errors, finals) = run(true);
        assert!(lead.iter().all(|&j| j == 0), "positions during the lead-in: {lead:?}");
        assert!(errors[20..].iter().all(|&e| e <= 2), "errors after it: {errors:?}");
        assert!(
            finals.iter().map(|f| f.live_index).eq(0..349),
            "one final position per frame, in order"
        );
        let (ungated, _, _) = run(false);
        assert!(
            ungated[49] > 20,
            "without the gate the lead-in runs into the reference: {ungated:?}"
        );
    }

    #[test]
    fn a_new_path_reports_the_last_tempo_then_its_own_slope() {
        let dim = 12;
        let reference = Arc::new(FeatureMatrix::new(dim, spread_frames(2_000, dim, 3)).unwrap());
        let config = FollowerConfig {
            oltw: OltwConfig {
                band_frames: 60,
                ..OltwConfig::default()
            },
            relocation: None,
            ..FollowerConfig::default()
        };
        let sample = config.tempo_sample_frames;
        let mut follower = Follower::new(reference.clone(), config).unwrap();
        // The live stream plays the reference at 0.8 of its pace.
        let tempos: Vec<f64> = (0..400)
            .map(|t| follower.push_frame(&reference.frame(t * 4 / 5)).unwrap().tempo)
            .collect();
        assert!(
            tempos[..sample].iter().all(|&tempo| tempo == 1.0),
            "the reference's own tempo first: {:?}",
            &tempos[..sample]
        );
        assert!(
            tempos[sample..].iter().all(|&tempo| (tempo - 0.8).abs() <= 0.1),
            "then the path's: {:?}",
            &tempos[sample..2 * sample + 10]
        );
    }

    #[test]
    fn after_lost_frames_the_tracker_goes_on_at_the_recent_tempo() {
        let dim = 12;
        let reference = Arc::new(FeatureMatrix::new(dim, symbols(2_000, dim, 9)).unwrap());
        let config = FollowerConfig {
            oltw: OltwConfig {
                band_frames: 40,
                ..OltwConfig::default()
            },
            relocation: None,
            ..FollowerConfig::default()
        };
        // The live stream plays the reference at its own pace; frames 300..500 never arrive.
        let run = |skip: bool| {
            let mut follower = Follower::new(reference.clone(), config.clone()).unwrap();
            let mut errors_after_gap = Vec::new();
            for truth in (0..300).chain(500..700) {
                if truth == 500 && skip {
                    follower.skip_live_frames(200);
                }
                let step = follower.push_frame(&reference.frame(truth)).unwrap();
                if truth >= 500 {
                    errors_after_gap.push(step.ref_index.abs_diff(truth));
                }
            }
            errors_after_gap
        };
        let told = run(true);
        assert!(told.iter().all(|&e| e <= 2), "told of the gap: {:?}", &told[..10]);
        let untold = run(false);
        assert!(
            untold[0] > 100,
            "without being told, the tracker stays behind: {}",
            untold[0]
        );
    }
}
