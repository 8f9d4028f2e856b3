//! Where operators leave an error for the driver, since timely operators cannot return one.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::FlowError;

/// The first error any operator of a worker hit; the driver checks it after every step.
#[derive(Debug, Clone, Default)]
pub struct FailureSlot {
    first: Rc<RefCell<Option<FlowError>>>,
    /// Whether the stream has failed, even once its error has been taken (or when the failure
    /// came from its capture, outside the graph): its last progress then says `failed`.
    failed: Rc<Cell<bool>>,
}

impl FailureSlot {
    /// Records `error` unless an earlier one is already there.
    pub fn record(&self, error: impl Into<FlowError>) {
        self.failed.set(true);
        let mut slot = self.first.borrow_mut();
        if slot.is_none() {
            *slot = Some(error.into());
        }
    }

    /// Marks the stream failed by an error the driver holds (its capture's).
    pub fn mark_failed(&self) {
        self.failed.set(true);
    }

    /// Whether the stream has failed.
    pub fn has_failed(&self) -> bool {
        self.failed.get()
    }

    /// Takes the recorded error, if any.
    pub fn take(&self) -> Option<FlowError> {
        self.first.borrow_mut().take()
    }
}
