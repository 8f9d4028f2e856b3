//! Where a snippet sits in one recording, in the recording's key or in another: the search
//! behind `warpflow locate`.
//!
//! Where the frames lay out pitch, the snippet is found by its CENS statistics ([`super::cens`]:
//! pitch classes quantised to coarse shares and taken every few frames), which hear the piece
//! rather than its performers, so that another performance of the same piece outranks another
//! piece by the same performers. The statistics are searched for in each of the twelve keys
//! when a transposition is allowed (at a tenth of the frames on each side, all twelve cost
//! less than one search of the frames), and the snippet's own frames, moved to the key found,
//! then place it within the span found.
//!
//! Other frames are searched for as they are, with the exact subsequence search along
//! slope-limited steps; when they lay out pitch but statistics are not asked for, the key the
//! snippet shows against the span it matched is estimated, and if it is another, the snippet is
//! moved back to the reference's key and searched for again.
//!
//! This module owns these searches only; the subsequence search itself is
//! [`SubsequenceSearch`](super::SubsequenceSearch)'s, the statistics [`super::cens`]'s and the
//! key estimate [`TranspositionTracker`](super::TranspositionTracker)'s.

use super::cens::{cens, CensConfig};
use super::{
    AlignError, Distance, FeatureMatrix, Precision, SubsequenceMatch, SubsequenceSearch, SubsequenceSteps,
    TranspositionTracker,
};
use crate::features::{PitchLayout, PITCH_CLASSES};

/// How a snippet is searched for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocateConfig {
    /// Precision of the distances (cosine).
    pub precision: Precision,
    /// The steps a match's path may take: by default tempo-neutral ones (see
    /// [`SubsequenceSteps::TempoNeutral`]), under which a match spans what the snippet played
    /// rather than less of it.
    pub steps: SubsequenceSteps,
    /// How the frames lay out pitch, when they do.
    pub pitch_layout: Option<PitchLayout>,
    /// Whether the snippet may be in another key than the recording (with a pitch layout).
    pub transposition: bool,
    /// With a pitch layout, the statistics the snippet is found by; `None` searches the
    /// frames as they are.
    pub cens: Option<CensConfig>,
    /// The share of a match's cost added, when recordings are ranked, for each semitone the
    /// snippet was moved to match (up or down, the nearer way): performances are likelier in
    /// the recording's key or near it than a tritone away, and a search in twelve keys gives
    /// another piece twelve chances to resemble a few seconds of the snippet.
    pub cost_per_semitone: f64,
}

impl Default for LocateConfig {
    fn default() -> Self {
        Self {
            precision: Precision::Auto,
            steps: SubsequenceSteps::TempoNeutral,
            pitch_layout: None,
            transposition: false,
            cens: Some(CensConfig::default()),
            // Chosen on the accuracy harness's real song and its room recording, and the
            // synthetic performance pairs (`benches/RESULTS.md`, 2026-12-06).
            cost_per_semitone: 0.03,
        }
    }
}

/// The best match of a snippet in a recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnippetMatch {
    /// The span of the recording matched (frames), and its path cost.
    pub span: SubsequenceMatch,
    /// The path cost per snippet frame (per statistic, where the snippet was found by its
    /// statistics).
    pub cost_per_frame: f64,
    /// Semitones the snippet sits above the recording (0 to 11): 0 unless a transposition was
    /// allowed and found.
    pub semitones: usize,
    /// What recordings are ranked by, lowest first: `cost_per_frame` raised by
    /// [`LocateConfig::cost_per_semitone`] for each semitone the snippet was moved.
    pub ranked_cost: f64,
}

impl SnippetMatch {
    fn new(span: SubsequenceMatch, cost_per_frame: f64, semitones: usize, config: &LocateConfig) -> Self {
        let moved = semitones.min(PITCH_CLASSES - semitones) as f64;
        Self {
            span,
            cost_per_frame,
            semitones,
            ranked_cost: cost_per_frame * (1.0 + config.cost_per_semitone * moved),
        }
    }
}

