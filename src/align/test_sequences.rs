//! Feature sequences for the alignment tests.

// The benchmarks' frames in [0, 1): unlike one-hot symbols, no frame near another matches it
// exactly.
#[path = "../../benches/common/synthetic.rs"]
mod synthetic;
pub(crate) use synthetic::pseudo_random_frames as spread_frames;

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

/// `frames` quantised as the int8 band holds them, each integer as an f32: the frames whose
/// exact (f32) distances the int8 kernels compute.
pub(crate) fn quantised_as_f32(frames: &super::FeatureMatrix) -> super::FeatureMatrix {
    let dim = frames.dim();
    let mut quantised = super::int8_frames::Int8Frame::new(dim);
    let values = (0..frames.len())
        .flat_map(|k| {
            quantised.quantise(&frames.frame(k));
            quantised.values()[..dim]
                .iter()
                .map(|&v| f32::from(v))
                .collect::<Vec<_>>()
        })
        .collect();
    super::FeatureMatrix::new(dim, values).expect("whole frames")
}

/// A reference of two halves, 500 frames each: a passage blurred by `blur` times other frames,
/// then the passage itself; and a live stream playing the passage from its 100th frame with
/// `noise` times noise added. Live frame k is reference frame 600 + k, and the first half's
/// frame 100 + k is a place that matches it less well by a margin `blur` and `noise` set.
/// Values are centred on 0, so that unrelated frames are far apart (cosine distance near 1).
pub(crate) fn blurred_and_true_passage(blur: f32, noise: f32) -> (super::FeatureMatrix, Vec<Vec<f32>>) {
    let dim = 12;
    let centred = |seed| {
        spread_frames(500, dim, seed)
            .into_iter()
            .map(|v| v - 0.5)
            .collect::<Vec<_>>()
    };
    let (passage, other, noise_frames) = (centred(41), centred(42), centred(45));
    let blurred: Vec<f32> = passage.iter().zip(&other).map(|(p, o)| p + blur * o).collect();
    let reference = super::FeatureMatrix::new(dim, [blurred, passage.clone()].concat()).expect("whole frames");
    let live = (100..500)
        .map(|k| {
            (0..dim)
                .map(|i| passage[k * dim + i] + noise * noise_frames[k * dim + i])
                .collect()
        })
        .collect();
    (reference, live)
}
