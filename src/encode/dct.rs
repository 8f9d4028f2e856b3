//! The orthonormal DCT-II as a matrix, for cepstra: `x · M` turns `[.., n_in]` rows into their
//! first `n_out` coefficients, as `scipy.fft.dct(x, type=2, norm="ortho")[..n_out]`.

/// `[n_in, n_out]` row-major: entry `(n, k)` is `s_k · cos(π k (2n + 1) / (2 n_in))`, with
/// `s_0 = √(1/n_in)` and `s_k = √(2/n_in)` otherwise.
pub(crate) fn dct_ii_ortho(n_in: usize, n_out: usize) -> Vec<f32> {
    let len = n_in as f64;
    let mut matrix = vec![0.0f32; n_in * n_out];
    for n in 0..n_in {
        for k in 0..n_out {
            let scale = if k == 0 { (1.0 / len).sqrt() } else { (2.0 / len).sqrt() };
            let angle = std::f64::consts::PI * k as f64 * (2.0 * n as f64 + 1.0) / (2.0 * len);
            matrix[n * n_out + k] = (scale * angle.cos()) as f32;
        }
    }
    matrix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_transform_is_orthonormal() {
        let n = 13;
        let m = dct_ii_ortho(n, n);
        for a in 0..n {
            for b in 0..n {
                let dot: f64 = (0..n).map(|i| f64::from(m[i * n + a]) * f64::from(m[i * n + b])).sum();
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-5, "columns {a}, {b}: {dot}");
            }
        }
    }

    #[test]
    fn a_constant_goes_to_the_first_coefficient_only() {
        let (n, k) = (8, 4);
        let m = dct_ii_ortho(n, k);
        let coefficients: Vec<f32> = (0..k).map(|j| (0..n).map(|i| m[i * k + j]).sum()).collect();
        assert!((coefficients[0] - (n as f32).sqrt()).abs() < 1e-5);
        assert!(coefficients[1..].iter().all(|c| c.abs() < 1e-5), "{coefficients:?}");
    }
}
