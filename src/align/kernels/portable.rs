//! Portable kernels: panel distances over eight-lane arrays, which the compiler vectorises for
//! whatever target it builds for, row distances, and the min-plus scan cell by cell.

use super::PANEL_FRAMES;
use crate::align::{dot, euclidean_distance, manhattan_distance, squared_euclidean_distance, Distance};

/// See [`super::panel_distances`]; the caller has checked the lengths.
pub(super) fn panel_distances(
    panels: &[f32],
    query: &[f32],
    query_inverse_norm: f32,
    inverse_norms: &[f32],
    distance: Distance,
    out: &mut [f32],
) {
    let panel_len = query.len() * PANEL_FRAMES;
    for (panel, lanes_out) in out.chunks_exact_mut(PANEL_FRAMES).enumerate() {
        let columns = panels[panel * panel_len..(panel + 1) * panel_len].chunks_exact(PANEL_FRAMES);
        let mut lanes = [0.0f32; PANEL_FRAMES];
        match distance {
            Distance::Euclidean | Distance::SquaredEuclidean => {
                for (&q, column) in query.iter().zip(columns) {
                    for (lane, &value) in lanes.iter_mut().zip(column) {
                        *lane += (q - value) * (q - value);
                    }
                }
                if distance == Distance::Euclidean {
                    lanes.iter_mut().for_each(|lane| *lane = lane.sqrt());
                }
            }
            Distance::Manhattan => {
                for (&q, column) in query.iter().zip(columns) {
                    for (lane, &value) in lanes.iter_mut().zip(column) {
                        *lane += (q - value).abs();
                    }
                }
            }
            Distance::Cosine => {
                for (&q, column) in query.iter().zip(columns) {
                    for (lane, &value) in lanes.iter_mut().zip(column) {
                        *lane += q * value;
                    }
                }
                let norms = &inverse_norms[panel * PANEL_FRAMES..(panel + 1) * PANEL_FRAMES];
                for (dot, &inverse) in lanes.iter_mut().zip(norms) {
                    *dot = (1.0 - *dot * query_inverse_norm * inverse).clamp(0.0, 2.0);
                }
            }
        }
        lanes_out.copy_from_slice(&lanes);
    }
}

/// See [`super::min_plus_scan`]; the caller has checked the lengths.
pub(super) fn min_plus_scan(entered: &[f32], step: &[f32], out: &mut [f32]) {
    let mut previous = f32::INFINITY;
    for ((value, &entered), &step) in out.iter_mut().zip(entered).zip(step) {
        let along = previous + step;
        previous = if along < entered { along } else { entered };
        *value = previous;
    }
}

/// See [`super::row_distances`]; the caller has checked the lengths.
pub(super) fn row_distances(
    rows: &[f32],
    query: &[f32],
    query_inverse_norm: f32,
    inverse_norms: &[f32],
    distance: Distance,
    out: &mut [f32],
) {
    let dim = query.len();
    for (frame, (row, value)) in rows.chunks_exact(dim).zip(out.iter_mut()).enumerate() {
        *value = match distance {
            Distance::Cosine => (1.0 - dot(query, row) * query_inverse_norm * inverse_norms[frame]).clamp(0.0, 2.0),
            Distance::Euclidean => euclidean_distance(query, row),
            Distance::SquaredEuclidean => squared_euclidean_distance(query, row),
            Distance::Manhattan => manhattan_distance(query, row),
        };
    }
}
