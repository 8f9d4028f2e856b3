//! Semitone bands: a filterbank of one band per semitone of the piano's range, for
//! `log_bands`.
//!
//! Mel bands are a few semitones wide above 1 kHz and wider still below it, so two notes a
//! semitone apart often fall in one band: a passage played on another instrument or voiced
//! otherwise then looks alike wherever its pitches are alike only. Bands of one semitone keep
//! every note apart, and a transposition becomes a shift of the row by whole bands, which
//! `align::transposition` undoes. This module owns the filterbank's weights alone.

/// MIDI note of the lowest band: C1, 32.7 Hz.
pub(crate) const LOWEST_MIDI: usize = 24;
/// Bands: seven octaves, C1 to B7 (3.95 kHz), where the fundamentals and the strongest
/// overtones of tonal music lie.
pub(crate) const SEMITONE_BANDS: usize = 84;

/// For `semitone-flux-lows`: the bands below this MIDI note (C4, 262 Hz) come from a longer
/// window. A frame of 2048 samples at 22.05 kHz has bins 10.8 Hz apart, wider than a semitone
/// below about 180 Hz, so a low voice and a piano's left hand fall into bands they share, or
/// between bands that take no bin at all.
pub(crate) const LONG_WINDOW_BELOW_MIDI: usize = 60;
/// The longer window, in frames: four (8192 samples, 372 ms at 22.05 kHz) give bins 2.7 Hz
/// apart, which part semitones down to about 90 Hz. It ends where the frame ends, so it makes
/// no frame later; its bands then hold the last third of a second, and move on through a held
/// note where a frame's own bands stand still.
pub(crate) const LONG_WINDOW_FRAMES: usize = 4;

fn hz_to_midi(hz: f64) -> f64 {
    69.0 + 12.0 * (hz / 440.0).log2()
}

/// `[bands, frame_len/2 + 1]` row-major weights: band `m` takes each FFT bin within a semitone
/// of MIDI note `lowest_midi + m` with a weight falling linearly from 1 at the note to 0 a
/// semitone away, so a tone between two notes is shared between them. Bands below the FFT's
/// resolution may take no bin at all; they stay silent.
pub(crate) fn semitone_filterbank(rate_hz: u32, frame_len: usize, lowest_midi: usize, bands: usize) -> Vec<f32> {
    let bins = frame_len / 2 + 1;
    let mut weights = vec![0.0f32; bands * bins];
    for k in 1..bins {
        let midi = hz_to_midi(k as f64 * f64::from(rate_hz) / frame_len as f64) - lowest_midi as f64;
        let nearest = midi.round();
        for band in [nearest - 1.0, nearest, nearest + 1.0] {
            if band < 0.0 || band >= bands as f64 {
                continue;
            }
            let weight = 1.0 - (midi - band).abs();
            if weight > 0.0 {
                weights[band as usize * bins + k] = weight as f32;
            }
        }
    }
    weights
}

/// [`semitone_filterbank`] with the bands outside `kept` silent, each weight times `scale`.
pub(crate) fn semitone_filterbank_part(
    rate_hz: u32,
    frame_len: usize,
    kept: std::ops::Range<usize>,
    scale: f32,
) -> Vec<f32> {
    let bins = frame_len / 2 + 1;
    let mut weights = semitone_filterbank(rate_hz, frame_len, LOWEST_MIDI, SEMITONE_BANDS);
    for (band, row) in weights.chunks_exact_mut(bins).enumerate() {
        let factor = if kept.contains(&band) { scale } else { 0.0 };
        row.iter_mut().for_each(|weight| *weight *= factor);
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_fall_linearly_to_a_semitone_away() {
        let (rate, frame_len) = (8_000, 8_000);
        let weights = semitone_filterbank(rate, frame_len, LOWEST_MIDI, SEMITONE_BANDS);
        let bins = frame_len / 2 + 1;
        let a4 = 69 - LOWEST_MIDI;
        assert!((weights[a4 * bins + 440] - 1.0).abs() < 1e-6);
        // A quarter-tone above A4 is shared equally by A4 and B♭4.
        let quarter_tone_bin = (440.0f64 * 2f64.powf(0.5 / 12.0)).round() as usize;
        let (here, next) = (
            weights[a4 * bins + quarter_tone_bin],
            weights[(a4 + 1) * bins + quarter_tone_bin],
        );
        assert!(
            (here - next).abs() < 0.05 && (here + next - 1.0).abs() < 1e-6,
            "{here} {next}"
        );
        // No bin feeds bands two semitones away.
        assert_eq!(weights[(a4 + 2) * bins + 440], 0.0);
    }
}
