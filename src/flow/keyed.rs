//! Records of a dataflow that many streams share: each carries its stream's key, and what the
//! graph must know of a stream besides its data (its watermark, its source's health, its
//! failure, its end) travels among its records, in its order, through every operator.
//!
//! Time in such a dataflow is the service's, not any stream's: a stream's own running times
//! ride in its data and in its [`StreamNote::Watermark`]s, so that each stream keeps a
//! watermark of its own while one frontier serves them all. Operators keep each stream's state
//! in a table by key and pass notes on behind the data that came before them.

use crate::events::EventBody;

/// A stream's key in a shared dataflow.
pub type StreamKey = u64;

/// One record of a dataflow shared by many streams.
#[derive(Debug, Clone)]
pub enum Keyed<D> {
    /// A record of stream `stream`.
    Data {
        /// Whose record it is.
        stream: StreamKey,
        /// The record, timed in the stream's own running time.
        data: D,
    },
    /// What the graph must know of stream `stream` at this point of its records.
    Note {
        /// The stream it is about.
        stream: StreamKey,
        /// What it says.
        note: StreamNote,
    },
    /// Stream `stream` has no more records: operators give what they still hold of it and
    /// drop it.
    End {
        /// The stream that ended.
        stream: StreamKey,
    },
}

/// What travels with a stream's records besides its data.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamNote {
    /// Everything the stream captured before `running_ns` came before this note: its
    /// watermark, which its `progress` events report.
    Watermark {
        /// The stream's running time.
        running_ns: u64,
    },
    /// A change in the source's health (`lost`, `recovered`, `discont`), as its event.
    Health(EventBody),
    /// The stream failed (its source, its encoder, its aligner): it gets an `error` event,
    /// operators drop its state, and only its end follows.
    Failed {
        /// What went wrong, naming the input at fault.
        reason: String,
    },
}

impl<D> Keyed<D> {
    /// The stream the record belongs to.
    pub fn stream(&self) -> StreamKey {
        match self {
            Keyed::Data { stream, .. } | Keyed::Note { stream, .. } | Keyed::End { stream } => *stream,
        }
    }

    /// A note or an end as a record of a stream of other data, passed on unchanged; data back
    /// as it is, for the operator to turn into its own.
    pub fn pass_on<E>(self) -> Result<Keyed<E>, (StreamKey, D)> {
        match self {
            Keyed::Data { stream, data } => Err((stream, data)),
            Keyed::Note { stream, note } => Ok(Keyed::Note { stream, note }),
            Keyed::End { stream } => Ok(Keyed::End { stream }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_and_ends_pass_on_and_data_comes_back() {
        let note: Keyed<u8> = Keyed::Note {
            stream: 3,
            note: StreamNote::Watermark { running_ns: 7 },
        };
        assert!(matches!(
            note.pass_on::<String>(),
            Ok(Keyed::Note {
                stream: 3,
                note: StreamNote::Watermark { running_ns: 7 }
            })
        ));
        assert!(matches!(
            Keyed::<u8>::End { stream: 4 }.pass_on::<String>(),
            Ok(Keyed::End { stream: 4 })
        ));
        let data = Keyed::Data { stream: 5, data: 9u8 };
        assert_eq!(data.stream(), 5);
        assert!(matches!(data.pass_on::<String>(), Err((5, 9))));
    }
}
