//! Mel filterbank (Slaney's formula and area normalisation, as librosa's defaults), for
//! `log_bands`.

/// Slaney's mel scale: linear below 1 kHz, logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let log_step = 6.4f64.ln() / 27.0;
    if hz < MIN_LOG_HZ {
        hz / F_SP
    } else {
        MIN_LOG_HZ / F_SP + (hz / MIN_LOG_HZ).ln() / log_step
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let log_step = 6.4f64.ln() / 27.0;
    if mel < min_log_mel {
        mel * F_SP
    } else {
        MIN_LOG_HZ * (log_step * (mel - min_log_mel)).exp()
    }
}

/// Triangular mel filters, `[n_mels, frame_len/2 + 1]` row-major, each scaled to unit area.
pub(crate) fn mel_filterbank(rate_hz: u32, frame_len: usize, n_mels: usize, fmin_hz: f64, fmax_hz: f64) -> Vec<f32> {
    let bins = frame_len / 2 + 1;
    let (low, high) = (hz_to_mel(fmin_hz), hz_to_mel(fmax_hz));
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(low + (high - low) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let bin_hz = |k: usize| k as f64 * f64::from(rate_hz) / frame_len as f64;
    let mut weights = vec![0.0f32; n_mels * bins];
    for m in 0..n_mels {
        let (left, centre, right) = (edges[m], edges[m + 1], edges[m + 2]);
        let area_norm = 2.0 / (right - left);
        for k in 0..bins {
            let f = bin_hz(k);
            let rising = (f - left) / (centre - left);
            let falling = (right - f) / (right - centre);
            weights[m * bins + k] = (rising.min(falling).max(0.0) * area_norm) as f32;
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 100.0, 999.0, 1000.0, 4000.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6 * hz.max(1.0));
        }
    }

    #[test]
    fn filters_cover_the_band_with_unit_area() {
        let (rate, frame_len, n_mels) = (16_000, 512, 40);
        let weights = mel_filterbank(rate, frame_len, n_mels, 0.0, 8_000.0);
        let bins = frame_len / 2 + 1;
        let bin_hz = f64::from(rate) / frame_len as f64;
        for m in 0..n_mels {
            let row = &weights[m * bins..(m + 1) * bins];
            let area: f64 = row.iter().map(|&w| f64::from(w) * bin_hz).sum();
            assert!((area - 1.0).abs() < 0.25, "filter {m} has area {area}");
        }
    }
}
