//! Distances to frames stored row by row, with AVX2 and FMA: eight dimensions per step, four
//! frames per pass so that each query chunk loaded serves four of them. For frames of many
//! dimensions this is as fast as the panel layout, which then need not be kept.
//!
//! Unsafe code is limited to unaligned loads whose bounds the function checks, and to calling
//! the `target_feature` function after the dispatcher has detected AVX2 and FMA.
#![allow(unsafe_code)]

use std::arch::x86_64::{__m256, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps};

use super::x86_panels::{accumulate, COSINE, EUCLIDEAN, MANHATTAN, SQUARED_EUCLIDEAN};
use super::{Frames, Query};
use crate::align::Distance;

/// Frames per pass.
const BLOCK_FRAMES: usize = 4;
const LANES: usize = 8;

/// See [`super::row_distances`]; the caller has checked the lengths and the processor.
pub(super) fn row_distances(query: Query, rows: Frames, out: &mut [f32]) {
    // SAFETY: the dispatcher calls this only after detecting AVX2 and FMA.
    unsafe {
        match query.distance {
            Distance::Euclidean => rows_with::<EUCLIDEAN>(query, rows, out),
            Distance::SquaredEuclidean => rows_with::<SQUARED_EUCLIDEAN>(query, rows, out),
            Distance::Manhattan => rows_with::<MANHATTAN>(query, rows, out),
            Distance::Cosine => rows_with::<COSINE>(query, rows, out),
        }
    }
}

/// One dimension's contribution, for the dimensions past the last whole chunk of eight.
fn scalar_term<const METRIC: u8>(q: f32, v: f32) -> f32 {
    match METRIC {
        EUCLIDEAN | SQUARED_EUCLIDEAN => (q - v) * (q - v),
        MANHATTAN => (q - v).abs(),
        _ => q * v,
    }
}

/// The distance from a frame's summed terms; `inverse_norms` is the product of both inverse
/// norms (cosine only).
fn finish_scalar<const METRIC: u8>(sum: f32, inverse_norms: f32) -> f32 {
    match METRIC {
        EUCLIDEAN => sum.sqrt(),
        MANHATTAN | SQUARED_EUCLIDEAN => sum,
        _ => (1.0 - sum * inverse_norms).clamp(0.0, 2.0),
    }
}

/// The sum of a register's lanes.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn lane_total(sum: __m256) -> f32 {
    let mut lanes = [0.0f32; LANES];
    // SAFETY: `lanes` holds 8 values.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}

#[target_feature(enable = "avx2,fma")]
fn rows_with<const METRIC: u8>(query: Query, rows: Frames, out: &mut [f32]) {
    let (query, query_inverse_norm) = (query.values, query.inverse_norm);
    let (rows, inverse_norms) = (rows.values, rows.inverse_norms);
    let dim = query.len();
    let frames = out.len();
    assert!(dim > 0 && rows.len() >= frames * dim && (METRIC != COSINE || inverse_norms.len() >= frames));
    let chunks = dim / LANES;
    let whole = chunks * LANES;
    let finish_frame = |frame: usize, sum: f32| {
        let row = &rows[frame * dim..(frame + 1) * dim];
        let tail: f32 = query[whole..]
            .iter()
            .zip(&row[whole..])
            .map(|(&q, &v)| scalar_term::<METRIC>(q, v))
            .sum();
        let norms = if METRIC == COSINE {
            query_inverse_norm * inverse_norms[frame]
        } else {
            0.0
        };
        finish_scalar::<METRIC>(sum + tail, norms)
    };
    let (query_ptr, rows_ptr) = (query.as_ptr(), rows.as_ptr());
    let mut frame = 0;
    while frame + BLOCK_FRAMES <= frames {
        let mut sums = [_mm256_setzero_ps(); BLOCK_FRAMES];
        for chunk in 0..chunks {
            // SAFETY: chunk · 8 + 8 ≤ dim, and (frame + b + 1) · dim ≤ rows.len() (asserted).
            let q = unsafe { _mm256_loadu_ps(query_ptr.add(chunk * LANES)) };
            for (b, sum) in sums.iter_mut().enumerate() {
                let v = unsafe { _mm256_loadu_ps(rows_ptr.add((frame + b) * dim + chunk * LANES)) };
                *sum = accumulate::<METRIC>(*sum, q, v);
            }
        }
        for (b, &sum) in sums.iter().enumerate() {
            out[frame + b] = finish_frame(frame + b, lane_total(sum));
        }
        frame += BLOCK_FRAMES;
    }
    while frame < frames {
        let mut sum = _mm256_setzero_ps();
        for chunk in 0..chunks {
            // SAFETY: as above, for one frame.
            let (q, v) = unsafe {
                (
                    _mm256_loadu_ps(query_ptr.add(chunk * LANES)),
                    _mm256_loadu_ps(rows_ptr.add(frame * dim + chunk * LANES)),
                )
            };
            sum = accumulate::<METRIC>(sum, q, v);
        }
        out[frame] = finish_frame(frame, lane_total(sum));
        frame += 1;
    }
}
