//! Encoders a worker shares among the streams it holds, so that one tensor op encodes
//! the frames of them all: what keeps a GPU busy, and what spares a CPU the fixed cost of one
//! op per stream per step.
//!
//! Each stream's `encode_pooled` operator frames its own records (audio framing follows each
//! stream's timestamps; a picture is a frame) and leaves the frames at its [`PoolSeat`]. After each step of the worker the
//! driver calls [`EncoderPools::flush`]: every pool whose batch is due (as [`Batching`] says)
//! encodes the frames waiting at all its seats in one call, hands each seat its rows and wakes
//! its operator, which sends them on. Encoders that give the same features (the same name,
//! framing or picture format and device) share one pool when they keep no state between
//! frames: `follow`'s log-mel and chroma, its luma thumbnails and colour histograms, stateless
//! models, and the log-mel bands of `logmel-flux` and of `sync` (each stream then takes their
//! rise itself: `encode_pooled`'s per-stream rows). One with a memory of its stream that does
//! not come apart (motion energy, a recurrent model) gets a pool of its own. A shared batch that fails is encoded again seat by seat, so
//! that only the stream at fault fails.
//!
//! The pools belong to one worker's thread; nothing here crosses threads.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use timely::scheduling::Activator;

use crate::encode::{AudioEncoder, EncodeError, VideoEncoder};
use crate::engine_metrics::{EncoderMetrics, EngineMetrics};

use super::operators::Batching;

/// The stream label of a shared pool's batch metrics.
pub(crate) const SHARED_STREAM: &str = "shared";

/// What a pool needs of an encoder: frames of a fixed number of samples in, rows of a fixed
/// width out, and whether it may serve several streams.
pub(crate) trait PooledEncoder: Sized + 'static {
    /// One sample of a frame: an audio sample, or a byte of a picture.
    type Sample: Copy + 'static;
    /// Samples per frame as the framer hands them over (an audio frame's history included).
    fn frame_len(&self) -> usize;
    /// Values per row.
    fn row_len(&self) -> usize;
    /// Encodes row-major frames, appending one row each to `rows`.
    fn encode_frames(&mut self, frames: &[Self::Sample], rows: &mut Vec<f32>) -> Result<(), EncodeError>;
    /// Equal for encoders that give equal features; `None` for one that keeps state between
    /// frames, which must serve one stream only.
    fn share_key(&self) -> Option<String>;
    /// The worker's pools of encoders of this kind.
    fn pools_in(pools: &EncoderPools) -> &RefCell<Vec<Pool<Self>>>;
}

impl PooledEncoder for Box<dyn AudioEncoder> {
    type Sample = f32;

    fn frame_len(&self) -> usize {
        self.params().span_len()
    }

    fn row_len(&self) -> usize {
        self.dim()
    }

    fn encode_frames(&mut self, frames: &[f32], rows: &mut Vec<f32>) -> Result<(), EncodeError> {
        self.encode(frames, rows)
    }

    fn share_key(&self) -> Option<String> {
        let params = self.params();
        self.is_stateless().then(|| {
            format!(
                "{}/{}/{}/{}/{}/{:?}",
                self.name(),
                params.rate_hz,
                params.frame_len,
                params.hop_len,
                params.history_len,
                self.device()
            )
        })
    }

    fn pools_in(pools: &EncoderPools) -> &RefCell<Vec<Pool<Self>>> {
        &pools.inner.audio
    }
}

impl PooledEncoder for Box<dyn VideoEncoder> {
    type Sample = u8;

    fn frame_len(&self) -> usize {
        self.format().frame_bytes()
    }

    fn row_len(&self) -> usize {
        self.dim()
    }

    fn encode_frames(&mut self, frames: &[u8], rows: &mut Vec<f32>) -> Result<(), EncodeError> {
        self.encode(frames, rows)
    }

    fn share_key(&self) -> Option<String> {
        let format = self.format();
        self.is_stateless()
            .then(|| format!("{}/{}x{}/{:?}", self.name(), format.width, format.height, format.layout))
    }

    fn pools_in(pools: &EncoderPools) -> &RefCell<Vec<Pool<Self>>> {
        &pools.inner.video
    }
}

