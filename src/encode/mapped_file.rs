//! A file mapped into memory, read-only: the reference-file reader checks its bytes once, and
//! the aligner then reads the features (f32, f16 or int8) from the mapping in place.
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

use crate::features::{EncodedRows, SharedValues};

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

/// How the values at a range of a mapped file are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MappedEncoding {
    /// Little-endian f32 values.
    F32,
    /// Little-endian IEEE half-precision values.
    F16,
    /// `frames` little-endian f32 scales, then one signed byte per value.
    Int8 {
        /// Frames, and so scales.
        frames: usize,
    },
}

/// Feature values at a byte range of a mapped file, read in place.
#[derive(Debug)]
pub(crate) struct MappedValues {
    file: Arc<MappedFile>,
    range: Range<usize>,
    encoding: MappedEncoding,
}

impl MappedValues {
    /// The values at `range` of `file`, or `None` where they cannot be read in place: the range
    /// is out of the file or not aligned for its values, or this machine is big-endian.
    pub(crate) fn new(file: Arc<MappedFile>, range: Range<usize>, encoding: MappedEncoding) -> Option<Self> {
        if cfg!(target_endian = "big") {
            return None;
        }
        let bytes = file.bytes().get(range.clone())?;
        rows_of(bytes, encoding)?;
        Some(Self { file, range, encoding })
    }
}

/// The values in `bytes`, if they are aligned for their encoding and long enough for its scales.
fn rows_of(bytes: &[u8], encoding: MappedEncoding) -> Option<EncodedRows<'_>> {
    Some(match encoding {
        MappedEncoding::F32 => EncodedRows::F32(bytemuck::try_cast_slice(bytes).ok()?),
        MappedEncoding::F16 => EncodedRows::F16(bytemuck::try_cast_slice(bytes).ok()?),
        MappedEncoding::Int8 { frames } => {
            let (scales, values) = bytes.split_at_checked(frames.checked_mul(4)?)?;
            EncodedRows::Int8 {
                scales: bytemuck::try_cast_slice(scales).ok()?,
                values: bytemuck::cast_slice(values),
            }
        }
    })
}

impl SharedValues for MappedValues {
    fn rows(&self) -> EncodedRows<'_> {
        // `new` checked that the range is in the file, aligned and long enough.
        self.file
            .bytes()
            .get(self.range.clone())
            .and_then(|bytes| rows_of(bytes, self.encoding))
            .unwrap_or(EncodedRows::F32(&[]))
    }
}
