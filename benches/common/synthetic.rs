//! Synthetic feature frames for the benchmarks: deterministic, no decoding or encoding.

/// `count` frames of `dim` values in [0, 1), the same for the same `seed` (xorshift).
pub fn pseudo_random_frames(count: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    (0..count * dim)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}
