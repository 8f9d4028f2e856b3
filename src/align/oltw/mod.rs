//! Online time warping (Dixon 2005): follows a live sequence along a reference as it arrives.
//!
//! The aligner grows the DTW cost matrix one live row or one reference column at a time,
//! within a band of `band_frames` cells behind the frontier (t, j). After each step it looks
//! at the normalised path costs on the frontier's row and column: if the best lies on the
//! column at an earlier live frame, the live stream is ahead and the reference advances; if it
//! lies on the row at an earlier reference frame, the reference is ahead and the aligner waits
//! for the next live frame; otherwise both advance. `max_run_count` caps how many times in a
//! row one side may advance alone, which bounds the slope of the path locally, and the tempo
//! bounds (`min_tempo`..`max_tempo`, default 0.5×–2×) bound it over the tempo window.
//!
//! Only the frontier's row and column are kept (each at most `band_frames` cells), plus the
//! last `band_frames` live frames: memory is O(c·d) and the work per live frame O(c·d),
//! whatever the length of the stream or of the reference. Each cell carries its path cost and
//! the path's length (its total step weight, or its Manhattan length: [`Normalisation`]), so
//! costs of paths of different lengths compare after dividing one by the other. The defaults
//! are Arzt and Widmer's: unit step weights under Manhattan normalisation, which holds the path
//! near tempo 1 where the features cannot tell (Dixon's 1, 1, 2 under either normalisation
//! has no such prior). Where several reference frames next to the best match are about as
//! good, the reported position is the one the recent tempo predicts.
//!
//! Invariants: the row covers reference frames `[max(0, j−c+1), j]`, the column live frames
//! `[max(0, t−c+1), t]`, and they meet at (t, j); reported reference positions never decrease.

use std::collections::VecDeque;
use std::sync::Arc;

mod path_history;
mod strip;

use super::frame_scale::frames_in_time;
use super::int8_frames::Int8Frame;
use super::live_window::LiveWindow;
use super::{inverse_norm, AlignError, Distance, FeatureMatrix, Precision};
pub use path_history::FinalPosition;
use path_history::PathHistory;
use strip::{Cell, Strip, StripKind, StripStep};

/// Path-cost margin (in local-distance units) at which the confidence reaches 1 − 1/e.
const CONFIDENCE_SCALE: f64 = 1.0;

/// Band widths of rows (and of columns) the path history may hold before the oldest half of the
/// best path is declared final: the frontier's end paths meet within about one band width when
/// the stream follows the reference, so only a pause or input unlike the reference fills it. A
/// stream holds this much for as long as it is unlike its reference (a service's idle stream),
/// so it is kept to what following needs.
const HISTORY_BANDS: usize = 1;

/// How much a step of the warping path costs, as multiples of the local distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepWeights {
    /// A step along the live axis alone (the reference holds still).
    pub live: f32,
    /// A step along the reference axis alone (the live stream holds still).
    pub reference: f32,
    /// A step along both.
    pub diagonal: f32,
}

impl StepWeights {
    /// Arzt and Widmer's weights, 1, 1 and 1: with [`Normalisation::Manhattan`], a diagonal
    /// step costs half as much per unit of path length as a single one, which holds the path
    /// near tempo 1 where the features cannot tell (held notes, another instrument's timbre).
    pub const ARZT: StepWeights = StepWeights {
        live: 1.0,
        reference: 1.0,
        diagonal: 1.0,
    };
}

impl Default for StepWeights {
    /// Dixon's weights: 1, 1 and 2, under which every path to (i, j) weighs i + j + 1.
    fn default() -> Self {
        Self {
            live: 1.0,
            reference: 1.0,
            diagonal: 2.0,
        }
    }
}

/// What a path's cost is divided by, so that paths of different lengths compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalisation {
    /// The path's total step weight: the average local distance along the path, weighted as
    /// the steps are. Costs of paths through flat stretches (a held note, a pause) do not
    /// depend on how fast the path crosses them.
    PathWeight,
    /// The cell's Manhattan distance from the start, i + j + 1, whatever the step weights
    /// (Arzt and Widmer's choice). With a diagonal weighing less than the two single steps,
    /// a path that runs ahead of the live stream along a flat stretch costs more than one that
    /// keeps pace: a prior for tempo near 1, where the path-weight average has none.
    Manhattan,
}

impl Normalisation {
    /// How much each step adds to the normaliser.
    fn step_lengths(self, weights: StepWeights) -> StepWeights {
        match self {
            Normalisation::PathWeight => weights,
            Normalisation::Manhattan => StepWeights {
                live: 1.0,
                reference: 1.0,
                diagonal: 2.0,
            },
        }
    }
}

/// Settings of the online aligner.
#[derive(Debug, Clone, PartialEq)]
pub struct OltwConfig {
    /// Width `c` of the search band, in frames.
    pub band_frames: usize,
    /// How many consecutive steps one side may take alone.
    pub max_run_count: usize,
    /// Local distance between a live and a reference frame.
    pub distance: Distance,
    /// Number of recent positions the tempo is estimated from: 35 (0.7 s of 20 ms frames) by
    /// default, short enough to follow a tempo that changes within a phrase (on the evaluation's
    /// tempo waves 50 frames lagged behind them), long enough to span a note or two.
    pub tempo_window_frames: usize,
    /// Step weights of the DTW recursion.
    pub step_weights: StepWeights,
    /// What path costs are divided by before they are compared.
    pub normalisation: Normalisation,
    /// Reference frames on either side of the best match that do not count as rivals when
    /// the confidence is measured.
    pub rival_exclusion_frames: usize,
    /// Live frames at the start during which both sides advance together. Dixon waits for the
    /// whole band to fill (`band_frames`), which forces the first seconds onto the diagonal
    /// whatever the tempo; a fraction of a second is enough to get the path going.
    pub startup_frames: usize,
    /// Slowest tempo (reference frames per live frame) the path may take over the tempo window.
    pub min_tempo: f64,
    /// Fastest tempo the path may take over the tempo window.
    pub max_tempo: f64,
    /// How often (in live frames) to look for positions that have become final; 0 never does,
    /// and spares the aligner the bookkeeping (two bits per computed cell, kept back to the
    /// last final position, at most about a band width of rows and of columns past that before
    /// the oldest half is settled along the best path). Each look walks the paths back to
    /// where they meet, about two band widths of cells.
    pub settle_every_frames: usize,
    /// How far (in reference frames) the frontier is kept ahead of the best match, so that the
    /// match can move on as soon as the live stream does; 0 leaves it to Dixon's rule alone.
    pub lookahead_frames: usize,
    /// How much farther the live frame may be from the reference frame the recent tempo
    /// predicts than from the best match, with the prediction still reported (the features
    /// cannot tell the two apart, as along a held note or a pause, and the tempo can): a
    /// fraction of the reference's spread, the median distance between its frames
    /// `spread_lag_frames` apart, so that it means the same for features that differ much
    /// (log-mel) or little (chroma) from one note to the next. 0 reports the best match alone.
    /// This margin holds where the best match lies ahead of the prediction.
    pub prediction_margin: f32,
    /// The margin where the best match lies behind the prediction. Reported positions never
    /// move back, so a best match behind the prediction can only hold the position still; on
    /// another instrument it is mostly a note the live performance sustains where the
    /// reference's decays (the live frame then matches the reference note's louder start),
    /// while a match ahead is an onset reached. A wide margin behind carries positions through
    /// sustained notes; too wide, and a performance that slows down at once runs on at its
    /// old tempo.
    pub prediction_margin_behind: f32,
    /// What the band's distances are computed in: [`Precision::Int8`] (cosine only) reads a
    /// quarter of the bytes, for distances within about `√d / 80` of the exact ones;
    /// [`Precision::Auto`] (the default) takes it where it is faster.
    pub precision: Precision,
    /// Frames apart whose distance measures how much the reference changes (its spread, the
    /// unit of the prediction margins and of the confidence's distance ratio):
    /// [`SPREAD_LAG_FRAMES`] by default.
    pub spread_lag_frames: usize,
}

