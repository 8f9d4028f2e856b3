//! `.wfr` references shared by every stream of a process that follows them: the file is
//! mapped once, and its matrix (inverse norms, panels, the int8 copy an aligner makes, the
//! spread) is built once, however many streams follow it.
//!
//! An entry is known by the file (its canonical path, length and modification time) and by
//! how the run would encode live audio (the encoders' name, parameters and dimension), so a
//! file rewritten, or followed with other features, is loaded afresh. The table holds weak
//! references: a reference no stream follows any more is let go with its last stream.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use crate::align::FeatureMatrix;

use super::follow_features::FollowEncoders;
use super::operators::ReferenceTiming;
use super::reference::{load_reference, EncodedReference};
use super::FlowError;

/// A loaded reference several streams may follow at once.
#[derive(Debug, Clone)]
pub struct SharedReference {
    /// One feature row per frame, shared.
    pub features: Arc<FeatureMatrix>,
    /// Reference time of each frame index.
    pub timing: ReferenceTiming,
    /// Length of the reference's audio.
    pub duration_ns: u64,
}

/// What tells one loaded reference from another.
#[derive(Debug, Clone, PartialEq)]
struct ReferenceKey {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    made_like: String,
}

/// A reference loaded in this process, held weakly.
struct Loaded {
    key: ReferenceKey,
    features: Weak<FeatureMatrix>,
    timing: ReferenceTiming,
    duration_ns: u64,
}

/// The references loaded in this process.
static LOADED: Mutex<Vec<Loaded>> = Mutex::new(Vec::new());

/// The reference at `path`, shared with every stream of this process that follows the same
/// `.wfr` file the same way; a media reference is encoded for this stream alone (as
/// [`load_reference`] does).
pub fn load_shared_reference(
    path: &Path,
    encoders: &mut FollowEncoders,
    on_progress: impl FnMut(u64, Option<u64>),
) -> Result<SharedReference, FlowError> {
    let Some(key) = key_of(path, encoders) else {
        return load_reference(path, encoders, on_progress).map(SharedReference::from);
    };
    let mut loaded = LOADED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    loaded.retain(|entry| entry.features.strong_count() > 0);
    let held = loaded.iter().find(|entry| entry.key == key).and_then(|entry| {
        Some(SharedReference {
            features: entry.features.upgrade()?,
            timing: entry.timing,
            duration_ns: entry.duration_ns,
        })
    });
    if let Some(reference) = held {
        return Ok(reference);
    }
    let reference = SharedReference::from(load_reference(path, encoders, on_progress)?);
    loaded.push(Loaded {
        key,
        features: Arc::downgrade(&reference.features),
        timing: reference.timing,
        duration_ns: reference.duration_ns,
    });
    Ok(reference)
}

/// The key of a `.wfr` file as `encoders` would follow it; `None` for media references and
/// files that cannot be looked at (loading then says why).
fn key_of(path: &Path, encoders: &FollowEncoders) -> Option<ReferenceKey> {
    if !super::is_reference_file(path) {
        return None;
    }
    let path = path.canonicalize().ok()?;
    let metadata = std::fs::metadata(&path).ok()?;
    Some(ReferenceKey {
        path,
        len: metadata.len(),
        modified: metadata.modified().ok(),
        made_like: format!("{} {:?} {}", encoders.name(), encoders.audio.params(), encoders.dim()),
    })
}

impl From<EncodedReference> for SharedReference {
    fn from(reference: EncodedReference) -> Self {
        Self {
            features: Arc::new(reference.features),
            timing: reference.timing,
            duration_ns: reference.duration_ns,
        }
    }
}
