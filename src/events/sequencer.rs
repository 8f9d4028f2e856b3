//! Per-stream sequence numbering.

use std::collections::HashMap;

use super::{Event, EventBody, SCHEMA_VERSION};

/// Stamps event bodies with their stream's next sequence number, so that `seq` rises by
/// one per stream with no gaps. Keep one sequencer where events leave the graph.
#[derive(Debug, Default)]
pub struct Sequencer {
    next_seq: HashMap<String, u64>,
}

impl Sequencer {
    /// Wraps `body` into the next event of `stream`.
    pub fn stamp(&mut self, stream: &str, body: EventBody) -> Event {
        let seq = self.next_seq.entry(stream.to_owned()).or_insert(0);
        let event = Event {
            v: SCHEMA_VERSION,
            stream: stream.to_owned(),
            seq: *seq,
            body,
        };
        *seq += 1;
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_rise_by_one_per_stream() {
        let mut sequencer = Sequencer::default();
        let seqs: Vec<(String, u64)> = ["a", "b", "a", "a", "b"]
            .iter()
            .map(|s| {
                let e = sequencer.stamp(s, EventBody::Eos);
                (e.stream, e.seq)
            })
            .collect();
        let expected = [("a", 0), ("b", 0), ("a", 1), ("a", 2), ("b", 1)];
        for ((s, q), (es, eq)) in seqs.iter().zip(expected) {
            assert_eq!((s.as_str(), *q), (es, eq));
        }
    }
}
