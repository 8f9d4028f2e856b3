//! `sync_streams`: one operator measures the A/V offset of many streams, so that a stream joins
//! or leaves without a new dataflow.
//!
//! Records carry their stream's key ([`Keyed`]): its audio chunks and video frames, in the
//! order its capture delivered each medium, and its notes. Each stream's encoders and offset
//! estimation live in a [`SyncedStreams`] table on the worker: whoever starts a stream there
//! adds them, and the operator drops them when the stream's [`Keyed::End`] passes, after its
//! last estimate. A chunk or a frame is encoded as it comes and its evidence goes into the
//! stream's [`OffsetEstimation`]; a watermark (everything the stream captured before it has
//! come) makes the estimates due before it, whose `offset` events go out ahead of the
//! watermark itself. A source's recovery or discontinuity restarts the estimate from the data
//! after it, as in a stream's own dataflow. A stream whose encoder fails is dropped with a
//! [`StreamNote::Failed`]; the others go on.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::events::EventBody;
use crate::flow::keyed::{Keyed, StreamKey, StreamNote};
use crate::flow::offset_estimation::{restart_at, OffsetEstimation};
use crate::flow::{AudioEvidence, FeatureFrame, FlowError, PictureSample};
use crate::media::{AudioChunk, VideoFrame};

/// One record of a `sync` stream in a dataflow many streams share.
#[derive(Debug, Clone)]
pub(crate) enum SyncRecord {
    /// A chunk of its audio.
    Audio(AudioChunk),
    /// A frame of its video.
    Video(VideoFrame),
}

/// Audio chunks → evidence (the level, speech windows, embeddings).
pub(crate) type AudioStage = Box<dyn FnMut(&mut Vec<AudioChunk>, &mut Vec<AudioEvidence>) -> Result<(), FlowError>>;
/// Audio chunks → rows of the onset envelope's bands.
pub(crate) type BandsStage = Box<dyn FnMut(&mut Vec<AudioChunk>, &mut Vec<FeatureFrame>) -> Result<(), FlowError>>;
/// Rows of bands → onset strength.
pub(crate) type FluxStage = Box<dyn FnMut(&mut Vec<FeatureFrame>, &mut Vec<AudioEvidence>) -> Result<(), FlowError>>;
/// Frames → picture samples.
pub(crate) type PictureStage = Box<dyn FnMut(&mut Vec<VideoFrame>, &mut Vec<PictureSample>) -> Result<(), FlowError>>;

/// What one stream's records are encoded with.
pub(crate) struct SyncEncoding {
    /// The onset envelope's bands, then their flux.
    pub bands: BandsStage,
    pub flux: FluxStage,
    /// The other evidence from audio, each from the same chunks.
    pub audio: Vec<AudioStage>,
    pub pictures: PictureStage,
}

/// A stream in the table, with room for its records on their way through.
struct Synced {
    encoding: SyncEncoding,
    estimation: OffsetEstimation,
    chunks: Vec<AudioChunk>,
    frames: Vec<VideoFrame>,
    rows: Vec<FeatureFrame>,
    evidence: Vec<AudioEvidence>,
    samples: Vec<PictureSample>,
}

impl Synced {
    fn push_audio(&mut self, chunk: AudioChunk) -> Result<(), FlowError> {
        for stage in &mut self.encoding.audio {
            self.chunks.push(chunk.clone());
            stage(&mut self.chunks, &mut self.evidence)?;
        }
        self.chunks.push(chunk);
        (self.encoding.bands)(&mut self.chunks, &mut self.rows)?;
        (self.encoding.flux)(&mut self.rows, &mut self.evidence)?;
        for evidence in self.evidence.drain(..) {
            self.estimation.push_audio(evidence);
        }
        Ok(())
    }

    fn push_video(&mut self, frame: VideoFrame) -> Result<(), FlowError> {
        self.frames.push(frame);
        (self.encoding.pictures)(&mut self.frames, &mut self.samples)?;
        for sample in self.samples.drain(..) {
            self.estimation.push_picture(sample);
        }
        Ok(())
    }
}

/// The streams one worker's `sync_streams` operator measures, by key; shared between the
/// worker's driver, which adds them, and the operator, which drops them at their end.
#[derive(Clone, Default)]
pub(crate) struct SyncedStreams {
    streams: Rc<RefCell<HashMap<StreamKey, Synced>>>,
}

impl SyncedStreams {
    /// Measures stream `key` with `encoding` and `estimation`; false (and nothing changes) when
    /// `key` is already measured.
    pub(crate) fn add(&self, key: StreamKey, encoding: SyncEncoding, estimation: OffsetEstimation) -> bool {
        let mut streams = self.streams.borrow_mut();
        if streams.contains_key(&key) {
            return false;
        }
        let synced = Synced {
            encoding,
            estimation,
            chunks: Vec::new(),
            frames: Vec::new(),
            rows: Vec::new(),
            evidence: Vec::new(),
            samples: Vec::new(),
        };
        streams.insert(key, synced);
        true
    }
}

