//! A file mapped into memory, read-only: the reference-file reader checks its bytes once, and
//! the aligner then reads f32 features from the mapping in place.
//!
//! The kernel pages the mapping in as it is read and may drop the pages again under memory
//! pressure (they are the file's, clean), so an hour-long reference costs no private memory. A
//! mapped file must not be changed or truncated while a run reads it: like any program that maps
//! its input, warpflow would then read the new bytes, or fault on missing ones.

#![allow(unsafe_code)]

use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::align::SharedValues;

/// A whole file, mapped read-only.
#[derive(Debug)]
pub struct MappedFile {
    map: memmap2::Mmap,
}

impl MappedFile {
    /// Maps the file at `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        // SAFETY: the mapping is read-only and private to this process. Its bytes are only ever
        // read as plain integers and floats, for which any bit pattern is valid; what another
        // process may do to the file while it is mapped is the documented condition of use above.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Self { map })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
}

/// Little-endian f32 values at a byte range of a mapped file, read in place.
#[derive(Debug)]
pub(crate) struct MappedValues {
    file: Arc<MappedFile>,
    range: Range<usize>,
}

impl MappedValues {
    /// The f32 values at `range` of `file`, or `None` where they cannot be read in place: the
    /// range is out of the file, not aligned for f32, or this machine is big-endian.
    pub(crate) fn new(file: Arc<MappedFile>, range: Range<usize>) -> Option<Self> {
        if cfg!(target_endian = "big") {
            return None;
        }
        let bytes = file.bytes().get(range.clone())?;
        bytemuck::try_cast_slice::<u8, f32>(bytes).ok()?;
        Some(Self { file, range })
    }
}

impl SharedValues for MappedValues {
    fn values(&self) -> &[f32] {
        // `new` checked that the range is in the file and aligned.
        self.file
            .bytes()
            .get(self.range.clone())
            .and_then(|bytes| bytemuck::try_cast_slice(bytes).ok())
            .unwrap_or_default()
    }
}
