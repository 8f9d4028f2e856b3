//! What a worker builds for a stream it does not hold.
//!
//! Timely wants every worker to build the same dataflows, so every worker builds every
//! stream's dataflow; only the stream's holder ([`super::placement`]) fills its operators with
//! encoders, aligners and a writer. The others get the stand-ins here, which no record ever
//! reaches (the exchange pact sends them all to the holder): a stage that would report a
//! misrouted record, and a writer that writes nothing.

use std::io;

use crate::events::{Event, EventWriter, RunSummary};

use super::placement::Role;
use super::FlowError;

/// `stage` where the stream is held; where it is not (`None`), a stage that reports any record
/// reaching `operator` as misrouted.
pub(crate) fn held_stage<D, R>(
    mut stage: Option<impl FnMut(&mut Vec<D>, &mut Vec<R>) -> Result<(), FlowError>>,
    operator: &'static str,
) -> impl FnMut(&mut Vec<D>, &mut Vec<R>) -> Result<(), FlowError> {
    move |records, out| match stage.as_mut() {
        Some(stage) => stage(records, out),
        None => {
            records.clear();
            Err(FlowError::NotHeld { operator })
        }
    }
}

/// `writer` where the stream is held; elsewhere a writer of nothing.
pub(crate) fn held_writer(role: Role, writer: Box<dyn EventWriter + Send>) -> Box<dyn EventWriter + Send> {
    match role.holds {
        true => writer,
        false => Box::new(Unwritten),
    }
}

/// Where a stream's events go on the workers that do not hold it: nowhere.
struct Unwritten;

impl EventWriter for Unwritten {
    fn write_event(&mut self, _event: &Event) -> io::Result<()> {
        Ok(())
    }

    fn write_summary(&mut self, _summary: &RunSummary) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_not_held_refuses_records_and_a_held_one_runs() {
        let mut absent = held_stage(
            None::<fn(&mut Vec<u32>, &mut Vec<u32>) -> Result<(), FlowError>>,
            "Test",
        );
        let mut records = vec![1, 2];
        let mut out = Vec::new();
        assert!(matches!(
            absent(&mut records, &mut out),
            Err(FlowError::NotHeld { operator: "Test" })
        ));
        assert!(records.is_empty() && out.is_empty());
        let mut present = held_stage(
            Some(|records: &mut Vec<u32>, out: &mut Vec<u32>| {
                out.append(records);
                Ok(())
            }),
            "Test",
        );
        let mut records = vec![3];
        present(&mut records, &mut out).expect("the held stage runs");
        assert_eq!(out, vec![3]);
    }
}