/// The pools of one worker.
#[derive(Clone, Default)]
pub(crate) struct EncoderPools {
    inner: Rc<PoolsOfKinds>,
}

#[derive(Default)]
struct PoolsOfKinds {
    audio: RefCell<Vec<Pool<Box<dyn AudioEncoder>>>>,
    video: RefCell<Vec<Pool<Box<dyn VideoEncoder>>>>,
}

/// One encoder and the seats of the streams it serves.
pub(crate) struct Pool<E: PooledEncoder> {
    /// Encoders with equal keys give equal features; `None` for an encoder that is not shared.
    key: Option<String>,
    encoder: E,
    batching: Batching,
    metrics: EncoderMetrics,
    seats: Vec<Weak<RefCell<Seat<E::Sample>>>>,
    frames: Vec<E::Sample>,
    rows: Vec<f32>,
}

struct Seat<S> {
    /// Frames left to encode, row-major, and when the first of them was left.
    waiting: Vec<S>,
    waiting_since: Option<Instant>,
    /// Rows encoded and not yet taken.
    encoded: Vec<f32>,
    failure: Option<EncodeError>,
    activator: Option<Activator>,
}

/// One stream's place at a pool.
pub(crate) struct PoolSeat<S> {
    seat: Rc<RefCell<Seat<S>>>,
    frame_len: usize,
    dim: usize,
}

impl EncoderPools {
    /// A seat for `stream` at the pool of encoders like `encoder`, which becomes that pool's
    /// encoder if there is none yet (and is dropped otherwise: the pool has one like it). An
    /// encoder that keeps state between frames gets a pool of its own. The pool's batches are
    /// recorded in `metrics` as `stage`, of the stream [`SHARED_STREAM`] when shared.
    pub(crate) fn seat<E: PooledEncoder>(
        &self,
        encoder: E,
        batching: Batching,
        metrics: &EngineMetrics,
        stream: &str,
        stage: &str,
    ) -> PoolSeat<E::Sample> {
        let key = encoder.share_key();
        let seat = Rc::new(RefCell::new(Seat {
            waiting: Vec::new(),
            waiting_since: None,
            encoded: Vec::new(),
            failure: None,
            activator: None,
        }));
        let placed = PoolSeat {
            seat: seat.clone(),
            frame_len: encoder.frame_len(),
            dim: encoder.row_len(),
        };
        let mut pools = E::pools_in(self).borrow_mut();
        let shared = key
            .as_ref()
            .and_then(|key| pools.iter_mut().find(|p| p.key.as_ref() == Some(key)));
        match shared {
            Some(pool) => pool.seats.push(Rc::downgrade(&seat)),
            None => {
                let label = if key.is_some() { SHARED_STREAM } else { stream };
                pools.push(Pool {
                    key,
                    encoder,
                    batching,
                    metrics: metrics.encoder(label, stage),
                    seats: vec![Rc::downgrade(&seat)],
                    frames: Vec::new(),
                    rows: Vec::new(),
                })
            }
        }
        placed
    }

    /// Encodes what waits at every pool whose batch is due. Returns how long until the next
    /// batch is due, if one waits that is not.
    pub(crate) fn flush(&self) -> Option<Duration> {
        let audio = flush_all(&self.inner.audio);
        let video = flush_all(&self.inner.video);
        audio.into_iter().chain(video).min()
    }
}

fn flush_all<E: PooledEncoder>(pools: &RefCell<Vec<Pool<E>>>) -> Option<Duration> {
    let mut pools = pools.borrow_mut();
    pools.retain(|pool| pool.seats.iter().any(|seat| seat.strong_count() > 0));
    pools.iter_mut().filter_map(Pool::flush).min()
}