/// The best match of `snippet` in `reference` by cosine distance. `None` when no path fits:
/// an empty reference, or (slope-limited) one shorter than half the snippet.
pub fn locate_snippet(
    snippet: &FeatureMatrix,
    reference: &FeatureMatrix,
    config: &LocateConfig,
) -> Result<Option<SnippetMatch>, AlignError> {
    match (config.pitch_layout, config.cens) {
        (Some(layout), Some(statistics)) => locate_by_statistics(snippet, reference, layout, statistics, config),
        (layout, _) => locate_by_frames(snippet, reference, layout.filter(|_| config.transposition), config),
    }
}

/// The frames of `snippet` searched for as they are and, with `transposition`'s layout, again
/// in the key they show against the span matched when that is another.
fn locate_by_frames(
    snippet: &FeatureMatrix,
    reference: &FeatureMatrix,
    transposition: Option<PitchLayout>,
    config: &LocateConfig,
) -> Result<Option<SnippetMatch>, AlignError> {
    let Some(as_played) = best_span(snippet.clone(), reference, config)? else {
        return Ok(None);
    };
    let frames = snippet.len() as f64;
    let as_played = SnippetMatch::new(as_played, f64::from(as_played.cost) / frames, 0, config);
    let Some(layout) = transposition else {
        return Ok(Some(as_played));
    };
    // The key is judged against the span matched: a stretch of a piece need not show the key
    // its whole does.
    let mut tracker = TranspositionTracker::new(reference, snippet.len(), layout)?;
    let mut scratch = Vec::new();
    let mut frame_moved = Vec::with_capacity(snippet.dim());
    let span_frames = as_played.span.end - as_played.span.start;
    for i in 0..snippet.len() {
        let placed_at = as_played.span.start + span_frames * i / snippet.len();
        tracker.push_frame(snippet.frame_in(i, &mut scratch), placed_at, &mut frame_moved)?;
    }
    let semitones = tracker.semitones();
    if semitones == 0 {
        return Ok(Some(as_played));
    }
    let in_key = best_span(moved_to_key(snippet, layout, semitones)?, reference, config)?;
    Ok(Some(match in_key {
        Some(span) if span.cost < as_played.span.cost => {
            SnippetMatch::new(span, f64::from(span.cost) / frames, semitones, config)
        }
        _ => as_played,
    }))
}

/// `frames` moved down by `semitones` as `layout` moves them.
fn moved_to_key(frames: &FeatureMatrix, layout: PitchLayout, semitones: usize) -> Result<FeatureMatrix, AlignError> {
    let mut moved = Vec::with_capacity(frames.len() * frames.dim());
    let (mut scratch, mut frame_moved) = (Vec::new(), Vec::with_capacity(frames.dim()));
    for i in 0..frames.len() {
        layout.shift_down(frames.frame_in(i, &mut scratch), semitones, &mut frame_moved);
        moved.extend_from_slice(&frame_moved);
    }
    FeatureMatrix::new(frames.dim(), moved)
}

