//! Distances to frames stored row by row, with AVX2, FMA and F16C: eight dimensions per step,
//! eight frames per pass so that each query chunk loaded serves eight of them, and the eight
//! frames' sums reduced together (a tree of horizontal adds) and finished in one register. For
//! frames of many dimensions this is as fast as the panel layout, which then need not be kept.
//!
//! The rows may be f32, f16 or int8 with a scale per frame ([`EncodedRows`]); eight values are
//! widened in registers as they are loaded, exactly as decoding them first would (an int8
//! value is multiplied by its scale before any other arithmetic), so the distances equal
//! those over the decoded f32 rows.
//!
//! Unsafe code is limited to unaligned loads whose bounds the function checks, and to calling
//! the `target_feature` functions after the dispatcher has detected AVX2, FMA and F16C.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m128i, __m256, _mm256_add_ps, _mm256_cvtepi32_ps, _mm256_cvtepi8_epi32, _mm256_cvtph_ps, _mm256_hadd_ps,
    _mm256_loadu_ps, _mm256_mul_ps, _mm256_permute2f128_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    _mm_loadl_epi64, _mm_loadu_si128,
};

use super::x86_panels::{accumulate, finish, COSINE, EUCLIDEAN, MANHATTAN, SQUARED_EUCLIDEAN};
use super::{Query, Rows};
use crate::align::Distance;
use crate::features::EncodedRows;

/// Frames per pass: one register of results.
const BLOCK_FRAMES: usize = 8;
const LANES: usize = 8;

/// See [`super::row_distances`]; the caller has checked the lengths and the processor.
pub(super) fn row_distances(query: Query, rows: Rows, out: &mut [f32]) {
    match rows.values {
        EncodedRows::F32(values) => rows_in(query, F32Rows(values), rows.inverse_norms, out),
        EncodedRows::F16(bits) => rows_in(query, F16Rows(bits), rows.inverse_norms, out),
        EncodedRows::Int8 { scales, values } => rows_in(query, Int8Rows { scales, values }, rows.inverse_norms, out),
    }
}

fn rows_in<R: LoadRows>(query: Query, rows: R, inverse_norms: &[f32], out: &mut [f32]) {
    // SAFETY: the dispatcher calls this only after detecting AVX2, FMA and F16C.
    unsafe {
        match query.distance {
            Distance::Euclidean => rows_with::<EUCLIDEAN, R>(query, rows, inverse_norms, out),
            Distance::SquaredEuclidean => rows_with::<SQUARED_EUCLIDEAN, R>(query, rows, inverse_norms, out),
            Distance::Manhattan => rows_with::<MANHATTAN, R>(query, rows, inverse_norms, out),
            Distance::Cosine => rows_with::<COSINE, R>(query, rows, inverse_norms, out),
        }
    }
}

/// Row-major values of one encoding, widened to f32 as they are loaded.
trait LoadRows: Copy {
    /// Number of values held.
    fn value_count(self) -> usize;

    /// Whether frame `frame`'s scale (if the encoding has one) is held.
    fn has_frame(self, frame: usize) -> bool;

    /// Value `at` (counted over all frames), which belongs to frame `frame`.
    fn value(self, frame: usize, at: usize) -> f32;

    /// Values `at .. at + 8`, all of frame `frame`.
    ///
    /// # Safety
    /// The processor has AVX2 and F16C, and `at + 8 ≤ value_count()` and `has_frame(frame)`.
    unsafe fn load8(self, frame: usize, at: usize) -> __m256;
}

#[derive(Clone, Copy)]
struct F32Rows<'a>(&'a [f32]);

impl LoadRows for F32Rows<'_> {
    fn value_count(self) -> usize {
        self.0.len()
    }

    fn has_frame(self, _frame: usize) -> bool {
        true
    }

    fn value(self, _frame: usize, at: usize) -> f32 {
        self.0[at]
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(self, _frame: usize, at: usize) -> __m256 {
        // SAFETY: the caller keeps `at + 8` within the values.
        unsafe { _mm256_loadu_ps(self.0.as_ptr().add(at)) }
    }
}

#[derive(Clone, Copy)]
struct F16Rows<'a>(&'a [u16]);

impl LoadRows for F16Rows<'_> {
    fn value_count(self) -> usize {
        self.0.len()
    }

    fn has_frame(self, _frame: usize) -> bool {
        true
    }

    fn value(self, _frame: usize, at: usize) -> f32 {
        half::f16::from_bits(self.0[at]).to_f32()
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(self, _frame: usize, at: usize) -> __m256 {
        // SAFETY: the caller keeps `at + 8` within the values: 16 bytes from `at`.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(self.0.as_ptr().add(at).cast::<__m128i>())) }
    }
}

#[derive(Clone, Copy)]
struct Int8Rows<'a> {
    scales: &'a [f32],
    values: &'a [i8],
}