/// Extension trait for measuring many streams' offsets in one operator.
pub(crate) trait SyncStreams<'scope> {
    /// Measures each stream's offset with its entry in `streams` and gives its `offset` event
    /// bodies, keyed by the stream, ahead of the watermark that made them due; an `End` gives
    /// the stream's last estimate and drops it. Records of a key not in the table (a stream that
    /// failed) are passed over; notes and ends always pass on.
    fn sync_streams(self, streams: SyncedStreams) -> StreamVec<'scope, u64, Keyed<EventBody>>;
}

impl<'scope> SyncStreams<'scope> for StreamVec<'scope, u64, Keyed<SyncRecord>> {
    fn sync_streams(self, streams: SyncedStreams) -> StreamVec<'scope, u64, Keyed<EventBody>> {
        self.unary(Pipeline, "SyncStreams", move |_, _| {
            move |input, output| {
                input.for_each(|cap, records| {
                    let mut session = output.session(&cap);
                    let mut table = streams.streams.borrow_mut();
                    for record in records.drain(..) {
                        match record {
                            Keyed::Data { stream, data } => {
                                let Some(synced) = table.get_mut(&stream) else {
                                    continue;
                                };
                                let pushed = match data {
                                    SyncRecord::Audio(chunk) => synced.push_audio(chunk),
                                    SyncRecord::Video(frame) => synced.push_video(frame),
                                };
                                if let Err(error) = pushed {
                                    table.remove(&stream);
                                    let note = StreamNote::Failed {
                                        reason: error.to_string(),
                                    };
                                    session.give(Keyed::Note { stream, note });
                                }
                            }
                            Keyed::Note { stream, note } => {
                                match (&note, table.get_mut(&stream)) {
                                    (StreamNote::Watermark { running_ns }, Some(synced)) => {
                                        synced.estimation.estimate_until(*running_ns, |_, data| {
                                            session.give(Keyed::Data { stream, data });
                                        });
                                    }
                                    (StreamNote::Health(body), Some(synced)) => {
                                        if let Some(time_ns) = restart_at(body) {
                                            synced.estimation.push_audio(AudioEvidence::Restart { time_ns });
                                        }
                                    }
                                    (StreamNote::Failed { .. }, _) => {
                                        table.remove(&stream);
                                    }
                                    _ => {}
                                }
                                session.give(Keyed::Note { stream, note });
                            }
                            Keyed::End { stream } => {
                                if let Some(mut synced) = table.remove(&stream) {
                                    synced.estimation.finish(|_, data| {
                                        session.give(Keyed::Data { stream, data });
                                    });
                                }
                                session.give(Keyed::End { stream });
                            }
                        }
                    }
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use timely::dataflow::operators::{Inspect, ToStream};

    use super::*;
    use crate::align::{AvSyncEstimator, BlockGrid, LagConfig, OffsetTracker, OffsetTrackerConfig, RegionLagConfig};
    use crate::engine_metrics::AlignerMetrics;
    use crate::flow::EnvelopeSample;

    const MS: u64 = 1_000_000;

    /// Stages that read a chunk's first sample as its onset strength and a frame's first pixel
    /// as its brightening: the operator's keying, not the encoders, is under test.
    fn plain_encoding(fail_after_frames: Option<usize>) -> SyncEncoding {
        let mut frames_seen = 0;
        SyncEncoding {
            bands: Box::new(|chunks, rows| {
                rows.extend(chunks.drain(..).map(|chunk| FeatureFrame {
                    time_ns: chunk.pts_ns,
                    values: vec![chunk.samples[0]],
                    captured_at: chunk.captured_at,
                }));
                Ok(())
            }),
            flux: Box::new(|rows, evidence| {
                evidence.extend(rows.drain(..).map(|row| {
                    AudioEvidence::Onset(EnvelopeSample {
                        time_ns: row.time_ns,
                        value: row.values[0],
                        captured_at: row.captured_at,
                    })
                }));
                Ok(())
            }),
            audio: Vec::new(),
            pictures: Box::new(move |frames, samples| {
                frames_seen += frames.len();
                if fail_after_frames.is_some_and(|limit| frames_seen > limit) {
                    frames.clear();
                    return Err(FlowError::NotHeld {
                        operator: "a test stage",
                    });
                }
                samples.extend(frames.drain(..).map(|frame| {
                    let rise = f32::from(frame.pixels[0]);
                    PictureSample {
                        time_ns: frame.pts_ns,
                        rise,
                        blocks: vec![rise; 4],
                        face: None,
                        embedding: None,
                        captured_at: frame.captured_at,
                    }
                }));
                Ok(())
            }),
        }
    }

    fn estimation(stream: &str) -> OffsetEstimation {
        let grid = BlockGrid { columns: 2, rows: 2 };
        let estimator = AvSyncEstimator::new(LagConfig::default(), RegionLagConfig::default(), grid).expect("settings");
        let tracker = OffsetTracker::new(OffsetTrackerConfig::default()).expect("settings");
        OffsetEstimation::new(estimator, tracker, 500 * MS, stream.into(), AlignerMetrics::detached())
    }

    /// A flash at every whole second and a beep `offset_ms` after each, for `seconds`, as stream
    /// `key`'s records, a watermark after each 100 ms, and its end.
    fn flashes_and_beeps(key: StreamKey, offset_ms: u64, seconds: u64) -> Vec<Keyed<SyncRecord>> {
        let mut records = Vec::new();
        for tick in 0..seconds * 200 {
            let time_ns = tick * 5 * MS;
            let beep = (time_ns % (1_000 * MS)) == offset_ms * MS;
            let chunk = AudioChunk {
                pts_ns: time_ns,
                samples: vec![if beep { 5.0 } else { 0.0 }],
                captured_at: Instant::now(),
            };
            records.push(Keyed::Data {
                stream: key,
                data: SyncRecord::Audio(chunk),
            });
            if tick % 6 == 0 {
                let flash = time_ns.is_multiple_of(1_000 * MS);
                let frame = VideoFrame {
                    pts_ns: time_ns,
                    width: 1,
                    height: 1,
                    channels: 1,
                    pixels: vec![u8::from(flash)],
                    captured_at: Instant::now(),
                };
                records.push(Keyed::Data {
                    stream: key,
                    data: SyncRecord::Video(frame),
                });
            }
            if tick % 20 == 19 {
                let note = StreamNote::Watermark {
                    running_ns: time_ns + 1,
                };
                records.push(Keyed::Note { stream: key, note });
            }
        }
        records.push(Keyed::End { stream: key });
        records
    }

    #[test]
    fn each_stream_gets_its_own_offset_and_one_that_fails_ends_alone() {
        let seen: Arc<Mutex<Vec<(StreamKey, String)>>> = Arc::default();
        let offsets: Arc<Mutex<Vec<(StreamKey, i64)>>> = Arc::default();
        let (seen_here, offsets_here) = (seen.clone(), offsets.clone());
        timely::example(move |scope| {
            let streams = SyncedStreams::default();
            assert!(streams.add(1, plain_encoding(None), estimation("a")));
            assert!(streams.add(2, plain_encoding(None), estimation("b")));
            assert!(streams.add(3, plain_encoding(Some(100)), estimation("c")));
            assert!(!streams.add(1, plain_encoding(None), estimation("a again")));
            // The three streams' records interleaved, each in its own order.
            let [a, b, c] = [(1, 40), (2, 120), (3, 80)].map(|(key, offset_ms)| flashes_and_beeps(key, offset_ms, 10));
            let mut records = Vec::new();
            let (mut a, mut b, mut c) = (a.into_iter(), b.into_iter(), c.into_iter());
            loop {
                let next: Vec<_> = [a.next(), b.next(), c.next()].into_iter().flatten().collect();
                if next.is_empty() {
                    break;
                }
                records.extend(next);
            }
            records
                .to_stream(scope)
                .container::<Vec<_>>()
                .sync_streams(streams)
                .inspect(move |record| match record {
                    Keyed::Data {
                        stream,
                        data: EventBody::Offset { av_offset_ns, .. },
                    } => offsets_here.lock().unwrap().push((*stream, *av_offset_ns)),
                    Keyed::Note {
                        stream,
                        note: StreamNote::Failed { .. },
                    } => seen_here.lock().unwrap().push((*stream, "failed".into())),
                    Keyed::End { stream } => seen_here.lock().unwrap().push((*stream, "end".into())),
                    _ => {}
                });
        });
        let offsets = offsets.lock().unwrap().clone();
        for (key, expected_ms) in [(1, 40), (2, 120)] {
            let mine: Vec<i64> = offsets.iter().filter(|(k, _)| *k == key).map(|(_, o)| *o).collect();
            assert!(mine.len() >= 10, "stream {key}: {mine:?}");
            let last_ms = *mine.last().expect("an estimate") as f64 / 1e6;
            assert!(
                (last_ms - expected_ms as f64).abs() < 2.0,
                "stream {key} read {last_ms} ms"
            );
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                (3, "failed".to_owned()),
                (1, "end".to_owned()),
                (2, "end".to_owned()),
                (3, "end".to_owned())
            ]
        );
    }
}