impl Default for OltwConfig {
    fn default() -> Self {
        Self {
            band_frames: 500,
            max_run_count: 3,
            distance: Distance::Cosine,
            tempo_window_frames: 35,
            step_weights: StepWeights::ARZT,
            normalisation: Normalisation::Manhattan,
            rival_exclusion_frames: 10,
            startup_frames: 10,
            settle_every_frames: 25,
            lookahead_frames: 10,
            prediction_margin: 0.2,
            prediction_margin_behind: 0.2,
            min_tempo: 0.5,
            max_tempo: 2.0,
            precision: Precision::Auto,
            spread_lag_frames: SPREAD_LAG_FRAMES,
        }
    }
}

impl OltwConfig {
    /// These settings for frames `factor` times as many per second (see
    /// [`super::FollowerConfig::scaled_in_time`]): the band, the tempo window, the rivals'
    /// exclusion, the start-up, the settling interval, the lookahead and the spread's lag cover
    /// as much time.
    pub fn scaled_in_time(&self, factor: f64) -> Self {
        let scaled = |frames, at_least| frames_in_time(frames, factor, at_least);
        Self {
            band_frames: scaled(self.band_frames, 2),
            tempo_window_frames: scaled(self.tempo_window_frames, 2),
            rival_exclusion_frames: scaled(self.rival_exclusion_frames, 0),
            startup_frames: scaled(self.startup_frames, 0),
            // 0 means never, and stays so.
            settle_every_frames: match self.settle_every_frames {
                0 => 0,
                frames => scaled(frames, 1),
            },
            lookahead_frames: scaled(self.lookahead_frames, 0),
            spread_lag_frames: scaled(self.spread_lag_frames, 1),
            ..self.clone()
        }
    }

    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), AlignError> {
        let bad = |name, expected, actual: String| Err(AlignError::BadParameter { name, expected, actual });
        if self.band_frames < 2 {
            return bad("band_frames", "at least 2", self.band_frames.to_string());
        }
        self.precision.check_distance(self.distance, "precision")?;
        if self.max_run_count < 1 {
            return bad("max_run_count", "at least 1", self.max_run_count.to_string());
        }
        if self.spread_lag_frames < 1 {
            return bad("spread_lag_frames", "at least 1", self.spread_lag_frames.to_string());
        }
        if self.tempo_window_frames < 2 {
            return bad(
                "tempo_window_frames",
                "at least 2",
                self.tempo_window_frames.to_string(),
            );
        }
        if !(self.min_tempo > 0.0 && self.min_tempo < 1.0 && self.max_tempo > 1.0 && self.max_tempo.is_finite()) {
            return bad(
                "min_tempo/max_tempo",
                "0 < min_tempo < 1 < max_tempo",
                format!("{}/{}", self.min_tempo, self.max_tempo),
            );
        }
        if ![self.prediction_margin, self.prediction_margin_behind]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0)
        {
            return bad(
                "prediction_margin/prediction_margin_behind",
                "finite and at least 0",
                format!("{}/{}", self.prediction_margin, self.prediction_margin_behind),
            );
        }
        let w = self.step_weights;
        if ![w.live, w.reference, w.diagonal]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
        {
            return bad("step_weights", "finite and above 0", format!("{w:?}"));
        }
        Ok(())
    }
}

/// The aligner's answer for one live frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackedPosition {
    /// Index of the live frame.
    pub live_index: usize,
    /// Matching reference frame; never smaller than the previous answer's.
    pub ref_index: usize,
    /// Reference frames per live frame over the recent path.
    pub tempo: f64,
    /// How far the best match stands out from its rivals in the band, in [0, 1].
    pub confidence: f64,
    /// Path cost to the match divided by the path's total step weight.
    pub normalized_cost: f32,
}

/// Which index the next step advances (Dixon's Row / Column / Both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Live,
    Reference,
    Both,
}

/// Online time warping of a live sequence against a fixed reference.
#[derive(Debug)]
pub struct OnlineTimeWarper {
    reference: Arc<FeatureMatrix>,
    config: OltwConfig,
    /// Row t: reference frames `row.first..=j`.
    row: Strip,
    /// Column j: live frames `column.first..=t`.
    column: Strip,
    /// The strip being built by the current step, swapped in when done.
    scratch: Strip,
    /// Local distances of the current step's cells.
    distances: Vec<f32>,
    /// A reference frame widened from f16 or int8 (see [`FeatureMatrix::frame_in`]).
    frame_scratch: Vec<f32>,
    /// The live frames of the column.
    live_frames: LiveWindow,
    /// The live frame being pushed, quantised, when the band runs in int8.
    quantised_live: Option<Int8Frame>,
    /// The reference frame of a column, as the int8 band holds it.
    quantised_reference: Option<Int8Frame>,
    live_index: Option<usize>,
    ref_index: usize,
    pending_step: Step,
    previous_step: Option<Step>,
    run_count: usize,
    /// (t, j) after each of the last `tempo_window_frames` live frames: the path's recent slope.
    recent_frontier: VecDeque<(usize, usize)>,
    /// (t, reported position) over the same window: the tempo the positions move at.
    recent_positions: VecDeque<(usize, usize)>,
    /// The position last reported, with the fraction of a frame the tempo carries it by.
    reported_position: f64,
    /// The furthest reference frame of a final position: no later position is reported
    /// before it.
    final_floor: usize,
    /// See [`reference_spread`]: the unit of `prediction_margin`.
    reference_spread: f32,
    /// Reference frame the path starts from (0, or where a relocation put it).
    origin_ref: usize,
    /// How recent cells were entered, when final positions are looked for.
    history: Option<PathHistory>,
    /// Positions found final and not yet taken.
    final_positions: Vec<FinalPosition>,
}

