//! The capability an operator holds while it may still emit: moved up as its input frontier
//! (and whatever it still waits on) moves, and given up once nothing more can come. Frontiers are
//! shared by every worker, so a worker that holds no record must let go too, or the whole
//! dataflow waits on it.

use timely::dataflow::operators::Capability;

/// Moves `capability` up to `time` (never back), or, when `time` is `None` (the input has ended
/// and nothing waits), gives it up and returns it, so that the operator can emit its last
/// results under it.
pub(crate) fn hold_until(capability: &mut Option<Capability<u64>>, time: Option<u64>) -> Option<Capability<u64>> {
    match time {
        Some(time) => {
            if let Some(cap) = capability.as_mut().filter(|cap| cap.time() < &time) {
                cap.downgrade(&time);
            }
            None
        }
        None => capability.take(),
    }
}
