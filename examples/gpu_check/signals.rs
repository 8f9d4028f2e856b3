//! Deterministic inputs for the GPU check: a melody as audio (with the time of every note), and
//! pictures of any size.

use std::f32::consts::PI;

/// The next value of a xorshift generator.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A melody of `notes` notes (piano-like partials, each note 0.25–0.5 s at `tempo` 1) at
/// `rate_hz`, played `tempo` times as fast, with a little noise; and each note's start in
/// seconds at tempo 1 and as played.
pub fn melody(notes: usize, tempo: f64, rate_hz: u32, seed: u64) -> (Vec<f32>, Vec<(f64, f64)>) {
    let mut state = seed | 1;
    let mut plan = Vec::with_capacity(notes);
    let mut at_s = 0.5;
    for _ in 0..notes {
        let pitch = 48 + (next(&mut state) % 30) as i32;
        let length_s = 0.25 + 0.25 * (next(&mut state) % 2) as f64;
        plan.push((at_s, length_s, pitch));
        at_s += length_s;
    }
    let total_s = at_s / tempo + 0.5;
    let mut samples = vec![0.0f32; (total_s * f64::from(rate_hz)) as usize];
    let mut starts = Vec::with_capacity(notes);
    for &(start_s, length_s, pitch) in &plan {
        let played_s = start_s / tempo;
        starts.push((start_s, played_s));
        let frequency = 440.0 * 2f32.powf((pitch - 69) as f32 / 12.0);
        let first = (played_s * f64::from(rate_hz)) as usize;
        let count = ((length_s / tempo) * f64::from(rate_hz)) as usize;
        for (n, sample) in samples.iter_mut().skip(first).take(count).enumerate() {
            let t = n as f32 / rate_hz as f32;
            let envelope = (-3.0 * t).exp() * (1.0 - (-200.0 * t).exp());
            *sample += envelope
                * (0.5 * (2.0 * PI * frequency * t).sin()
                    + 0.25 * (4.0 * PI * frequency * t).sin()
                    + 0.12 * (6.0 * PI * frequency * t).sin());
        }
    }
    for sample in &mut samples {
        *sample += 0.002 * ((next(&mut state) >> 40) as f32 / (1u64 << 24) as f32 - 0.5);
    }
    (samples, starts)
}

/// Overlapping windows of `frame_len` samples every `hop_len`, laid end to end.
pub fn windows(samples: &[f32], frame_len: usize, hop_len: usize) -> Vec<f32> {
    let count = samples.len().saturating_sub(frame_len) / hop_len + 1;
    (0..count)
        .flat_map(|k| samples[k * hop_len..k * hop_len + frame_len].iter().copied())
        .collect()
}

/// `count` pictures of `width` × `height` × `channels` bytes: a pattern that changes from one
/// picture to the next.
pub fn pictures(count: usize, width: usize, height: usize, channels: usize) -> Vec<u8> {
    let size = width * height * channels;
    (0..count * size)
        .map(|k| {
            let (frame, pixel) = (k / size, k % size);
            ((pixel * 2_654_435_761usize + frame * 40_503) >> 13) as u8
        })
        .collect()
}