impl OnlineTimeWarper {
    /// An aligner that will follow live frames along `reference`.
    pub fn new(reference: Arc<FeatureMatrix>, config: OltwConfig) -> Result<Self, AlignError> {
        let spread = reference_spread(&reference, config.distance, config.spread_lag_frames);
        Self::with_reference_spread(reference, config, spread)
    }

    /// As [`OnlineTimeWarper::new`], with the reference's spread (see [`reference_spread`])
    /// already measured: aligners started again and again over one reference (relocation
    /// hypotheses) measure it once.
    pub(crate) fn with_reference_spread(
        reference: Arc<FeatureMatrix>,
        config: OltwConfig,
        spread: f32,
    ) -> Result<Self, AlignError> {
        config.validate()?;
        if reference.is_empty() {
            return Err(AlignError::EmptyReference);
        }
        let dim = reference.dim();
        let band = config.band_frames;
        let config_settle_every = config.settle_every_frames;
        let precision = config.precision.resolve(dim, config.distance);
        if precision == Precision::Int8 {
            // Now rather than on the first live frame, which would wait for the whole reference.
            reference.int8_panels();
        }
        Ok(Self {
            reference,
            row: Strip::default(),
            column: Strip::default(),
            scratch: Strip::default(),
            frame_scratch: Vec::new(),
            distances: Vec::with_capacity(band + 1),
            live_frames: LiveWindow::new(dim, band, precision),
            quantised_live: (precision == Precision::Int8).then(|| Int8Frame::new(dim)),
            quantised_reference: (precision == Precision::Int8).then(|| Int8Frame::new(dim)),
            recent_frontier: VecDeque::with_capacity(config.tempo_window_frames + 1),
            recent_positions: VecDeque::with_capacity(config.tempo_window_frames + 1),
            config,
            live_index: None,
            ref_index: 0,
            pending_step: Step::Both,
            previous_step: None,
            run_count: 0,
            reported_position: 0.0,
            final_floor: 0,
            reference_spread: spread,
            origin_ref: 0,
            history: (config_settle_every > 0)
                .then(|| PathHistory::new(HISTORY_BANDS * band + 2 * config_settle_every)),
            final_positions: Vec::new(),
        })
    }

    /// Forgets the path so far and starts again with the next live frame matched to reference
    /// frame `ref_index` (after a relocation). Positions may then go back once.
    pub fn restart_at(&mut self, ref_index: usize) {
        let origin = ref_index.min(self.reference.len() - 1);
        self.origin_ref = origin;
        self.ref_index = origin;
        self.reported_position = origin as f64;
        self.final_floor = origin;
        self.live_index = None;
        self.live_frames.clear();
        self.recent_frontier.clear();
        self.recent_positions.clear();
        self.pending_step = Step::Both;
        self.previous_step = None;
        self.run_count = 0;
    }

    /// The frontier (t, j): the newest live frame and the furthest reference frame computed.
    pub fn frontier(&self) -> Option<(usize, usize)> {
        self.live_index.map(|t| (t, self.ref_index))
    }

    /// Accumulated path cost at the frontier (t, j).
    pub fn frontier_cost(&self) -> Option<f32> {
        let cost = self.row.get(self.ref_index).cost;
        (self.live_index.is_some() && cost.is_finite()).then_some(cost)
    }

    /// Takes the next live frame and returns where it sits in the reference.
    pub fn push_frame(&mut self, frame: &[f32]) -> Result<TrackedPosition, AlignError> {
        if frame.len() != self.reference.dim() {
            return Err(AlignError::DimensionMismatch {
                expected: self.reference.dim(),
                actual: frame.len(),
            });
        }
        if let Some(quantised) = self.quantised_live.as_mut() {
            quantised.quantise(frame);
        }
        match self.live_index {
            None => self.start(frame),
            Some(_) => {
                let step = self.pending_step;
                self.add_live_row(frame);
                if step == Step::Both && self.can_advance_reference() {
                    self.add_reference_column();
                }
                self.record_step(step);
            }
        }
        loop {
            let step = self.decide_step();
            if step == Step::Reference && self.can_advance_reference() {
                self.add_reference_column();
                self.record_step(step);
                continue;
            }
            self.pending_step = if step == Step::Both && self.can_advance_reference() {
                Step::Both
            } else {
                Step::Live
            };
            break;
        }
        self.settle_if_due();
        Ok(self.report(frame))
    }

