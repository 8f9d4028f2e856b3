//! A growable array of f32 whose first value sits on a 64-byte boundary, the start of a cache
//! line, so that the kernels' 8-value (32-byte) loads from frames and panels never straddle two
//! lines: with a frame or panel a whole number of lines long, every load stays within one.
//! The allocator only promises 16 bytes, and a load split across lines costs about twice one
//! that is not.
//!
//! The values live in an ordinary `Vec<f32>` from an offset chosen after every allocation; when
//! growing moves the buffer, the values are moved back onto a boundary. This module owns no
//! distance code and knows nothing of frames.

/// Bytes of a cache line.
const LINE_BYTES: usize = 64;

/// Values of the array, starting on a cache line.
#[derive(Debug, Default)]
pub(crate) struct CacheAligned {
    /// `start` values of padding, then the array's values.
    buffer: Vec<f32>,
    start: usize,
}

impl CacheAligned {
    /// An array holding a copy of `values`.
    pub(crate) fn from_slice(values: &[f32]) -> Self {
        let mut array = Self::default();
        array.extend_from_slice(values);
        array
    }

    /// An array of `values`, moved along their own buffer onto a line boundary: no second copy
    /// of a large array is made (growing a large buffer by a line remaps it in place).
    pub(crate) fn from_vec(values: Vec<f32>) -> Self {
        let mut array = Self {
            buffer: values,
            start: 0,
        };
        array.make_room(0);
        array
    }

    /// The values.
    pub(crate) fn as_slice(&self) -> &[f32] {
        &self.buffer[self.start..]
    }

    /// The values, to write.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.buffer[self.start..]
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.buffer.len() - self.start
    }

    /// Appends `values`.
    pub(crate) fn extend_from_slice(&mut self, values: &[f32]) {
        self.make_room(values.len());
        self.buffer.extend_from_slice(values);
    }

    /// Grows or shrinks the array to `len` values, new ones set to `value`.
    pub(crate) fn resize(&mut self, len: usize, value: f32) {
        self.make_room(len.saturating_sub(self.len()));
        self.buffer.resize(self.start + len, value);
    }

    /// Makes room for `additional` more values without a further allocation, and puts the
    /// values back on a line boundary if the buffer moved.
    fn make_room(&mut self, additional: usize) {
        let len = self.len();
        // Enough for the worst padding, so that the moves below do not allocate again.
        let needed = len + additional + LINE_BYTES / size_of::<f32>();
        if self.buffer.capacity() >= needed && self.start == self.padding() {
            return;
        }
        self.buffer.reserve(needed.saturating_sub(self.buffer.len()));
        let padding = self.padding();
        if padding != self.start {
            let old_start = self.start;
            self.buffer.resize(padding.max(old_start) + len, 0.0);
            self.buffer.copy_within(old_start..old_start + len, padding);
            self.buffer.truncate(padding + len);
            self.start = padding;
        }
    }

    /// Values of padding that put the first value of the buffer's allocation on a line boundary.
    fn padding(&self) -> usize {
        let address = self.buffer.as_ptr() as usize;
        (LINE_BYTES - address % LINE_BYTES) % LINE_BYTES / size_of::<f32>()
    }
}

impl Clone for CacheAligned {
    /// A copy on a line boundary of its own (a plain clone of the buffer might not be).
    fn clone(&self) -> Self {
        Self::from_slice(self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_a_line(array: &CacheAligned) -> bool {
        (array.as_slice().as_ptr() as usize).is_multiple_of(LINE_BYTES)
    }

    #[test]
    fn values_stay_on_a_line_boundary_as_the_array_grows_shrinks_and_is_copied() {
        let mut array = CacheAligned::default();
        let mut expected = Vec::new();
        for round in 0..200 {
            let more: Vec<f32> = (0..round % 37).map(|k| (round * 100 + k) as f32).collect();
            array.extend_from_slice(&more);
            expected.extend_from_slice(&more);
            if round % 7 == 0 {
                array.resize(expected.len() / 2, 0.0);
                expected.truncate(expected.len() / 2);
            }
            if round % 11 == 0 {
                array.resize(expected.len() + 5, -1.0);
                expected.resize(expected.len() + 5, -1.0);
            }
            assert_eq!(array.as_slice(), expected.as_slice(), "round {round}");
            assert_eq!(array.len(), expected.len());
            assert!(on_a_line(&array), "round {round}");
        }
        let copy = array.clone();
        assert!(on_a_line(&copy) && copy.as_slice() == array.as_slice());
        array.as_mut_slice()[0] = 7.0;
        assert_eq!(array.as_slice()[0], 7.0);
        assert!(on_a_line(&CacheAligned::from_slice(&[1.0, 2.0, 3.0])));
        for len in [0, 1, 17, 1000] {
            let values: Vec<f32> = (0..len).map(|k| k as f32).collect();
            let array = CacheAligned::from_vec(values.clone());
            assert!(
                on_a_line(&array) && array.as_slice() == values.as_slice(),
                "{len} values"
            );
        }
    }
}
