//! The precision an aligner's band distances are computed in.

use std::fmt;
use std::str::FromStr;

use super::{AlignError, Distance};

/// Frames of at least this many values are aligned in int8 under [`Precision::Auto`]. Below
/// it the distances are a small part of a step, and quantising the frames costs more than it
/// saves (`cargo bench --bench aligner` compares the two).
pub const INT8_FROM_DIM: usize = 64;

/// What the values of live and reference frames are held in while the online aligner measures
/// distances across its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Int8 for cosine distances over frames of at least [`INT8_FROM_DIM`] values, where it is
    /// faster (the evaluation's cases score the same in both), f32 otherwise.
    #[default]
    Auto,
    /// The features as they are (f32; a reference file's f16 or int8 widened as it is read).
    F32,
    /// Every frame quantised to 8-bit integers with a scale of its own (cosine distance only):
    /// a quarter of the bytes to read per distance, which at d = 128 makes a step 1.3–2 times
    /// as fast (a 500-frame band of 128 values no longer fits the L1 cache, and f32 distances
    /// then wait on the L2 cache), for distances within about `√d / 80` of the exact ones. The
    /// reference's integers are kept beside its values (a byte a value).
    Int8,
}

impl Precision {
    /// The precision chosen for frames of `dim` values compared by `distance`: never `Auto`.
    pub fn resolve(self, dim: usize, distance: Distance) -> Precision {
        match self {
            Precision::Auto if distance == Distance::Cosine && dim >= INT8_FROM_DIM => Precision::Int8,
            Precision::Auto => Precision::F32,
            chosen => chosen,
        }
    }

    /// Refuses int8 with a distance other than cosine (the only one it measures); `name` is
    /// the setting's, for the message.
    pub fn check_distance(self, distance: Distance, name: &'static str) -> Result<(), AlignError> {
        if self == Precision::Int8 && distance != Distance::Cosine {
            return Err(AlignError::BadParameter {
                name,
                expected: "f32 for distances other than cosine (int8 measures cosine only)",
                actual: format!("int8 with {distance:?}"),
            });
        }
        Ok(())
    }

    /// The name [`Precision::from_str`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Auto => "auto",
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
            "auto" => Ok(Precision::Auto),
            "f32" => Ok(Precision::F32),
            "int8" => Ok(Precision::Int8),
            other => Err(format!("precision '{other}': expected auto, f32 or int8")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_chooses_int8_for_wide_cosine_frames_only() {
        assert_eq!(Precision::Auto.resolve(128, Distance::Cosine), Precision::Int8);
        assert_eq!(
            Precision::Auto.resolve(INT8_FROM_DIM - 1, Distance::Cosine),
            Precision::F32
        );
        assert_eq!(Precision::Auto.resolve(128, Distance::Euclidean), Precision::F32);
        assert_eq!(Precision::F32.resolve(128, Distance::Cosine), Precision::F32);
        assert_eq!(Precision::Int8.resolve(12, Distance::Cosine), Precision::Int8);
        for precision in [Precision::Auto, Precision::F32, Precision::Int8] {
            assert_eq!(precision.name().parse(), Ok(precision));
        }
        assert!("f16".parse::<Precision>().is_err());
    }
}
