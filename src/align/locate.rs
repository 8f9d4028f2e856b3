//! Where a snippet sits in one recording, in the recording's key or in another: the search
//! behind `warpflow locate`.
//!
//! The snippet is searched for as it is, with the exact subsequence search along slope-limited
//! steps. When its features lay out pitch and a transposition is allowed, the key it shows
//! against the span it matched is estimated; if that is another key, the snippet is moved back
//! to the reference's key and searched for again, and the cheaper of the two matches wins.
//!
//! Measured on the accuracy harness's snippets (`examples/locate_eval.rs`, 3, 5 and 10 s cut
//! from its 21 cases and searched in its four references), with `semitone-flux`: own reference
//! first for 78.7 / 79.6 / 79.1% with symmetric steps, 86.4 / 82.2 / 84.5% slope-limited, and
//! 88.2 / 89.5 / 97.3% with the key found too. Trying all twelve keys instead costs ten times as
//! much and gains a few points on the short snippets only.
//!
//! This module owns that two-pass search only; the search itself is
//! [`SubsequenceSearch`](super::SubsequenceSearch)'s and the key estimate
//! [`TranspositionTracker`](super::TranspositionTracker)'s.

use super::{
    AlignError, Distance, FeatureMatrix, Precision, SubsequenceMatch, SubsequenceSearch, SubsequenceSteps,
    TranspositionTracker,
};
use crate::features::PitchLayout;

/// How a snippet is searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocateConfig {
    /// Precision of the distances (cosine).
    pub precision: Precision,
    /// The steps a match's path may take.
    pub steps: SubsequenceSteps,
    /// With the layout of pitch in the frames, a snippet played in another key is found too.
    pub transposition: Option<PitchLayout>,
}

impl Default for LocateConfig {
    fn default() -> Self {
        Self {
            precision: Precision::Auto,
            steps: SubsequenceSteps::SlopeLimited,
            transposition: None,
        }
    }
}

/// The best match of a snippet in a recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnippetMatch {
    /// The span of the recording matched, and its path cost.
    pub span: SubsequenceMatch,
    /// The path cost per snippet frame: comparable across recordings and snippets.
    pub cost_per_frame: f64,
    /// Semitones the snippet sits above the recording (0 to 11): 0 unless a transposition was
    /// allowed and found.
    pub semitones: usize,
}

/// The best match of `snippet` in `reference` by cosine distance. `None` when no path fits:
/// an empty reference, or (slope-limited) one shorter than half the snippet.
pub fn locate_snippet(
    snippet: &FeatureMatrix,
    reference: &FeatureMatrix,
    config: &LocateConfig,
) -> Result<Option<SnippetMatch>, AlignError> {
    let Some(as_played) = best_span(snippet.clone(), reference, config)? else {
        return Ok(None);
    };
    let frames = snippet.len() as f64;
    let as_played = SnippetMatch {
        span: as_played,
        cost_per_frame: f64::from(as_played.cost) / frames,
        semitones: 0,
    };
    let Some(layout) = config.transposition else {
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
    let mut moved = Vec::with_capacity(snippet.len() * snippet.dim());
    for i in 0..snippet.len() {
        layout.shift_down(snippet.frame_in(i, &mut scratch), semitones, &mut frame_moved);
        moved.extend_from_slice(&frame_moved);
    }
    let in_key = best_span(FeatureMatrix::new(snippet.dim(), moved)?, reference, config)?;
    Ok(Some(match in_key {
        Some(span) if span.cost < as_played.span.cost => SnippetMatch {
            span,
            cost_per_frame: f64::from(span.cost) / frames,
            semitones,
        },
        _ => as_played,
    }))
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
        let config = LocateConfig {
            precision: Precision::F32,
            transposition: Some(PitchLayout::Chroma),
            ..LocateConfig::default()
        };
        let found = locate_snippet(&snippet, &reference, &config).unwrap().unwrap();
        assert_eq!(found.semitones, 3);
        // Within the first note and the last (each held ten frames in the reference).
        assert!(
            (80..90).contains(&found.span.start) && (190..200).contains(&found.span.end),
            "{found:?}"
        );
        assert!(found.cost_per_frame < 0.01, "{found:?}");
        // Without the transposition the same snippet matches far worse.
        let as_played = locate_snippet(
            &snippet,
            &reference,
            &LocateConfig {
                transposition: None,
                ..config
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(as_played.semitones, 0);
        assert!(as_played.cost_per_frame > 10.0 * found.cost_per_frame, "{as_played:?}");
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
