//! A source whose media a host program pushes in (the `avalign` GStreamer element), instead of
//! one warpflow opens itself.
//!
//! The handle is opaque here: configuration knows nothing of GStreamer. The capture module
//! (`media::PushedInputs`) puts its own inputs behind it and takes them back out.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Shared handle to the inputs a host program pushes media into.
#[derive(Clone)]
pub struct PushedSource(Arc<dyn Any + Send + Sync>);

impl PushedSource {
    /// Wraps `inputs`.
    pub fn new(inputs: Arc<dyn Any + Send + Sync>) -> Self {
        Self(inputs)
    }

    /// The inputs, when they are of type `T`.
    pub fn inputs<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.0.clone().downcast::<T>().ok()
    }
}

impl fmt::Debug for PushedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PushedSource")
    }
}

impl PartialEq for PushedSource {
    /// The same inputs.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_back_the_inputs_of_their_own_type_only() {
        let source = PushedSource::new(Arc::new(7u32));
        assert_eq!(source.inputs::<u32>().as_deref(), Some(&7));
        assert!(source.inputs::<String>().is_none());
        assert_eq!(source, source.clone());
        assert_ne!(source, PushedSource::new(Arc::new(7u32)));
    }
}
