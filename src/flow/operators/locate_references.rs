//! `locate_references`: where a live snippet sits in one or more references.
//!
//! The operator keeps the most recent `max_query_frames` feature frames. When its input ends
//! (the snippet is over, or the run was stopped), it searches every reference for the whole
//! snippet ([`locate_snippet`]: by coarse statistics of its pitch classes in any key where the
//! features lay out pitch, then placed by its frames; otherwise by its frames as they are) and
//! emits one `match` event per reference, best first.
//! It holds a capability at its input frontier until then, so the matches leave in time order
//! with everything else.

use std::collections::VecDeque;
use std::sync::Arc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::align::{locate_snippet, signed_semitones, AlignError, FeatureMatrix, LocateConfig};
use crate::events::EventBody;
use crate::flow::operators::ReferenceTiming;
use crate::flow::{FailureSlot, FeatureFrame, StreamEvent};

use super::held_capability::hold_until;

/// One reference of a library: its name in events, its features and its framing.
#[derive(Debug, Clone)]
pub struct NamedReference {
    /// The name `match` events give it.
    pub name: String,
    /// Its feature frames.
    pub features: Arc<FeatureMatrix>,
    /// How its frame indices map to time.
    pub timing: ReferenceTiming,
}

/// Extension trait for locating a stream of live feature frames in references.
pub trait LocateReferences<'scope> {
    /// Emits, when the input ends, the best match of the latest `max_query_frames` frames in
    /// each of `references`, searched for as `config` says, best first.
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Instant;
    /// use timely::dataflow::operators::{Inspect, ToStream};
    /// use warpflow::align::{FeatureMatrix, LocateConfig};
    /// use warpflow::flow::{FailureSlot, FeatureFrame};
    /// use warpflow::flow::operators::{LocateReferences, NamedReference, ReferenceTiming};
    ///
    /// let matches = Arc::new(AtomicUsize::new(0));
    /// let counted = matches.clone();
    /// timely::example(move |scope| {
    ///     let timing = ReferenceTiming { hop_ns: 20e6, first_frame_ns: 0.0 };
    ///     let features = Arc::new(FeatureMatrix::new(2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0]).unwrap());
    ///     let references = vec![NamedReference { name: "song".into(), features, timing }];
    ///     let frames = vec![vec![1.0, 1.0], vec![0.0, 1.0]].into_iter().enumerate()
    ///         .map(|(i, values)| FeatureFrame { time_ns: i as u64 * 20_000_000, values, captured_at: Instant::now() });
    ///     frames.to_stream(scope).container::<Vec<_>>()
    ///         .locate_references(references, 100, LocateConfig::default(), "live0".into(), FailureSlot::default())
    ///         .inspect(move |_| { counted.fetch_add(1, Ordering::Relaxed); });
    /// });
    /// assert_eq!(matches.load(Ordering::Relaxed), 1);
    /// ```
    fn locate_references(
        self,
        references: Vec<NamedReference>,
        max_query_frames: usize,
        config: LocateConfig,
        stream: String,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent>;
}

impl<'scope> LocateReferences<'scope> for StreamVec<'scope, u64, FeatureFrame> {
    fn locate_references(
        self,
        references: Vec<NamedReference>,
        max_query_frames: usize,
        config: LocateConfig,
        stream: String,
        failures: FailureSlot,
    ) -> StreamVec<'scope, u64, StreamEvent> {
        let max_query_frames = max_query_frames.max(1);
        self.unary_frontier(Pipeline, "LocateReferences", move |initial, _| {
            let mut capability = Some(initial);
            let mut query: VecDeque<FeatureFrame> = VecDeque::new();
            move |(input, frontier), output| {
                input.for_each_stamp(|_, containers| {
                    for frame in containers.flat_map(|c| c.drain(..)) {
                        if query.len() == max_query_frames {
                            query.pop_front();
                        }
                        query.push_back(frame);
                    }
                });
                let Some(cap) = hold_until(&mut capability, frontier.frontier().first().copied()) else {
                    return;
                };
                match locate(&query, &references, &config) {
                    Ok(found) => {
                        let mut session = output.session(&cap);
                        for body in found {
                            session.give(StreamEvent {
                                stream: stream.clone(),
                                body,
                            });
                        }
                    }
                    Err(error) => failures.record(error),
                }
            }
        })
    }
}

/// The best match of `query` in each reference, as `match` events sorted by cost.
fn locate(
    query: &VecDeque<FeatureFrame>,
    references: &[NamedReference],
    config: &LocateConfig,
) -> Result<Vec<EventBody>, AlignError> {
    let (Some(first), Some(last)) = (query.front(), query.back()) else {
        return Ok(Vec::new());
    };
    let dim = first.values.len();
    let rows: Vec<f32> = query.iter().flat_map(|f| f.values.iter().copied()).collect();
    let snippet = FeatureMatrix::new(dim, rows)?;
    let mut found = Vec::new();
    for reference in references {
        if let Some(best) = locate_snippet(&snippet, &reference.features, config)? {
            found.push((
                best.ranked_cost,
                EventBody::Match {
                    reference: reference.name.clone(),
                    ref_start_ns: reference.timing.time_ns(best.span.start),
                    ref_end_ns: reference.timing.time_ns(best.span.end),
                    live_start_ns: first.time_ns,
                    live_end_ns: last.time_ns,
                    cost: best.ranked_cost,
                    semitones: config.transposition.then(|| signed_semitones(best.semitones)),
                },
            ));
        }
    }
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(found.into_iter().map(|(_, body)| body).collect())
}
