//! Classification of an A/V offset against ITU-R BT.1359.

use serde::{Deserialize, Serialize};

/// Where an A/V offset falls against the ITU-R BT.1359 detectability thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncBand {
    /// Audio at most 45 ms early and at most 125 ms late.
    Undetectable,
    /// Audio at most 90 ms early and at most 185 ms late.
    Acceptable,
    /// Anything further out.
    Unacceptable,
}

impl SyncBand {
    /// Classifies an offset; positive means audio later than video.
    pub fn from_offset_ns(av_offset_ns: i64) -> Self {
        const MS: i64 = 1_000_000;
        if (-45 * MS..=125 * MS).contains(&av_offset_ns) {
            SyncBand::Undetectable
        } else if (-90 * MS..=185 * MS).contains(&av_offset_ns) {
            SyncBand::Acceptable
        } else {
            SyncBand::Unacceptable
        }
    }

    /// The band's name as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncBand::Undetectable => "undetectable",
            SyncBand::Acceptable => "acceptable",
            SyncBand::Unacceptable => "unacceptable",
        }
    }

    /// The band in words for people who do not know BT.1359: "undetectable" on its own reads
    /// as "nothing was detected".
    pub fn describe(self) -> &'static str {
        match self {
            SyncBand::Undetectable => "too small to notice, by BT.1359",
            SyncBand::Acceptable => "noticeable but acceptable, by BT.1359",
            SyncBand::Unacceptable => "unacceptable, by BT.1359",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SyncBand::{self, *};

    #[test]
    fn band_edges_follow_bt1359() {
        let ms = 1_000_000;
        let cases = [
            (0, Undetectable),
            (-45 * ms, Undetectable),
            (-45 * ms - 1, Acceptable),
            (125 * ms, Undetectable),
            (125 * ms + 1, Acceptable),
            (-90 * ms, Acceptable),
            (-90 * ms - 1, Unacceptable),
            (185 * ms, Acceptable),
            (185 * ms + 1, Unacceptable),
        ];
        for (offset, band) in cases {
            assert_eq!(SyncBand::from_offset_ns(offset), band, "offset {offset} ns");
        }
    }
}