    /// Takes the positions that have become final since the last call, in live order: each
    /// is on every path the aligner may still extend, so no later input can change it. They
    /// trail the live edge by about the band width (see `settle_every_frames`).
    pub fn drain_final_positions(&mut self) -> std::vec::Drain<'_, FinalPosition> {
        self.final_positions.drain(..)
    }

    /// Declares the whole path final once the live stream has ended: nothing can extend it any
    /// more, so the path to the best cell of the last row is the answer. Take the positions with
    /// [`OnlineTimeWarper::drain_final_positions`].
    pub fn finish(&mut self) {
        let (Some(history), Some(t), Some((best_ref, _))) =
            (self.history.as_mut(), self.live_index, self.row.cheapest())
        else {
            return;
        };
        history.settle_to_end((t, best_ref), &mut self.final_positions);
    }

    /// Whether this aligner looks for final positions (`settle_every_frames` above 0).
    pub fn settles_positions(&self) -> bool {
        self.history.is_some()
    }

    fn settle_if_due(&mut self) {
        let (Some(history), Some(t)) = (self.history.as_mut(), self.live_index) else {
            return;
        };
        if !t.is_multiple_of(self.config.settle_every_frames) {
            return;
        }
        let (Some(row_first), Some(column_first), Some((best_ref, _))) = (
            self.row.first_reached(),
            self.column.first_reached(),
            self.row.cheapest(),
        ) else {
            return;
        };
        history.settle(
            [(t, row_first), (column_first, self.ref_index)],
            (t, best_ref),
            &mut self.final_positions,
        );
        if let Some(settled) = self.final_positions.last() {
            self.final_floor = self.final_floor.max(settled.ref_last);
        }
    }

    /// The distance from `live`, the frame being pushed, to reference frame `ref_index`, in the
    /// band's precision (in int8, from the frame's quantised copy).
    fn distance_to_reference(&mut self, live: &[f32], live_inverse_norm: f32, ref_index: usize) -> f32 {
        if let Some(quantised) = &self.quantised_live {
            return self.reference.int8_cosine_to(quantised, ref_index);
        }
        let reference = self.reference.frame_in(ref_index, &mut self.frame_scratch);
        self.config.distance.between_with_inverse_norms(
            live,
            live_inverse_norm,
            reference,
            self.reference.frame_inverse_norm(ref_index),
        )
    }

    fn start(&mut self, frame: &[f32]) {
        let frame_inverse_norm = inverse_norm(frame);
        let d = self.distance_to_reference(frame, frame_inverse_norm, self.origin_ref);
        let cell = Cell { cost: d, weight: 1.0 };
        self.row = Strip::single(self.origin_ref, cell);
        self.column = Strip::single(0, cell);
        if let Some(history) = self.history.as_mut() {
            history.restart(self.origin_ref);
        }
        self.live_frames
            .push(frame, frame_inverse_norm, self.quantised_live.as_ref());
        self.live_index = Some(0);
        self.ref_index = self.origin_ref;
    }

    fn can_advance_reference(&self) -> bool {
        self.ref_index + 1 < self.reference.len()
    }

    /// Adds row t+1 for `frame`, over the band of reference frames ending at j.
    fn add_live_row(&mut self, frame: &[f32]) {
        let (j, band, weights) = (self.ref_index, self.config.band_frames, self.config.step_weights);
        let lengths = self.config.normalisation.step_lengths(weights);
        let frame_inverse_norm = inverse_norm(frame);
        let first = j.saturating_sub(band - 1).max(self.origin_ref);
        // Distances first, in a loop of independent iterations the compiler can vectorise;
        // the recurrence after it is then a short chain of adds and compares per cell.
        match &self.quantised_live {
            Some(quantised) => self
                .reference
                .int8_cosines_to(quantised, first..j + 1, &mut self.distances),
            None => self.reference.distances_to(
                frame,
                frame_inverse_norm,
                first..j + 1,
                self.config.distance,
                &mut self.distances,
            ),
        }
        let mut row = std::mem::take(&mut self.scratch);
        let t = self.live_index.map_or(0, |t| t + 1);
        let first_weight = lengths.live * t as f32 + lengths.reference * (first - self.origin_ref) as f32 + 1.0;
        let record = self.history.is_some();
        let from_reference = row.fill_after(
            &self.row,
            StripStep {
                kind: StripKind::Row,
                first,
                distances: &self.distances,
                weights,
                lengths,
                first_weight,
                record_entries: record,
            },
        );
        self.column.push(from_reference, band);
        if let Some(history) = self.history.as_mut() {
            history.push_row(t, first, row.entries());
        }
        self.scratch = std::mem::replace(&mut self.row, row);
        self.live_frames
            .push(frame, frame_inverse_norm, self.quantised_live.as_ref());
        self.live_index = self.live_index.map(|t| t + 1);
    }

    /// Adds column j+1 over the live frames of the band (the column and the kept live frames
    /// cover the same live indices).
    fn add_reference_column(&mut self) {
        let (j, band, weights) = (self.ref_index + 1, self.config.band_frames, self.config.step_weights);
        let lengths = self.config.normalisation.step_lengths(weights);
        match self.quantised_reference.as_mut() {
            Some(quantised) => {
                self.reference.int8_frame(j, quantised);
                self.live_frames.int8_distances_to(quantised, &mut self.distances);
            }
            None => {
                let reference = self.reference.frame_in(j, &mut self.frame_scratch);
                let reference_inverse_norm = self.reference.frame_inverse_norm(j);
                self.live_frames.distances_to(
                    reference,
                    reference_inverse_norm,
                    self.config.distance,
                    &mut self.distances,
                );
            }
        }
        let mut column = std::mem::take(&mut self.scratch);
        let first = self.column.first();
        let first_weight = lengths.live * first as f32 + lengths.reference * (j - self.origin_ref) as f32 + 1.0;
        let from_live = column.fill_after(
            &self.column,
            StripStep {
                kind: StripKind::Column,
                first,
                distances: &self.distances,
                weights,
                lengths,
                first_weight,
                record_entries: self.history.is_some(),
            },
        );
        self.row.push(from_live, band);
        if let Some(history) = self.history.as_mut() {
            history.push_column(j, first, column.entries());
        }
        self.scratch = std::mem::replace(&mut self.column, column);
        self.ref_index = j;
    }

    fn record_step(&mut self, step: Step) {
        if Some(step) == self.previous_step {
            self.run_count += 1;
        } else {
            self.run_count = 1;
        }
        if step != Step::Both {
            self.previous_step = Some(step);
        }
    }

    fn decide_step(&self) -> Step {
        let t = self.live_index.unwrap_or(0);
        let j = self.ref_index;
        if t < self.config.startup_frames {
            return Step::Both;
        }
        if self.run_count > self.config.max_run_count {
            return if self.previous_step == Some(Step::Live) {
                Step::Reference
            } else {
                Step::Live
            };
        }
        // Over a full tempo window, a path running faster or slower than the bounds is held
        // back. The slope is taken to the current j, so it moves with every step.
        if self.recent_frontier.len() == self.config.tempo_window_frames {
            if let Some(&(t0, j0)) = self.recent_frontier.front() {
                let tempo = (j as f64 - j0 as f64) / (t - t0).max(1) as f64;
                if tempo > self.config.max_tempo {
                    return Step::Live;
                }
                if tempo < self.config.min_tempo {
                    return Step::Reference;
                }
            }
        }
        let on_column = self.column.cheapest();
        let on_row = self.row.cheapest();
        if let Some((best_ref, _)) = on_row {
            // Half the band at most: the best match must stay well inside it.
            if j < best_ref + self.config.lookahead_frames.min(self.config.band_frames / 2) {
                return Step::Reference;
            }
        }
        let (live, reference) = match (on_column, on_row) {
            (Some((live, column_best)), Some((reference, row_best))) => {
                // On a tie the column wins, as in the order of Dixon's tests.
                if row_best.cheaper_than(column_best) {
                    (t, reference)
                } else {
                    (live, j)
                }
            }
            _ => (t, j),
        };
        if live < t {
            Step::Reference
        } else if reference < j {
            Step::Live
        } else {
            Step::Both
        }
    }

    /// The position to report for `frame`: the one the tempo of the recent positions predicts
    /// from the last one, while `frame` is about as near to that reference frame as to the
    /// best match (within `prediction_margin`, or `prediction_margin_behind` when the best
    /// match lies behind the prediction); otherwise the frame nearest the prediction, on the
    /// way to the best match, that is. Never before the last one reported, nor before a
    /// position already final.
    ///
    /// Where the features cannot tell frames apart the best match drifts: along a held note
    /// under Manhattan normalisation it runs ahead to the note's end (a longer path of equal
    /// cost weighs less), and where a note decays as it does at any tempo it moves at tempo 1
    /// and jumps at the next onset. The prediction goes on at the tempo of the positions
    /// instead, and gives way to the best match as soon as the live frame tells them apart.
    /// The test is on the frame's own distances, not on path costs: those carry the same bias
    /// (a path longer by k frames of near-zero distance costs about k × its mean distance less).
    fn predicted_or_best(&mut self, best_ref: usize, frame: &[f32]) -> usize {
        let margin = self.config.prediction_margin * self.reference_spread;
        let mut position = best_ref as f64;
        if margin > 0.0 && self.recent_positions.len() == self.config.tempo_window_frames {
            let tempo = slope(&self.recent_positions).clamp(self.config.min_tempo, self.config.max_tempo);
            // Within the band, where the path can be.
            let predicted = (self.reported_position + tempo).clamp(self.row.first() as f64, self.ref_index as f64);
            let target = predicted.round() as usize;
            let inverse_norm = inverse_norm(frame);
            let margin = if best_ref < target {
                self.config.prediction_margin_behind * self.reference_spread
            } else {
                margin
            };
            let near_enough = self.distance_to_reference(frame, inverse_norm, best_ref) + margin;
            let mut j = target;
            while j != best_ref && self.distance_to_reference(frame, inverse_norm, j) > near_enough {
                j = if j > best_ref { j - 1 } else { j + 1 };
            }
            position = if j == target { predicted } else { j as f64 };
        }
        self.reported_position = position
            .max(self.reported_position.round())
            .max(self.final_floor as f64);
        self.reported_position.round() as usize
    }

    fn report(&mut self, frame: &[f32]) -> TrackedPosition {
        let t = self.live_index.unwrap_or(0);
        let (best_ref, best) = self.row.cheapest().unwrap_or((self.ref_index, Cell::UNREACHED));
        let exclusion = self.config.rival_exclusion_frames;
        let rival = [
            self.row.cheapest_within(0..best_ref.saturating_sub(exclusion)),
            self.row.cheapest_within(best_ref + exclusion + 1..usize::MAX),
        ]
        .into_iter()
        .flatten()
        .map(|(_, cell)| cell.normalized())
        .fold(f32::INFINITY, f32::min);
        // How much more the best rival path costs, scaled to the best path's length: about the
        // local distance of the frames where the two part ways. One completely mismatched
        // frame (distance ~1) already makes the match fairly sure.
        let margin = f64::from((rival - best.normalized()) * best.weight);
        let confidence = if margin.is_finite() {
            (1.0 - (-margin / CONFIDENCE_SCALE).exp()).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let ref_index = self.predicted_or_best(best_ref, frame);
        if self.recent_positions.len() == self.config.tempo_window_frames {
            self.recent_positions.pop_front();
        }
        self.recent_positions.push_back((t, ref_index));
        if self.recent_frontier.len() == self.config.tempo_window_frames {
            self.recent_frontier.pop_front();
        }
        self.recent_frontier.push_back((t, self.ref_index));
        TrackedPosition {
            live_index: t,
            ref_index,
            tempo: slope(&self.recent_frontier),
            confidence,
            normalized_cost: best.normalized(),
        }
    }
}

