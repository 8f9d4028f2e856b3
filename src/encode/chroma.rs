//! Chroma filterbanks: spectral energy folded onto the twelve pitch classes.

/// `[12, frame_len/2 + 1]` row-major weights. Each FFT bin between `fmin_hz` and the Nyquist
/// frequency adds to the pitch classes near its own with a Gaussian of half a semitone, so a
/// tone between two classes is shared between them. Row 0 is C.
pub(crate) fn chroma_filterbank(rate_hz: u32, frame_len: usize, fmin_hz: f64) -> Vec<f32> {
    const SIGMA_SEMITONES: f64 = 0.5;
    let bins = frame_len / 2 + 1;
    let mut weights = vec![0.0f32; 12 * bins];
    for k in 1..bins {
        let hz = k as f64 * f64::from(rate_hz) / frame_len as f64;
        if hz < fmin_hz {
            continue;
        }
        // Semitones above C, folded into one octave: A4 = 440 Hz is pitch class 9.
        let pitch_class = (12.0 * (hz / 440.0).log2() + 9.0).rem_euclid(12.0);
        for class in 0..12 {
            let distance = (pitch_class - class as f64).abs();
            let circular = distance.min(12.0 - distance);
            weights[class * bins + k] = (-0.5 * (circular / SIGMA_SEMITONES).powi(2)).exp() as f32;
        }
    }
    weights
}

/// `[n_chroma, frame_len/2 + 1]` row-major weights of librosa's chroma filterbank
/// (`librosa.filters.chroma` with its defaults and no tuning offset: Gaussian bumps as wide as
/// the FFT bins are far apart, each bin's weights at unit length, weighted by a Gaussian of two
/// octaves around octave 5, row 0 = C), so that chroma computed with it equals
/// `librosa.feature.chroma_stft(..., tuning=0)`.
pub(crate) fn octave_weighted_chroma_filterbank(rate_hz: u32, frame_len: usize, n_chroma: usize) -> Vec<f32> {
    const CENTRE_OCTAVE: f64 = 5.0;
    const OCTAVE_WIDTH: f64 = 2.0;
    let chroma = n_chroma as f64;
    // Position of each FFT bin in chroma bins (A440 / 16 is octave 0), the DC bin put 1.5
    // octaves below the first: over the whole FFT, as the last kept bin's width needs the next.
    let mut positions = Vec::with_capacity(frame_len);
    for k in 1..frame_len {
        let hz = k as f64 * f64::from(rate_hz) / frame_len as f64;
        positions.push(chroma * (hz / (440.0 / 16.0)).log2());
    }
    positions.insert(0, positions.first().copied().unwrap_or(0.0) - 1.5 * chroma);
    let widths: Vec<f64> = (0..frame_len)
        .map(|k| positions.get(k + 1).map_or(1.0, |next| (next - positions[k]).max(1.0)))
        .collect();
    let half = chroma / 2.0;
    let half = if half.fract() == 0.5 && (half.floor() as i64) % 2 == 0 {
        half.floor()
    } else {
        half.round()
    };
    let bins = frame_len / 2 + 1;
    let mut weights = vec![0.0f32; n_chroma * bins];
    for k in 0..bins {
        let column: Vec<f64> = (0..n_chroma)
            .map(|c| {
                let distance = (positions[k] - c as f64 + half + 10.0 * chroma).rem_euclid(chroma) - half;
                (-0.5 * (2.0 * distance / widths[k]).powi(2)).exp()
            })
            .collect();
        let norm = column.iter().map(|w| w * w).sum::<f64>().sqrt();
        let norm = if norm > f64::MIN_POSITIVE { norm } else { 1.0 };
        let octave_weight = (-0.5 * ((positions[k] / chroma - CENTRE_OCTAVE) / OCTAVE_WIDTH).powi(2)).exp();
        // librosa's rows start at A; rolled so that row 0 is C (three semitones up).
        let shift = 3 * (n_chroma / 12);
        for (c, w) in column.iter().enumerate() {
            let row = (c + n_chroma - shift) % n_chroma;
            weights[row * bins + k] = (w / norm * octave_weight) as f32;
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a440_lands_on_pitch_class_a() {
        let (rate, frame_len) = (8_000, 8_000);
        let weights = chroma_filterbank(rate, frame_len, 30.0);
        let bins = frame_len / 2 + 1;
        let column: Vec<f32> = (0..12).map(|c| weights[c * bins + 440]).collect();
        let best = column.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(best, 9);
        let c_column: Vec<f32> = (0..12).map(|c| weights[c * bins + 262]).collect();
        let best_c = c_column.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(best_c, 0);
    }
}
