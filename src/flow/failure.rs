//! Where operators leave an error for the driver, since timely operators cannot return one.

use std::cell::RefCell;
use std::rc::Rc;

use super::FlowError;

/// The first error any operator of a worker hit; the driver checks it after every step.
#[derive(Debug, Clone, Default)]
pub struct FailureSlot {
    first: Rc<RefCell<Option<FlowError>>>,
}

impl FailureSlot {
    /// Records `error` unless an earlier one is already there.
    pub fn record(&self, error: impl Into<FlowError>) {
        let mut slot = self.first.borrow_mut();
        if slot.is_none() {
            *slot = Some(error.into());
        }
    }

    /// Takes the recorded error, if any.
    pub fn take(&self) -> Option<FlowError> {
        self.first.borrow_mut().take()
    }
}
