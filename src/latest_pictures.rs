//! The latest picture of each stream as the engine read it (greyscale, at the size the
//! estimators work at), so that the live page can show where in the picture the sound is made.
//!
//! The graph offers pictures as they pass; one is kept per stream, replaced at most every
//! [`LatestPictures::REFRESH_NS`] of running time, so the hot path takes a short lock twice a
//! second at most. The feed reads the newest one when a page asks. This module only holds
//! pictures; it never changes what the engine does.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// One greyscale picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Running time of the frame.
    pub live_ns: u64,
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// `width · height` bytes of luma, row by row from the top.
    pub grey: Vec<u8>,
}

/// The newest picture of every stream that offered one.
#[derive(Debug, Default)]
pub struct LatestPictures {
    pictures: Mutex<BTreeMap<String, Picture>>,
}

impl LatestPictures {
    /// Running time between two pictures kept for one stream.
    pub const REFRESH_NS: u64 = 500_000_000;

    /// Keeps `grey` as `stream`'s picture at `live_ns` if the one kept is older than
    /// [`Self::REFRESH_NS`] (or from before a jump back in time); a picture whose size does not
    /// match its bytes is ignored.
    pub fn offer(&self, stream: &str, live_ns: u64, width: u32, height: u32, grey: &[u8]) {
        if grey.len() != width as usize * height as usize {
            return;
        }
        let mut pictures = self.pictures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let due = pictures
            .get(stream)
            .is_none_or(|kept| live_ns >= kept.live_ns.saturating_add(Self::REFRESH_NS) || live_ns < kept.live_ns);
        if due {
            pictures.insert(
                stream.to_owned(),
                Picture {
                    live_ns,
                    width,
                    height,
                    grey: grey.to_vec(),
                },
            );
        }
    }

    /// Drops `stream`'s picture.
    pub fn forget(&self, stream: &str) {
        let mut pictures = self.pictures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pictures.remove(stream);
    }

    /// The newest picture of `stream`, or of the first stream by name when none is named.
    pub fn latest(&self, stream: Option<&str>) -> Option<(String, Picture)> {
        let pictures = self.pictures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match stream {
            Some(name) => pictures.get(name).map(|p| (name.to_owned(), p.clone())),
            None => pictures.iter().next().map(|(name, p)| (name.clone(), p.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_picture_per_stream_at_most_twice_a_second() {
        let pictures = LatestPictures::default();
        pictures.offer("cam", 0, 2, 1, &[1, 2]);
        pictures.offer("cam", 100_000_000, 2, 1, &[3, 4]);
        assert_eq!(pictures.latest(Some("cam")).unwrap().1.grey, vec![1, 2]);
        pictures.offer("cam", 600_000_000, 2, 1, &[5, 6]);
        assert_eq!(pictures.latest(None).unwrap().1.grey, vec![5, 6]);
        pictures.offer("cam", 700_000_000, 3, 1, &[5, 6]);
        assert_eq!(pictures.latest(Some("cam")).unwrap().1.live_ns, 600_000_000);
        assert_eq!(pictures.latest(Some("other")), None);
    }
}
