//! Bounded lock-free hand-off from an appsink's streaming thread to the graph's worker.
//!
//! A live source must not wait, and a late record is worth less than a fresh one: when the
//! ring is full in real time, the oldest waiting record makes room for the new one and is
//! counted as dropped (`crossbeam`'s `ArrayQueue::force_push` does this without a lock; a
//! single-producer ring such as rtrb cannot drop from the consumer's end). Paced fast, the
//! sender waits for room instead, which holds the pipeline back and loses nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;

use crate::config::Pace;

use super::CaptureStats;

/// How long a paced-fast sender sleeps between looks at a full ring.
const FULL_RING_BACKOFF: Duration = Duration::from_micros(200);

/// Flags shared by both ends of a ring.
#[derive(Debug, Default)]
struct RingFlags {
    /// The producer has seen end-of-stream and will send nothing more.
    ended: AtomicBool,
    /// The consumer is going away; a waiting producer must give up.
    closed: AtomicBool,
}

/// The streaming-thread end of a ring.
pub(crate) struct RecordSender<T> {
    queue: Arc<ArrayQueue<T>>,
    flags: Arc<RingFlags>,
    pace: Pace,
    stats: CaptureStats,
}

/// A sender that successive pipelines of one source share, so that a rebuilt source feeds
/// the same ring.
pub(crate) type SharedSender<T> = Arc<Mutex<RecordSender<T>>>;

/// The graph end of a ring.
#[derive(Debug)]
pub struct RecordReceiver<T> {
    queue: Arc<ArrayQueue<T>>,
    flags: Arc<RingFlags>,
}

/// Lets the owner of a pipeline release a sender that waits on a full ring, before stopping it.
#[derive(Debug, Clone)]
pub(crate) struct RingCloser {
    flags: Arc<RingFlags>,
}

impl RingCloser {
    /// From now on a full ring makes the sender give up instead of waiting.
    pub(crate) fn close(&self) {
        self.flags.closed.store(true, Ordering::Release);
    }
}

/// A ring of `capacity` records; `pace` decides what a full ring does to the sender.
pub(crate) fn record_ring<T>(
    capacity: usize,
    pace: Pace,
    stats: CaptureStats,
) -> (RecordSender<T>, RecordReceiver<T>, RingCloser) {
    let queue = Arc::new(ArrayQueue::new(capacity.max(1)));
    let flags = Arc::new(RingFlags::default());
    (
        RecordSender {
            queue: queue.clone(),
            flags: flags.clone(),
            pace,
            stats,
        },
        RecordReceiver {
            queue,
            flags: flags.clone(),
        },
        RingCloser { flags },
    )
}

impl<T> RecordSender<T> {
    /// Hands over a record captured at `running_time_ns`. Returns false only when the
    /// receiver is gone.
    pub(crate) fn send(&mut self, record: T, running_time_ns: u64) -> bool {
        if self.flags.closed.load(Ordering::Acquire) {
            return false;
        }
        self.stats.count_in(running_time_ns);
        match self.pace {
            Pace::Realtime => {
                if self.queue.force_push(record).is_some() {
                    self.stats.count_dropped();
                }
                true
            }
            Pace::Fast => {
                let mut record = record;
                loop {
                    match self.queue.push(record) {
                        Ok(()) => return true,
                        Err(back) => {
                            if self.flags.closed.load(Ordering::Acquire) {
                                return false;
                            }
                            record = back;
                            std::thread::sleep(FULL_RING_BACKOFF);
                        }
                    }
                }
            }
        }
    }

    /// Marks the end of the stream: nothing more will be sent.
    pub(crate) fn end(&self) {
        self.flags.ended.store(true, Ordering::Release);
    }
}

impl<T> RecordReceiver<T> {
    /// The next record, if one is waiting.
    pub fn pop(&mut self) -> Option<T> {
        self.queue.pop()
    }

    /// True once the stream has ended and every record has been taken.
    pub fn is_finished(&self) -> bool {
        // Read the flag first: records pushed before `end` are then visible to `is_empty`.
        self.flags.ended.load(Ordering::Acquire) && self.queue.is_empty()
    }

    /// True when no record is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Records waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }
}

impl<T> Drop for RecordReceiver<T> {
    fn drop(&mut self) {
        self.flags.closed.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realtime_drops_the_oldest_and_counts_when_full() {
        let stats = CaptureStats::default();
        let (mut sender, mut receiver, _) = record_ring(2, Pace::Realtime, stats.clone());
        for i in 0..5 {
            assert!(sender.send(i, i as u64));
        }
        assert_eq!((stats.frames_in(), stats.frames_dropped()), (5, 3));
        assert_eq!(receiver.pop(), Some(3));
        assert_eq!(receiver.pop(), Some(4));
        assert_eq!(receiver.pop(), None);
        assert!(!receiver.is_finished());
        sender.end();
        assert!(receiver.is_finished());
    }

    #[test]
    fn fast_waits_for_room_and_loses_nothing() {
        let stats = CaptureStats::default();
        let (mut sender, mut receiver, _) = record_ring(4, Pace::Fast, stats.clone());
        let producer = std::thread::spawn(move || {
            for i in 0..1000u32 {
                assert!(sender.send(i, u64::from(i)));
            }
            sender.end();
        });
        let mut received = Vec::new();
        while !receiver.is_finished() {
            match receiver.pop() {
                Some(v) => received.push(v),
                None => std::thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(received, (0..1000).collect::<Vec<_>>());
        assert_eq!(stats.frames_dropped(), 0);
    }

    #[test]
    fn a_waiting_sender_gives_up_when_the_receiver_goes() {
        let (mut sender, receiver, _) = record_ring(1, Pace::Fast, CaptureStats::default());
        assert!(sender.send(1, 1));
        drop(receiver);
        assert!(!sender.send(2, 2));
    }
}
