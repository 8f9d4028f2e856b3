//! Where each stream of a run lives: the worker that holds it and the worker that captures it.
//!
//! A stream is *held* — encoded, aligned, its events written — by the worker its id hashes to
//! among all workers of the run (every process's, in a cluster), so shards spread evenly and
//! land alike in every run. Its source is *captured* by the holder itself, unless the stream is
//! pinned to a process (`captured_by`: the machine whose USB port has the camera), then by a
//! worker of that process; the stream's records then cross to the holder through the exchange
//! pact at the head of its dataflow, and its events still leave from the holder.
//!
//! This module only decides; the jobs build what each worker's role asks for.

use crate::config::ConfigError;

/// The worker (of `workers`) that holds `stream`: FNV-1a of its id, so that a stream lands
/// on the same worker in every run.
pub fn worker_of(stream: &str, workers: usize) -> usize {
    let hash = stream.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % workers.max(1) as u64) as usize
}

/// The workers of one stream, as indices among all workers of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Encodes, aligns and writes the stream's events.
    pub holder: usize,
    /// Runs the stream's capture and feeds its records into the graph.
    pub capturer: usize,
}

impl Placement {
    /// A run of one worker, which does everything.
    pub const ALONE: Placement = Placement { holder: 0, capturer: 0 };

    /// Where `stream` lives in a run of `processes` processes of `threads` workers each (timely
    /// numbers process `p`'s workers `p · threads` onwards); `captured_by` pins its capture to
    /// a process.
    pub fn of(
        stream: &str,
        captured_by: Option<usize>,
        threads: usize,
        processes: usize,
    ) -> Result<Placement, ConfigError> {
        let threads = threads.max(1);
        let holder = worker_of(stream, threads * processes.max(1));
        let capturer = match captured_by {
            None => holder,
            Some(process) if process >= processes.max(1) => {
                return Err(ConfigError::BadValue {
                    name: "--captured-by",
                    value: format!("{process} (stream '{stream}')"),
                    expected: "the index of a process of the run, below -n",
                })
            }
            Some(process) if holder / threads == process => holder,
            // Spread over the pinned process's workers by the same hash.
            Some(process) => process * threads + worker_of(stream, threads),
        };
        Ok(Placement { holder, capturer })
    }

    /// What `worker` does for the stream.
    pub fn role(&self, worker: usize) -> Role {
        Role {
            captures: self.capturer == worker,
            holds: self.holder == worker,
        }
    }
}

/// What one worker does for one stream. Every worker builds every stream's dataflow (timely
/// wants the same dataflows on all workers); one that neither captures nor holds a stream
/// builds it empty-handed, its inputs closed at once, and no record ever reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// Captures the source and feeds the dataflow's inputs.
    pub captures: bool,
    /// Encodes, aligns and writes the events.
    pub holds: bool,
}

impl Role {
    /// Both, as in a run of one worker.
    pub const BOTH: Role = Role {
        captures: true,
        holds: true,
    };
}

/// One worker's view of one stream: the worker that holds it, and what this worker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSite {
    /// The worker every record of the stream is exchanged to.
    pub holder: usize,
    /// What this worker does for the stream.
    pub role: Role,
}

impl StreamSite {
    /// `worker`'s view of a stream placed as `placement` says.
    pub fn new(placement: Placement, worker: usize) -> Self {
        Self {
            holder: placement.holder,
            role: placement.role(worker),
        }
    }

    /// The only worker of a run of one.
    pub fn alone() -> Self {
        Self::new(Placement::ALONE, 0)
    }

    /// The same stream seen by a worker that neither captures nor holds it: what a worker
    /// builds after failing at its own part, so that its dataflows stay those of the others.
    pub fn bystander(self) -> Self {
        Self {
            holder: self.holder,
            role: Role {
                captures: false,
                holds: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_always_lands_on_the_same_worker_and_all_workers_are_used() {
        assert_eq!(worker_of("stage-left", 4), worker_of("stage-left", 4));
        assert_eq!(worker_of("anything", 1), 0);
        let used: std::collections::BTreeSet<usize> = (0..64).map(|i| worker_of(&format!("cam{i}"), 4)).collect();
        assert_eq!(used.len(), 4, "64 streams spread over 4 workers: {used:?}");
    }

    #[test]
    fn a_pinned_stream_is_captured_in_its_process_and_held_where_it_hashes() {
        // Two processes of two workers: process 1 has workers 2 and 3.
        for index in 0..32 {
            let stream = format!("cam{index}");
            let free = Placement::of(&stream, None, 2, 2).expect("valid");
            assert_eq!(free.capturer, free.holder);
            let pinned = Placement::of(&stream, Some(1), 2, 2).expect("valid");
            assert_eq!(pinned.holder, free.holder, "{stream}: pinning moves only the capture");
            assert!(pinned.capturer == 2 || pinned.capturer == 3, "{stream}: {pinned:?}");
            if free.holder >= 2 {
                assert_eq!(pinned.capturer, pinned.holder, "{stream}: held in the pinned process");
            }
        }
        assert!(Placement::of("cam", Some(2), 2, 2).is_err());
    }

    #[test]
    fn roles_follow_the_placement() {
        let placement = Placement { holder: 1, capturer: 3 };
        assert_eq!(
            placement.role(1),
            Role {
                captures: false,
                holds: true
            }
        );
        assert_eq!(
            placement.role(3),
            Role {
                captures: true,
                holds: false
            }
        );
        assert_eq!(
            placement.role(0),
            Role {
                captures: false,
                holds: false
            }
        );
        assert_eq!(Placement::ALONE.role(0), Role::BOTH);
    }
}
