//! How a feature row lays out pitch (12-bin chroma, or bands a semitone apart), so that a
//! transposition can be found (from the row's weight per pitch class) and undone (by moving
//! the row by whole semitones). The estimate itself is `align`'s.

/// Pitch classes in a chroma frame.
pub(crate) const PITCH_CLASSES: usize = 12;

/// How a feature row lays out pitch, so that a transposition can be found and undone. Values
/// after the ones it covers (another modality's) are left as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PitchLayout {
    /// Twelve pitch classes, C first (chroma): a transposition rotates them.
    Chroma,
    /// `blocks` blocks of `bands` bands a semitone apart, lowest first, the lowest a C
    /// (`semitone-flux`: the level, then the rise). A transposition shifts every block by whole
    /// bands, up to five semitones up or six down; bands shifted in from beyond the edge take
    /// the block's quietest value. The first block gives the pitch classes.
    SemitoneBlocks {
        /// Bands per block.
        bands: usize,
        /// Blocks.
        blocks: usize,
    },
}

impl PitchLayout {
    /// Values of a row the layout covers.
    pub fn dim(self) -> usize {
        match self {
            Self::Chroma => PITCH_CLASSES,
            Self::SemitoneBlocks { bands, blocks } => bands * blocks,
        }
    }

    /// The frame's weight per pitch class. Semitone bands are log-compressed levels, on which
    /// every band looks alike (reverb, noise and overtones fill the quiet ones) and the key
    /// hides; each band counts as the fourth power of its level above the frame's quietest,
    /// which brings the loudest partials forward again.
    pub(crate) fn pitch_classes(self, frame: &[f32]) -> [f32; PITCH_CLASSES] {
        let mut classes = [0.0; PITCH_CLASSES];
        match self {
            Self::Chroma => classes.copy_from_slice(&frame[..PITCH_CLASSES]),
            Self::SemitoneBlocks { bands, .. } => {
                let levels = &frame[..bands];
                let quietest = levels.iter().copied().fold(f32::INFINITY, f32::min);
                for (band, &level) in levels.iter().enumerate() {
                    classes[band % PITCH_CLASSES] += (level - quietest).powi(4);
                }
            }
        }
        classes
    }

    /// Writes `frame` to `out` moved down by `semitones` (0 to 11; for semitone bands, 6 to 11
    /// are moves up by 12 − `semitones`): value k of `out` is what `frame` holds `semitones`
    /// above k.
    pub fn shift_down(self, frame: &[f32], semitones: usize, out: &mut Vec<f32>) {
        out.clear();
        let covered = self.dim().min(frame.len());
        match self {
            Self::Chroma => out.extend((0..covered).map(|k| frame[(k + semitones) % PITCH_CLASSES])),
            Self::SemitoneBlocks { bands, .. } => {
                let up = if semitones < PITCH_CLASSES / 2 {
                    semitones as isize
                } else {
                    semitones as isize - PITCH_CLASSES as isize
                };
                for block in frame[..covered].chunks_exact(bands) {
                    let quietest = block.iter().copied().fold(f32::INFINITY, f32::min);
                    out.extend((0..bands as isize).map(|k| {
                        usize::try_from(k + up)
                            .ok()
                            .and_then(|from| block.get(from))
                            .copied()
                            .unwrap_or(quietest)
                    }));
                }
            }
        }
        out.extend_from_slice(&frame[covered..]);
    }
}