/// Frames apart whose distance measures how much a reference changes: half a second at
/// `follow`'s 20 ms hop, about a note.
pub const SPREAD_LAG_FRAMES: usize = 25;
/// Pairs of frames the spread is measured on, at most (spread evenly over the reference).
const SPREAD_SAMPLES: usize = 4096;

/// The median distance between frames `lag_frames` apart ([`OltwConfig::spread_lag_frames`]);
/// 0 for a reference shorter than that.
pub(crate) fn reference_spread(reference: &FeatureMatrix, distance: Distance, lag_frames: usize) -> f32 {
    reference.spread(distance, lag_frames, |reference| {
        measure_spread(reference, distance, lag_frames)
    })
}

fn measure_spread(reference: &FeatureMatrix, distance: Distance, lag_frames: usize) -> f32 {
    if reference.len() <= lag_frames {
        return 0.0;
    }
    let pairs = reference.len() - lag_frames;
    let stride = (pairs / SPREAD_SAMPLES).max(1);
    let mut distances: Vec<f32> = (0..pairs)
        .step_by(stride)
        .map(|k| distance.between(&reference.frame(k), &reference.frame(k + lag_frames)))
        .collect();
    let middle = distances.len() / 2;
    distances.select_nth_unstable_by(middle, f32::total_cmp);
    distances[middle]
}

