//! Which cues a follower has reached: given the reference positions it reports, the cues to
//! announce, each once as the performance passes it, and again when a repeat brings it back.

use crate::config::Cue;

/// The cues in time order, and the first not yet reached.
#[derive(Debug, Clone)]
pub(crate) struct CueCursor {
    cues: Vec<Cue>,
    next: usize,
}

impl CueCursor {
    /// A cursor before the first of `cues` (sorted by time).
    pub(crate) fn new(cues: Vec<Cue>) -> Self {
        Self { cues, next: 0 }
    }

    /// The tracker moved on along its path to `ref_ns`: every cue passed since the last call,
    /// in order (after an outage, the ones the lost time went past too).
    pub(crate) fn reach(&mut self, ref_ns: u64) -> &[Cue] {
        let start = self.next;
        while self.cues.get(self.next).is_some_and(|cue| cue.ref_ns <= ref_ns) {
            self.next += 1;
        }
        &self.cues[start..self.next]
    }

    /// The tracker jumped to `ref_ns` (a relocation, forwards or back): the cue in force there,
    /// unless it is the one given last; cues after it are due again.
    pub(crate) fn jump_to(&mut self, ref_ns: u64) -> Option<&Cue> {
        let in_force = self.cues.partition_point(|cue| cue.ref_ns <= ref_ns);
        let given_last = self.next;
        self.next = in_force;
        (in_force > 0 && in_force != given_last).then(|| &self.cues[in_force - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cues() -> CueCursor {
        CueCursor::new(
            [("a", 10), ("b", 20), ("c", 30), ("d", 40)]
                .into_iter()
                .map(|(id, ref_ns)| Cue { id: id.into(), ref_ns })
                .collect(),
        )
    }

    fn ids(cues: &[Cue]) -> Vec<&str> {
        cues.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn each_cue_once_as_it_is_passed_and_again_after_a_repeat() {
        let mut cursor = cues();
        assert!(cursor.reach(5).is_empty());
        assert_eq!(ids(cursor.reach(10)), ["a"]);
        assert!(cursor.reach(15).is_empty());
        assert_eq!(ids(cursor.reach(31)), ["b", "c"]);
        // A repeat back to 12: "a" is in force again, and "b", "c" are due again.
        assert_eq!(cursor.jump_to(12).map(|c| c.id.as_str()), Some("a"));
        assert_eq!(ids(cursor.reach(25)), ["b"]);
        // A jump ahead announces only the cue in force there.
        assert_eq!(cursor.jump_to(45).map(|c| c.id.as_str()), Some("d"));
        assert!(cursor.reach(50).is_empty());
        // A jump within the same cue's span announces nothing new.
        assert_eq!(cursor.jump_to(41), None);
    }
}