/// The best match of `snippet` in `reference` found by their statistics, in each of the
/// twelve keys when a transposition is allowed, then placed by the snippet's frames (moved to
/// the key found) within the span found and two windows of statistics either side.
fn locate_by_statistics(
    snippet: &FeatureMatrix,
    reference: &FeatureMatrix,
    layout: PitchLayout,
    statistics: CensConfig,
    config: &LocateConfig,
) -> Result<Option<SnippetMatch>, AlignError> {
    let snippet_statistics = cens(snippet, layout, statistics)?;
    let reference_statistics = cens(reference, layout, statistics)?;
    let keys = if config.transposition { PITCH_CLASSES } else { 1 };
    let mut best: Option<(SubsequenceMatch, usize)> = None;
    for semitones in 0..keys {
        let query = moved_to_key(&snippet_statistics, PitchLayout::Chroma, semitones)?;
        if let Some(span) = best_span(query, &reference_statistics, config)? {
            if best.is_none_or(|(found, _)| span.cost < found.cost) {
                best = Some((span, semitones));
            }
        }
    }
    let Some((coarse, semitones)) = best else {
        return Ok(None);
    };
    let hop = statistics.hop_frames;
    let margin = 2 * statistics.window_frames.max(hop);
    let first = (coarse.start * hop).saturating_sub(margin);
    let last = (coarse.end * hop + margin).min(reference.len() - 1);
    let placed = best_span(
        moved_to_key(snippet, layout, semitones)?,
        &reference.frames(first..last + 1)?,
        config,
    )?;
    let (start, end) = match placed {
        Some(placed) => (first + placed.start, first + placed.end),
        None => (coarse.start * hop, (coarse.end * hop).min(reference.len() - 1)),
    };
    let span = SubsequenceMatch {
        cost: coarse.cost,
        start,
        end,
    };
    let cost_per_frame = f64::from(coarse.cost) / snippet_statistics.len() as f64;
    Ok(Some(SnippetMatch::new(span, cost_per_frame, semitones, config)))
}