/// Reference frames per live frame from the oldest to the newest point; 1 until there are two.
fn slope(points: &VecDeque<(usize, usize)>) -> f64 {
    match (points.front(), points.back()) {
        (Some(&(t0, j0)), Some(&(t1, j1))) if t1 > t0 => (j1 as f64 - j0 as f64) / (t1 - t0) as f64,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::full_dtw;
    use crate::align::test_sequences::{quantised_as_f32, symbols};
    use proptest::prelude::*;

    fn matrix(dim: usize, values: Vec<f32>) -> Arc<FeatureMatrix> {
        Arc::new(FeatureMatrix::new(dim, values).unwrap())
    }

    proptest! {
        /// With a band wider than both sequences every cell is computed exactly, so the cost
        /// at the frontier equals full DTW, for Dixon's weights and for others.
        #[test]
        fn full_band_equals_exact_dtw(
            len in 2usize..24,
            seed in proptest::collection::vec(-1.0f32..1.0, 3 * 24),
            weights in (0.5f32..3.0, 0.5f32..3.0, 0.5f32..4.0),
        ) {
            let dim = 3;
            let reference = matrix(dim, seed[..len * dim].to_vec());
            let live_values: Vec<f32> = seed[..len * dim].iter().rev().map(|v| v * 0.7 + 0.1).collect();
            let live = FeatureMatrix::new(dim, live_values).unwrap();
            let step_weights = StepWeights { live: weights.0, reference: weights.1, diagonal: weights.2 };
            // Dixon's start-up over the whole band keeps the frontier on the diagonal to the corner.
            let config = OltwConfig { band_frames: len + 1, startup_frames: len + 1, distance: Distance::Euclidean, step_weights, ..OltwConfig::default() };
            let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
            for i in 0..live.len() {
                warper.push_frame(&live.frame(i)).unwrap();
            }
            prop_assert_eq!(warper.frontier(), Some((len - 1, len - 1)));
            let exact = full_dtw(&live, &reference, Distance::Euclidean, step_weights).unwrap();
            let online = warper.frontier_cost().unwrap();
            prop_assert!((online - exact.cost).abs() <= 1e-4 * exact.cost.max(1.0), "online {online} exact {}", exact.cost);
        }

        /// In int8 the band is exact too: with a band wider than both sequences, the cost at
        /// the frontier equals full DTW over the quantised frames (their integers as f32).
        #[test]
        fn int8_full_band_equals_exact_dtw_of_the_quantised_frames(
            len in 2usize..20,
            dim in 1usize..10,
            seed in proptest::collection::vec(-1.0f32..1.0, 10 * 20),
        ) {
            let reference = matrix(dim, seed[..len * dim].to_vec());
            let live_values: Vec<f32> = seed[..len * dim].iter().rev().map(|v| v * 0.7 + 0.1).collect();
            let live = FeatureMatrix::new(dim, live_values).unwrap();
            let config = OltwConfig { band_frames: len + 1, startup_frames: len + 1, precision: Precision::Int8, ..OltwConfig::default() };
            let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
            for i in 0..live.len() {
                warper.push_frame(&live.frame(i)).unwrap();
            }
            prop_assert_eq!(warper.frontier(), Some((len - 1, len - 1)));
            let exact = full_dtw(&quantised_as_f32(&live), &quantised_as_f32(&reference), Distance::Cosine, StepWeights::ARZT).unwrap();
            let online = warper.frontier_cost().unwrap();
            prop_assert!((online - exact.cost).abs() <= 1e-4 * exact.cost.max(1.0), "online {online} exact {}", exact.cost);
        }

        /// With a narrow band the frontier still moves by DTW steps within the run limit, and
        /// positions stay in the reference and never go back.
        #[test]
        fn narrow_band_paths_are_valid(ref_len in 5usize..60, live_len in 5usize..60, band in 2usize..8,
                                       values in proptest::collection::vec(0.0f32..1.0, 2 * 120)) {
            let reference = matrix(2, values[..ref_len * 2].to_vec());
            let live = FeatureMatrix::new(2, values[240 - live_len * 2..].to_vec()).unwrap();
            let config = OltwConfig { band_frames: band, ..OltwConfig::default() };
            let max_ref_steps = config.max_run_count + 2;
            let mut warper = OnlineTimeWarper::new(reference, config).unwrap();
            let (mut last_ref, mut last_frontier) = (0, (0, 0));
            for i in 0..live.len() {
                let position = warper.push_frame(&live.frame(i)).unwrap();
                let frontier = warper.frontier().unwrap();
                prop_assert_eq!(frontier.0, i);
                if i > 0 {
                    prop_assert!(frontier.1 >= last_frontier.1 && frontier.1 - last_frontier.1 <= max_ref_steps);
                }
                prop_assert!(position.ref_index >= last_ref);
                prop_assert!(position.ref_index < ref_len && position.ref_index + band > frontier.1);
                prop_assert!((0.0..=1.0).contains(&position.confidence));
                last_ref = position.ref_index;
                last_frontier = frontier;
            }
        }
    }

    proptest! {
        /// With a band wider than both sequences, the path the aligner records (traced back
        /// from the corner) is exactly full DTW's. Small whole-number features keep every sum
        /// exact, so ties are real ties, broken the same way on both sides.
        #[test]
        fn recorded_path_equals_full_dtw(
            len in 2usize..30,
            seed in proptest::collection::vec(0u8..4, 2 * 60),
            weights in prop_oneof![Just((1.0f32, 1.0f32, 2.0f32)), Just((1.0, 1.0, 1.0)), Just((2.0, 1.0, 2.0))],
        ) {
            let reference = matrix(2, seed[..2 * len].iter().map(|&v| f32::from(v)).collect());
            let live = FeatureMatrix::new(2, seed[60..60 + 2 * len].iter().map(|&v| f32::from(v)).collect()).unwrap();
            let step_weights = StepWeights { live: weights.0, reference: weights.1, diagonal: weights.2 };
            let config = OltwConfig { band_frames: len + 1, startup_frames: len + 1, distance: Distance::Manhattan, step_weights, settle_every_frames: 1_000, ..OltwConfig::default() };
            let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
            for i in 0..live.len() {
                warper.push_frame(&live.frame(i)).unwrap();
            }
            prop_assert_eq!(warper.frontier(), Some((len - 1, len - 1)));
            let history = warper.history.as_ref().unwrap();
            let mut recorded = vec![(len - 1, len - 1)];
            while let Some(previous) = history.predecessor(recorded[recorded.len() - 1]) {
                recorded.push(previous);
            }
            recorded.reverse();
            let exact = full_dtw(&live, &reference, Distance::Manhattan, step_weights).unwrap();
            prop_assert_eq!(recorded, exact.path);
        }
    }

    proptest! {
        /// Final positions are exact: every path from the frontier's reached cells at the end
        /// runs through them (each is traced back to check), they come in live order without
        /// gaps and never go back, and no position reported after one became final is behind it.
        #[test]
        fn final_positions_lie_on_every_frontier_path(
            len in 60usize..160,
            band in 8usize..30,
            settle_every in 1usize..12,
            weights in prop_oneof![Just((1.0f32, 1.0f32, 2.0f32)), Just((1.0, 1.0, 1.0)), Just((1.0, 2.0, 2.5))],
            moves in proptest::collection::vec(0usize..3, 200),
            seed in 1u64..1000,
        ) {
            let dim = 6;
            let reference = matrix(dim, symbols(len, dim, seed));
            // The live stream holds (0), steps (1) or skips a frame (2) through the reference.
            let mut truth = vec![0usize];
            for &m in &moves {
                let next = truth[truth.len() - 1] + m;
                if next >= len { break; }
                truth.push(next);
            }
            let step_weights = StepWeights { live: weights.0, reference: weights.1, diagonal: weights.2 };
            let config = OltwConfig { band_frames: band, settle_every_frames: settle_every, step_weights, distance: Distance::Euclidean, ..OltwConfig::default() };
            let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
            let mut finals: Vec<(FinalPosition, usize)> = Vec::new();
            let mut reported = Vec::new();
            for (t, &k) in truth.iter().enumerate() {
                reported.push(warper.push_frame(&reference.frame(k)).unwrap().ref_index);
                finals.extend(warper.drain_final_positions().map(|f| (f, t)));
            }
            // In order; without gaps unless the memory bound dropped some (never while exact).
            for pair in finals.windows(2) {
                prop_assert!(pair[1].0.live_index > pair[0].0.live_index);
                if pair[0].0.exact && pair[1].0.exact {
                    prop_assert_eq!(pair[1].0.live_index, pair[0].0.live_index + 1, "pair {:?}", pair);
                }
                prop_assert!(pair[1].0.ref_first >= pair[0].0.ref_last, "pair {:?}", pair);
            }
            for &(f, found_at) in &finals {
                prop_assert!(reported[found_at..].iter().all(|&r| r >= f.ref_last), "reported behind final {f:?}");
            }
            let history = warper.history.as_ref().unwrap();
            let (t, j) = warper.frontier().unwrap();
            let ends = (warper.row.first()..=j).map(|x| (t, x))
                .chain((warper.column.first()..=t).map(|y| (y, j)))
                .filter(|&(y, x)| if y == t { warper.row.get(x).cost.is_finite() } else { warper.column.get(y).cost.is_finite() });
            for end in ends {
                // Each frame's first and last reference frame on the path from `end`.
                let mut spans = std::collections::HashMap::new();
                let mut cell = end;
                loop {
                    spans.entry(cell.0).and_modify(|span: &mut (usize, usize)| span.0 = cell.1).or_insert((cell.1, cell.1));
                    match history.predecessor(cell) {
                        Some(previous) => cell = previous,
                        None => break,
                    }
                }
                for &(f, _) in finals.iter().filter(|(f, _)| f.exact && f.live_index > cell.0) {
                    prop_assert_eq!(spans.get(&f.live_index).copied(), Some((f.ref_first, f.ref_last)), "path from {:?}", end);
                }
            }
        }
    }

    proptest! {
        /// Under Manhattan normalisation every reached cell (t, j) of the frontier's row and
        /// column is divided by t + j + 1 (from the origin), whatever the step weights.
        #[test]
        fn manhattan_normalises_by_cell_position(
            values in proptest::collection::vec(0.0f32..1.0, 2 * 80),
            weights in prop_oneof![Just((1.0f32, 1.0f32, 1.0f32)), Just((1.0, 2.0, 2.5)), Just((2.0, 1.0, 0.5))],
        ) {
            let reference = matrix(2, values[..80].to_vec());
            let step_weights = StepWeights { live: weights.0, reference: weights.1, diagonal: weights.2 };
            let config = OltwConfig { band_frames: 12, step_weights, normalisation: Normalisation::Manhattan, ..OltwConfig::default() };
            let mut warper = OnlineTimeWarper::new(reference, config).unwrap();
            for frame in values[80..].chunks_exact(2) {
                warper.push_frame(frame).unwrap();
                let (t, j) = warper.frontier().unwrap();
                for x in warper.row.first()..=j {
                    let cell = warper.row.get(x);
                    prop_assert!(!cell.cost.is_finite() || cell.weight == (t + x + 1) as f32, "row cell ({t}, {x}) weighs {}", cell.weight);
                }
                for y in warper.column.first()..=t {
                    let cell = warper.column.get(y);
                    prop_assert!(!cell.cost.is_finite() || cell.weight == (y + j + 1) as f32, "column cell ({y}, {j}) weighs {}", cell.weight);
                }
            }
        }

        /// Each reported position is the best match, the last one reported, or a computed frame
        /// the live frame is as near to as to the best match, within the margin times the
        /// reference's spread; positions never go back.
        #[test]
        fn reported_positions_are_the_best_match_or_as_near_to_the_live_frame(
            values in proptest::collection::vec(0.0f32..1.0, 2 * 120),
            margin in 0.0f32..0.5,
            margin_behind in 0.0f32..1.0,
            lookahead in 0usize..8,
        ) {
            let reference = matrix(2, values[..120].to_vec());
            let config = OltwConfig {
                band_frames: 20,
                tempo_window_frames: 5,
                prediction_margin: margin,
                prediction_margin_behind: margin_behind,
                lookahead_frames: lookahead,
                ..OltwConfig::default()
            };
            let mut warper = OnlineTimeWarper::new(reference, config).unwrap();
            let mut before = 0;
            for frame in values[120..].chunks_exact(2) {
                let reported = warper.push_frame(frame).unwrap().ref_index;
                let (best_ref, _) = warper.row.cheapest().unwrap();
                prop_assert!(reported >= before && reported <= warper.ref_index);
                if reported != best_ref && reported != before {
                    let to_reported = warper.distance_to_reference(frame, inverse_norm(frame), reported);
                    let to_best = warper.distance_to_reference(frame, inverse_norm(frame), best_ref);
                    let margin = if best_ref < reported { margin_behind } else { margin };
                    prop_assert!(
                        to_reported <= to_best + margin * warper.reference_spread,
                        "frame {reported} is farther from the live frame than the best match {best_ref}"
                    );
                }
                before = reported;
            }
        }
    }

    proptest! {
        /// Non-finite or extreme features do not make the aligner panic or report positions
        /// outside the reference.
        #[test]
        fn strange_values_never_panic(values in proptest::collection::vec(
            prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), Just(0.0f32), -1e30f32..1e30],
            2 * 60,
        )) {
            let reference = matrix(2, values[..60].to_vec());
            for distance in [Distance::Cosine, Distance::Euclidean, Distance::Manhattan] {
                let config = OltwConfig { band_frames: 5, distance, ..OltwConfig::default() };
                let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
                for frame in values[60..].chunks_exact(2) {
                    let position = warper.push_frame(frame).unwrap();
                    prop_assert!(position.ref_index < reference.len());
                }
            }
        }
    }

    /// One-hot frames cycling through `dim` symbols make every frame distinct from its
    /// neighbours, so the greedy choice at each step is unambiguous.
    fn symbol_sequence(len: usize, dim: usize) -> Vec<f32> {
        let mut values = vec![0.0; len * dim];
        let mut state = 12345u64;
        let mut previous = usize::MAX;
        for i in 0..len {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut symbol = (state >> 33) as usize % dim;
            if symbol == previous {
                symbol = (symbol + 1) % dim;
            }
            previous = symbol;
            values[i * dim + symbol] = 1.0;
        }
        values
    }

    #[test]
    fn follows_a_sequence_whose_tempo_changes() {
        follows_tempo_changes_in(Precision::F32);
    }

    #[test]
    fn follows_a_sequence_whose_tempo_changes_in_int8() {
        follows_tempo_changes_in(Precision::Int8);
    }

    fn follows_tempo_changes_in(precision: Precision) {
        let dim = 16;
        let ref_len = 600;
        let reference = matrix(dim, symbol_sequence(ref_len, dim));
        // The live stream plays the reference at 0.8x for a while, then at 1.25x.
        let mut truth = Vec::new();
        let mut position = 0.0f64;
        while (position as usize) < ref_len {
            truth.push(position as usize);
            position += if position < 300.0 { 0.8 } else { 1.25 };
        }
        let config = OltwConfig {
            band_frames: 40,
            precision,
            ..OltwConfig::default()
        };
        let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
        let mut worst = 0usize;
        let mut last = None;
        let mut finals = Vec::new();
        let mut final_lag = Vec::new();
        for (i, &true_ref) in truth.iter().enumerate() {
            let tracked = warper.push_frame(&reference.frame(true_ref)).unwrap();
            if i > 60 {
                worst = worst.max(tracked.ref_index.abs_diff(true_ref));
            }
            // The tempo is read before the frontier, kept ahead of the match, meets the
            // reference's end and has to wait there.
            if true_ref + 2 * OltwConfig::default().lookahead_frames < ref_len {
                last = Some(tracked);
            }
            for settled in warper.drain_final_positions() {
                final_lag.push(i - settled.live_index);
                finals.push(settled);
            }
        }
        assert!(worst <= 2, "largest error after warm-up was {worst} frames");
        // Final positions come about a band behind the live edge, the rest when the stream
        // ends; they cover every frame, in order, and sit on the true path.
        assert!(
            finals.len() + 2 * 40 >= truth.len(),
            "{} final of {} frames",
            finals.len(),
            truth.len()
        );
        warper.finish();
        finals.extend(warper.drain_final_positions());
        assert_eq!(finals.len(), truth.len());
        assert!(finals.iter().enumerate().all(|(k, f)| f.live_index == k));
        let final_worst = finals
            .iter()
            .skip(60)
            .map(|f| (f.ref_middle() - truth[f.live_index] as f64).abs())
            .fold(0.0, f64::max);
        assert!(final_worst <= 2.0, "largest final error {final_worst}");
        final_lag.sort_unstable();
        assert!(
            final_lag[final_lag.len() / 2] <= 2 * 40,
            "median lag {}",
            final_lag[final_lag.len() / 2]
        );
        let last = last.unwrap();
        assert!((last.tempo - 1.25).abs() < 0.1, "tempo {}", last.tempo);
        assert!(last.confidence > 0.5, "confidence {}", last.confidence);
    }

    #[test]
    fn follows_on_from_where_it_is_restarted() {
        let dim = 16;
        let reference = matrix(dim, symbol_sequence(1_000, dim));
        let config = OltwConfig {
            band_frames: 40,
            ..OltwConfig::default()
        };
        let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
        for i in 0..100 {
            warper.push_frame(&reference.frame(i)).unwrap();
        }
        warper.restart_at(600);
        let mut last = None;
        for i in 600..700 {
            last = Some(warper.push_frame(&reference.frame(i)).unwrap());
        }
        let last = last.unwrap();
        assert!(last.ref_index.abs_diff(699) <= 2, "at {} for 699", last.ref_index);
    }

    #[test]
    fn the_spread_is_the_median_distance_a_note_apart() {
        // Frames cycle through three symbols: frames 25 apart always differ (25 mod 3 = 1).
        let cycling: Vec<f32> = (0..300)
            .flat_map(|k| (0..3).map(move |d| f32::from(u8::from(k % 3 == d))))
            .collect();
        let spread = reference_spread(
            &FeatureMatrix::new(3, cycling).unwrap(),
            Distance::Euclidean,
            SPREAD_LAG_FRAMES,
        );
        assert!((spread - 2f32.sqrt()).abs() < 1e-6, "spread {spread}");
        let constant = FeatureMatrix::new(3, vec![1.0; 3 * 300]).unwrap();
        assert_eq!(reference_spread(&constant, Distance::Euclidean, SPREAD_LAG_FRAMES), 0.0);
        let short = FeatureMatrix::new(3, vec![1.0; 3 * 10]).unwrap();
        assert_eq!(reference_spread(&short, Distance::Euclidean, SPREAD_LAG_FRAMES), 0.0);
    }

    #[test]
    fn the_path_keeps_within_the_tempo_bounds() {
        let dim = 16;
        let reference = matrix(dim, symbol_sequence(3_000, dim));
        let config = OltwConfig {
            band_frames: 40,
            max_tempo: 1.5,
            ..OltwConfig::default()
        };
        let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
        // The live stream runs at 2.5x: faster than the aligner may follow.
        let mut highest = 0.0f64;
        for i in 0..1_000 {
            let tracked = warper.push_frame(&reference.frame(i * 5 / 2)).unwrap();
            if i > 200 {
                highest = highest.max(tracked.tempo);
            }
        }
        // The bound is checked before each step, and a diagonal step already decided still
        // goes ahead: the path may end up a few frames past it over the window.
        assert!(highest <= 1.5 + 3.0 / 49.0, "tempo reached {highest}");
    }

    #[test]
    fn memory_does_not_grow_with_the_stream() {
        let reference = matrix(4, symbol_sequence(5_000, 4));
        let config = OltwConfig {
            band_frames: 50,
            ..OltwConfig::default()
        };
        let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
        for i in 0..4_000 {
            warper.push_frame(&reference.frame(i)).unwrap();
        }
        assert!(warper.row.len() <= 50 && warper.column.len() <= 50);
    }

    #[test]
    fn final_position_bookkeeping_stays_bounded_past_the_reference_end() {
        // The live stream goes on long after the reference has ended (applause, an encore): the
        // paths stop meeting, and memory must not grow with the stream.
        let reference = matrix(4, symbol_sequence(300, 4));
        let config = OltwConfig {
            band_frames: 50,
            ..OltwConfig::default()
        };
        let mut warper = OnlineTimeWarper::new(reference.clone(), config).unwrap();
        let mut finals = 0;
        for i in 0..20_000 {
            warper.push_frame(&reference.frame((i * 7) % 300)).unwrap();
            finals += warper.drain_final_positions().count();
        }
        let kept = warper.history.as_ref().unwrap().strips_kept();
        assert!(kept <= 4 * (HISTORY_BANDS * 50 + 2 * 25), "{kept} strips kept");
        assert!(finals > 0);
    }

    #[test]
    fn bad_settings_and_wrong_dimensions_are_refused() {
        let mut warper = OnlineTimeWarper::new(matrix(2, vec![0.0; 4]), OltwConfig::default()).unwrap();
        assert_eq!(
            warper.push_frame(&[1.0]),
            Err(AlignError::DimensionMismatch { expected: 2, actual: 1 })
        );
        let zero_weight = OltwConfig {
            step_weights: StepWeights {
                diagonal: 0.0,
                ..StepWeights::default()
            },
            ..OltwConfig::default()
        };
        assert!(OnlineTimeWarper::new(matrix(2, vec![0.0; 4]), zero_weight).is_err());
        let int8_euclidean = OltwConfig {
            precision: Precision::Int8,
            distance: Distance::Euclidean,
            ..OltwConfig::default()
        };
        assert!(matches!(
            OnlineTimeWarper::new(matrix(2, vec![0.0; 4]), int8_euclidean),
            Err(AlignError::BadParameter { name: "precision", .. })
        ));
        assert_eq!(
            OnlineTimeWarper::new(matrix(2, vec![]), OltwConfig::default()).err(),
            Some(AlignError::EmptyReference)
        );
    }
}
