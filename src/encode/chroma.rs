//! Chroma filterbank: spectral energy folded onto the twelve pitch classes.

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
