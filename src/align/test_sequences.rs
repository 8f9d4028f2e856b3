//! Feature sequences for the alignment tests.

/// `len` one-hot frames of `dim` values on pseudo-random symbols (deterministic for a seed):
/// distinct enough that each short window occurs once.
pub(crate) fn symbols(len: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut values = vec![0.0; len * dim];
    let mut state = seed | 1;
    for i in 0..len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        values[i * dim + (state >> 33) as usize % dim] = 1.0;
    }
    values
}