impl<E: PooledEncoder> Pool<E> {
    fn flush(&mut self) -> Option<Duration> {
        self.seats.retain(|seat| seat.strong_count() > 0);
        let frame_len = self.encoder.frame_len().max(1);
        // The worker asks between every two steps: deciding to wait allocates nothing.
        let (mut waiting, mut oldest) = (0, None::<Instant>);
        for seat in self.seats.iter().filter_map(Weak::upgrade) {
            let seat = seat.borrow();
            waiting += seat.waiting.len() / frame_len;
            oldest = oldest.into_iter().chain(seat.waiting_since).min();
        }
        if waiting == 0 {
            return None;
        }
        let waited = oldest.map_or(Duration::ZERO, |since| since.elapsed());
        if waiting < self.batching.max_records && waited < self.batching.max_wait {
            return Some(self.batching.max_wait - waited);
        }
        let seats: Vec<_> = self.seats.iter().filter_map(Weak::upgrade).collect();
        let counts: Vec<usize> = seats.iter().map(|s| s.borrow().waiting.len() / frame_len).collect();
        self.frames.clear();
        for seat in &seats {
            let mut seat = seat.borrow_mut();
            self.frames.append(&mut seat.waiting);
            seat.waiting_since = None;
        }
        self.rows.clear();
        self.metrics.batch_records.observe(waiting as f64);
        let started = Instant::now();
        let together = self.encoder.encode_frames(&self.frames, &mut self.rows);
        self.metrics.batch_seconds.observe_duration(started.elapsed());
        let dim = self.encoder.row_len();
        let mut offset = 0;
        for (seat, &count) in seats.iter().zip(&counts) {
            if count == 0 {
                continue;
            }
            let mut seat = seat.borrow_mut();
            match &together {
                Ok(()) => seat
                    .encoded
                    .extend_from_slice(&self.rows[offset * dim..(offset + count) * dim]),
                // Alone, so that only the stream at fault fails.
                Err(_) => {
                    let mut alone = Vec::with_capacity(count * dim);
                    let frames = &self.frames[offset * frame_len..(offset + count) * frame_len];
                    match self.encoder.encode_frames(frames, &mut alone) {
                        Ok(()) => seat.encoded.append(&mut alone),
                        Err(error) => seat.failure = Some(error),
                    }
                }
            }
            offset += count;
            if let Some(activator) = seat.activator.as_ref() {
                activator.activate();
            }
        }
        None
    }
}

impl<S: Copy> PoolSeat<S> {
    /// Values per encoded row.
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// Samples per frame.
    pub(crate) fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Wakes `activator`'s operator when rows are ready.
    pub(crate) fn wake(&self, activator: Activator) {
        self.seat.borrow_mut().activator = Some(activator);
    }

    /// Leaves row-major frames to encode.
    pub(crate) fn leave(&self, frames: &[S]) {
        if frames.is_empty() {
            return;
        }
        let mut seat = self.seat.borrow_mut();
        seat.waiting.extend_from_slice(frames);
        seat.waiting_since.get_or_insert_with(Instant::now);
    }