/// The subsequence search's best match of `query` over the whole of `reference`.
fn best_span(
    query: FeatureMatrix,
    reference: &FeatureMatrix,
    config: &LocateConfig,
) -> Result<Option<SubsequenceMatch>, AlignError> {
    let mut search = SubsequenceSearch::with_steps(query, Distance::Cosine, config.precision, config.steps)?;
    search.push_frames(reference)?;
    Ok(search.best())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twelve-band frames of a tune: each note lights its band (and a fifth above, softer),
    /// held `frames_per_note` frames, `transpose` semitones up.
    fn tune(notes: &[usize], frames_per_note: usize, transpose: usize) -> Vec<f32> {
        let mut frames = Vec::new();
        for (n, &note) in notes.iter().enumerate() {
            for _ in 0..frames_per_note {
                let mut frame = [0.05f32; 12];
                frame[(note + transpose) % 12] = 1.0;
                frame[(note + 7 + transpose) % 12] = 0.3 + 0.1 * (n % 3) as f32;
                frames.extend_from_slice(&frame);
            }
        }
        frames
    }

    const NOTES: [usize; 24] = [0, 4, 7, 4, 5, 9, 7, 11, 2, 7, 0, 4, 2, 0, 7, 5, 9, 11, 0, 2, 4, 5, 7, 9];

    #[test]
    fn finds_a_snippet_in_another_key_where_it_was_played() {
        let reference = FeatureMatrix::new(12, tune(&NOTES, 10, 0)).unwrap();
        // Notes 8 to 19, three semitones up and a little faster.
        let snippet = FeatureMatrix::new(12, tune(&NOTES[8..20], 8, 3)).unwrap();
        for statistics in [None, Some(CensConfig::default())] {
            let config = LocateConfig {
                precision: Precision::F32,
                pitch_layout: Some(PitchLayout::Chroma),
                transposition: true,
                cens: statistics,
                ..LocateConfig::default()
            };
            let found = locate_snippet(&snippet, &reference, &config).unwrap().unwrap();
            assert_eq!(found.semitones, 3, "{statistics:?}");
            // Within the first note and the last (each held ten frames in the reference).
            assert!(
                (80..90).contains(&found.span.start) && (190..200).contains(&found.span.end),
                "{statistics:?}: {found:?}"
            );
            // In the recording's key alone, the same snippet matches far worse.
            let as_played = LocateConfig {
                transposition: false,
                ..config
            };
            let as_played = locate_snippet(&snippet, &reference, &as_played).unwrap().unwrap();
            assert_eq!(as_played.semitones, 0);
            assert!(
                as_played.cost_per_frame > 10.0 * found.cost_per_frame,
                "{statistics:?}: {as_played:?} against {found:?}"
            );
        }
    }

    /// Twelve-band frames of a tune as a performer sounds it: each note's band at 1, its fifth
    /// and major third (overtones) at `overtones`, every band at least `floor`.
    fn performed(notes: &[usize], frames_per_note: usize, overtones: f32, floor: f32) -> FeatureMatrix {
        let mut frames = Vec::new();
        for &note in notes {
            for _ in 0..frames_per_note {
                let mut frame = [floor; 12];
                frame[note] = 1.0;
                frame[(note + 7) % 12] = frame[(note + 7) % 12].max(overtones);
                frame[(note + 4) % 12] = frame[(note + 4) % 12].max(0.6 * overtones);
                frames.extend_from_slice(&frame);
            }
        }
        FeatureMatrix::new(12, frames).unwrap()
    }

    #[test]
    fn statistics_rank_the_piece_above_the_performer() {
        const OTHER: [usize; 24] = [9, 5, 2, 5, 4, 0, 2, 10, 7, 2, 9, 5, 7, 9, 2, 4, 0, 10, 9, 7, 5, 4, 2, 0];
        // The snippet: notes 4 to 15 of the tune, by a performer rich in overtones over a
        // noisy floor; the same piece by a plain performer, and another piece by the snippet's.
        let snippet = performed(&NOTES[4..16], 9, 0.7, 0.3);
        let same_piece = performed(&NOTES, 10, 0.1, 0.02);
        let same_performer = performed(&OTHER, 10, 0.7, 0.3);
        let config = LocateConfig {
            precision: Precision::F32,
            pitch_layout: Some(PitchLayout::Chroma),
            transposition: true,
            ..LocateConfig::default()
        };
        let piece = locate_snippet(&snippet, &same_piece, &config).unwrap().unwrap();
        let performer = locate_snippet(&snippet, &same_performer, &config).unwrap().unwrap();
        assert!(
            piece.cost_per_frame < performer.cost_per_frame,
            "{piece:?} against {performer:?}"
        );
        assert_eq!(piece.semitones, 0);
        assert!((35..45).contains(&piece.span.start), "{piece:?}");
    }

    #[test]
    fn a_recording_in_the_snippets_key_outranks_one_as_alike_a_tritone_away() {
        // The same tune recorded in the snippet's key and six semitones up: searched in every
        // key, both match alike, and the key moved breaks the tie.
        let snippet = FeatureMatrix::new(12, tune(&NOTES[6..18], 10, 0)).unwrap();
        let config = LocateConfig {
            precision: Precision::F32,
            pitch_layout: Some(PitchLayout::Chroma),
            transposition: true,
            ..LocateConfig::default()
        };
        let found = |transpose| {
            let reference = FeatureMatrix::new(12, tune(&NOTES, 10, transpose)).unwrap();
            locate_snippet(&snippet, &reference, &config).unwrap().unwrap()
        };
        let (in_key, tritone) = (found(0), found(6));
        assert_eq!((in_key.semitones, tritone.semitones), (0, 6));
        assert!((in_key.cost_per_frame - tritone.cost_per_frame).abs() <= 1e-6 * in_key.cost_per_frame.max(1e-9));
        assert!(
            in_key.ranked_cost < tritone.ranked_cost,
            "{in_key:?} against {tritone:?}"
        );
        assert!((tritone.ranked_cost - tritone.cost_per_frame * (1.0 + 6.0 * config.cost_per_semitone)).abs() < 1e-9);
    }

    #[test]
    fn a_reference_shorter_than_half_the_snippet_has_no_match() {
        let reference = FeatureMatrix::new(12, tune(&NOTES[..2], 4, 0)).unwrap();
        let snippet = FeatureMatrix::new(12, tune(&NOTES[..2], 10, 0)).unwrap();
        assert_eq!(
            locate_snippet(&snippet, &reference, &LocateConfig::default()).unwrap(),
            None
        );
    }
}