impl LoadRows for Int8Rows<'_> {
    fn value_count(self) -> usize {
        self.values.len()
    }

    fn has_frame(self, frame: usize) -> bool {
        frame < self.scales.len()
    }

    fn value(self, frame: usize, at: usize) -> f32 {
        f32::from(self.values[at]) * self.scales[frame]
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load8(self, frame: usize, at: usize) -> __m256 {
        // SAFETY: the caller keeps `at + 8` within the values (8 bytes from `at`) and `frame`
        // within the scales.
        unsafe {
            let bytes = _mm_loadl_epi64(self.values.as_ptr().add(at).cast::<__m128i>());
            let scale = *self.scales.get_unchecked(frame);
            _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), _mm256_set1_ps(scale))
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

/// Lane `b` of the result: the sum of the lanes of `sums[b]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn lane_totals(sums: &[__m256; BLOCK_FRAMES]) -> __m256 {
    // Each horizontal add halves the lanes per sum; the two 128-bit halves then hold the low
    // and high halves of all eight sums.
    let pairs = [
        _mm256_hadd_ps(sums[0], sums[1]),
        _mm256_hadd_ps(sums[2], sums[3]),
        _mm256_hadd_ps(sums[4], sums[5]),
        _mm256_hadd_ps(sums[6], sums[7]),
    ];
    let first_four = _mm256_hadd_ps(pairs[0], pairs[1]);
    let last_four = _mm256_hadd_ps(pairs[2], pairs[3]);
    _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(first_four, last_four),
        _mm256_permute2f128_ps::<0x31>(first_four, last_four),
    )
}

/// A register's lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn to_array(lanes: __m256) -> [f32; LANES] {
    let mut array = [0.0f32; LANES];
    // SAFETY: `array` holds 8 values.
    unsafe { _mm256_storeu_ps(array.as_mut_ptr(), lanes) };
    array
}

/// The sum of a register's lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn lane_total(sum: __m256) -> f32 {
    to_array(sum).iter().sum()
}

#[target_feature(enable = "avx2,fma,f16c")]
fn rows_with<const METRIC: u8, R: LoadRows>(query: Query, rows: R, inverse_norms: &[f32], out: &mut [f32]) {
    let (query, query_inverse_norm) = (query.values, query.inverse_norm);
    let dim = query.len();
    let frames = out.len();
    assert!(
        dim > 0
            && rows.value_count() >= frames * dim
            && (frames == 0 || rows.has_frame(frames - 1))
            && (METRIC != COSINE || inverse_norms.len() >= frames)
    );
    let chunks = dim / LANES;
    let whole = chunks * LANES;
    // The terms of the dimensions past the last whole chunk of eight.
    let tail = |frame: usize| -> f32 {
        (whole..dim)
            .map(|k| scalar_term::<METRIC>(query[k], rows.value(frame, frame * dim + k)))
            .sum()
    };
    let finish_frame = |frame: usize, sum: f32| {
        let norms = if METRIC == COSINE {
            query_inverse_norm * inverse_norms[frame]
        } else {
            0.0
        };
        finish_scalar::<METRIC>(sum + tail(frame), norms)
    };
    let query_ptr = query.as_ptr();
    let mut frame = 0;
    while frame + BLOCK_FRAMES <= frames {
        let mut sums = [_mm256_setzero_ps(); BLOCK_FRAMES];
        for chunk in 0..chunks {
            // SAFETY: chunk · 8 + 8 ≤ dim, and (frame + b + 1) · dim ≤ the values held and
            // frame + b < frames, whose last is held (asserted).
            let q = unsafe { _mm256_loadu_ps(query_ptr.add(chunk * LANES)) };
            for (b, sum) in sums.iter_mut().enumerate() {
                let v = unsafe { rows.load8(frame + b, (frame + b) * dim + chunk * LANES) };
                *sum = accumulate::<METRIC>(*sum, q, v);
            }
        }
        let mut totals = to_array(lane_totals(&sums));
        if whole < dim {
            for (b, total) in totals.iter_mut().enumerate() {
                *total += tail(frame + b);
            }
        }
        let norms = if METRIC == COSINE {
            // SAFETY: frame + 8 ≤ frames ≤ inverse_norms.len() for cosine (asserted).
            _mm256_mul_ps(_mm256_set1_ps(query_inverse_norm), unsafe {
                _mm256_loadu_ps(inverse_norms.as_ptr().add(frame))
            })
        } else {
            _mm256_setzero_ps()
        };
        // SAFETY: `totals` holds 8 values, and frame + 8 ≤ out.len().
        let distances = finish::<METRIC>(unsafe { _mm256_loadu_ps(totals.as_ptr()) }, norms);
        out[frame..frame + BLOCK_FRAMES].copy_from_slice(&to_array(distances));
        frame += BLOCK_FRAMES;
    }
    while frame < frames {
        let mut sum = _mm256_setzero_ps();
        for chunk in 0..chunks {
            // SAFETY: as above, for one frame.
            let (q, v) = unsafe {
                (
                    _mm256_loadu_ps(query_ptr.add(chunk * LANES)),
                    rows.load8(frame, frame * dim + chunk * LANES),
                )
            };
            sum = accumulate::<METRIC>(sum, q, v);
        }
        out[frame] = finish_frame(frame, lane_total(sum));
        frame += 1;
    }
}
