//! The precision an aligner's band distances are computed in.

use std::fmt;
use std::str::FromStr;

/// What the values of live and reference frames are held in while the online aligner measures
/// distances across its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// The features as they are (f32; a reference file's f16 or int8 widened as it is read).
    #[default]
    F32,
    /// Every frame quantised to 8-bit integers with a scale of its own (cosine distance only):
    /// a quarter of the bytes to read per distance, about twice as fast over wide bands of
    /// many dimensions (a 500-frame band of 128 values no longer fits the L1 cache, and f32
    /// distances then wait on the L2 cache), for distances within about `√d / 80` of the
    /// exact ones. The reference's integers are kept beside its values (a byte per value).
    Int8,
}

impl Precision {
    /// The name [`Precision::from_str`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "f32" => Ok(Precision::F32),
            "int8" => Ok(Precision::Int8),
            other => Err(format!("precision '{other}': expected f32 or int8")),
        }
    }
}