    /// Moves the rows encoded so far, in the order their frames were left, to `rows`; the
    /// encoder's error instead, once, if these frames failed.
    pub(crate) fn take(&self, rows: &mut Vec<f32>) -> Result<(), EncodeError> {
        let mut seat = self.seat.borrow_mut();
        if let Some(error) = seat.failure.take() {
            return Err(error);
        }
        rows.append(&mut seat.encoded);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use tch::Device;

    use crate::encode::AudioFrameParams;

    use super::*;

    const STAGE: &str = "Mean";

    /// One value per frame of two samples, its mean; counts its calls; fails on a frame of NaNs.
    #[derive(Debug)]
    pub(crate) struct FrameMean {
        pub calls: Rc<RefCell<usize>>,
        pub stateless: bool,
    }

    impl AudioEncoder for FrameMean {
        fn name(&self) -> String {
            "mean".to_owned()
        }
        fn params(&self) -> AudioFrameParams {
            AudioFrameParams {
                rate_hz: 1000,
                frame_len: 2,
                hop_len: 2,
                history_len: 0,
            }
        }
        fn dim(&self) -> usize {
            1
        }
        fn device(&self) -> Device {
            Device::Cpu
        }
        fn encode(&mut self, frames: &[f32], features: &mut Vec<f32>) -> Result<(), EncodeError> {
            *self.calls.borrow_mut() += 1;
            if frames.iter().any(|v| v.is_nan()) {
                return Err(EncodeError::BadInputSize {
                    what: "a frame of NaNs",
                    expected: 0,
                    actual: frames.len(),
                });
            }
            features.extend(frames.chunks_exact(2).map(|frame| (frame[0] + frame[1]) / 2.0));
            Ok(())
        }
        fn reset(&mut self) -> Result<(), EncodeError> {
            Ok(())
        }
        fn is_stateless(&self) -> bool {
            self.stateless
        }
    }

    fn encoder(calls: &Rc<RefCell<usize>>, stateless: bool) -> Box<dyn AudioEncoder> {
        Box::new(FrameMean {
            calls: calls.clone(),
            stateless,
        })
    }

    fn taken(seat: &PoolSeat<f32>) -> Vec<f32> {
        let mut rows = Vec::new();
        seat.take(&mut rows).expect("no failure");
        rows
    }

    #[test]
    fn stateless_encoders_share_one_call_and_each_stream_gets_its_own_rows() {
        let pools = EncoderPools::default();
        let metrics = EngineMetrics::default();
        let calls = Rc::new(RefCell::new(0));
        let a = pools.seat(encoder(&calls, true), Batching::default(), &metrics, "a", STAGE);
        let b = pools.seat(encoder(&calls, true), Batching::default(), &metrics, "b", STAGE);
        a.leave(&[1.0, 1.0, 2.0, 2.0]);
        b.leave(&[5.0, 5.0]);
        assert_eq!(pools.flush(), None);
        assert_eq!(*calls.borrow(), 1, "one call for both streams");
        assert_eq!(taken(&a), vec![1.0, 2.0]);
        assert_eq!(taken(&b), vec![5.0]);
        assert_eq!(metrics.encoder(SHARED_STREAM, STAGE).batch_records.count(), 1);
    }

    #[test]
    fn an_encoder_with_state_is_not_shared() {
        let pools = EncoderPools::default();
        let metrics = EngineMetrics::default();
        let calls = Rc::new(RefCell::new(0));
        let a = pools.seat(encoder(&calls, false), Batching::default(), &metrics, "a", STAGE);
        let b = pools.seat(encoder(&calls, false), Batching::default(), &metrics, "b", STAGE);
        a.leave(&[1.0, 1.0]);
        b.leave(&[3.0, 3.0]);
        pools.flush();
        assert_eq!(*calls.borrow(), 2);
        assert_eq!((taken(&a), taken(&b)), (vec![1.0], vec![3.0]));
    }

    #[test]
    fn a_failing_batch_fails_only_the_stream_at_fault() {
        let pools = EncoderPools::default();
        let metrics = EngineMetrics::default();
        let calls = Rc::new(RefCell::new(0));
        let good = pools.seat(encoder(&calls, true), Batching::default(), &metrics, "good", STAGE);
        let bad = pools.seat(encoder(&calls, true), Batching::default(), &metrics, "bad", STAGE);
        good.leave(&[4.0, 4.0]);
        bad.leave(&[f32::NAN, 0.0]);
        pools.flush();
        assert_eq!(taken(&good), vec![4.0]);
        assert!(bad.take(&mut Vec::new()).is_err());
    }

    #[test]
    fn a_batch_waits_for_max_records_or_max_wait() {
        let pools = EncoderPools::default();
        let metrics = EngineMetrics::default();
        let calls = Rc::new(RefCell::new(0));
        let batching = Batching {
            max_records: 3,
            max_wait: Duration::from_secs(60),
        };
        let a = pools.seat(encoder(&calls, true), batching, &metrics, "a", STAGE);
        a.leave(&[1.0, 1.0, 2.0, 2.0]);
        assert!(pools.flush().is_some_and(|wait| wait > Duration::from_secs(50)));
        assert!(taken(&a).is_empty());
        a.leave(&[3.0, 3.0]);
        assert_eq!(pools.flush(), None);
        assert_eq!(taken(&a), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn a_pool_ends_with_its_last_seat() {
        let pools = EncoderPools::default();
        let metrics = EngineMetrics::default();
        let calls = Rc::new(RefCell::new(0));
        let a = pools.seat(encoder(&calls, true), Batching::default(), &metrics, "a", STAGE);
        drop(a);
        pools.flush();
        assert!(pools.inner.audio.borrow().is_empty());
    }
}
