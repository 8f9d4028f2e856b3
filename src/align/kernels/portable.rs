//! Portable kernels: panel distances over eight-lane arrays, which the compiler vectorises for
//! whatever target it builds for, row distances, the min-plus scan cell by cell, and the
//! lowest value's position in eight lanes.

use super::{
    cosine_from_inverse_norms, Frames, HeldQueryFrame, Int8PanelFrames, Int8QueryGroups, Query, Rows,
    SlopeLimitedColumn, PANEL_FRAMES,
};
use crate::align::Distance;

/// See [`super::panel_distances`]; the caller has checked the lengths.
pub(super) fn panel_distances(query: Query, panels: Frames, out: &mut [f32]) {
    let Query {
        values: query,
        inverse_norm: query_inverse_norm,
        distance,
    } = query;
    let (inverse_norms, panels) = (panels.inverse_norms, panels.values);
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

/// See [`super::int8_panel_cosines`]; the caller has checked the lengths.
pub(super) fn int8_panel_cosines<Q: Int8QueryGroups>(
    query: Q,
    query_inverse_norm: f32,
    frames: Int8PanelFrames<'_>,
    out: &mut [f32],
) {
    let Int8PanelFrames {
        groups, inverse_norms, ..
    } = frames;
    let per_panel = query.group_count();
    for (panel, lanes_out) in out.chunks_exact_mut(PANEL_FRAMES).enumerate() {
        let mut dots = [0i32; PANEL_FRAMES];
        for (g, group) in groups[panel * per_panel..(panel + 1) * per_panel].iter().enumerate() {
            let q = query.group(g).to_le_bytes();
            for (dot, values) in dots.iter_mut().zip(group.0.chunks_exact(4)) {
                *dot += values
                    .iter()
                    .zip(q)
                    .map(|(&v, q)| i32::from(v) * i32::from(q as i8))
                    .sum::<i32>();
            }
        }
        let norms = &inverse_norms[panel * PANEL_FRAMES..(panel + 1) * PANEL_FRAMES];
        for ((distance, &dot), &inverse_norm) in lanes_out.iter_mut().zip(&dots).zip(norms) {
            *distance = cosine_from_inverse_norms(dot as f32, query_inverse_norm, inverse_norm);
        }
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

/// See [`super::slope_limited_column`]: cells `from..` (the lengths checked by the caller).
pub(super) fn slope_limited_column(column: SlopeLimitedColumn<'_>, from: usize) {
    let SlopeLimitedColumn {
        held,
        diagonal_cost,
        diagonal_start,
        query_cost,
        query_start,
        query_through,
        stream_cost,
        stream_start,
        stream_through,
        here,
        next_cost,
        next_start,
    } = column;
    for k in from..next_cost.len() {
        let (diagonal, along_query, along_stream) = match held {
            HeldQueryFrame::PaysBoth => (
                diagonal_cost[k],
                query_cost[k] + query_through[k],
                stream_cost[k] + stream_through[k],
            ),
            HeldQueryFrame::PaysMean => (
                diagonal_cost[k] + here[k],
                query_cost[k] + query_through[k] + here[k],
                stream_cost[k] + 0.5 * (stream_through[k] + here[k]),
            ),
        };
        let take_query = along_query < diagonal;
        let lowest = if take_query { along_query } else { diagonal };
        let start = if take_query { query_start[k] } else { diagonal_start[k] };
        let take_stream = along_stream < lowest;
        let cheapest = if take_stream { along_stream } else { lowest };
        next_cost[k] = match held {
            HeldQueryFrame::PaysBoth => here[k] + cheapest,
            HeldQueryFrame::PaysMean => cheapest,
        };
        next_start[k] = if take_stream { stream_start[k] } else { start };
    }
}

/// See [`super::row_distances`]; the caller has checked the lengths.
pub(super) fn row_distances(query: Query, rows: Rows, out: &mut [f32]) {
    let dim = query.values.len();
    for (frame, value) in out.iter_mut().enumerate() {
        let inverse_norm = rows.inverse_norms.get(frame).copied().unwrap_or(0.0);
        *value = query.distance.between_with_inverse_norms(
            query.values,
            query.inverse_norm,
            &rows.values.frame(frame, dim),
            inverse_norm,
        );
    }
}

/// See [`super::lowest_finite`]. The lowest value first, in eight independent lanes (which
/// vectorises), then the first position holding it.
pub(super) fn lowest_finite(values: &[f32]) -> Option<usize> {
    const LANES: usize = 8;
    let mut lanes = [f32::INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane = if value < *lane { value } else { *lane };
        }
    }
    let lowest =
        lanes.into_iter().chain(rest.iter().copied()).fold(
            f32::INFINITY,
            |lowest, value| if value < lowest { value } else { lowest },
        );
    if !lowest.is_finite() {
        return None;
    }
    values.iter().position(|&value| value == lowest)
}
