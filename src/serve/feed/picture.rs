//! `GET /picture`: the newest picture of a stream as an 8-bit greyscale BMP, which every browser
//! shows without help, for the live page's thumbnail.

use crate::latest_pictures::Picture;

/// Bytes of the file header and the BITMAPINFOHEADER before the palette.
const HEADERS: usize = 14 + 40;
/// A grey ramp of 256 colours, four bytes each.
const PALETTE: usize = 256 * 4;

/// `picture` as a bottom-up 8-bit BMP with a grey palette.
pub(super) fn bmp(picture: &Picture) -> Vec<u8> {
    let (width, height) = (picture.width as usize, picture.height as usize);
    // Rows are padded to whole 32-bit words.
    let stride = width.div_ceil(4) * 4;
    let offset = HEADERS + PALETTE;
    let size = offset + stride * height;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"BM");
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(offset as u32).to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&(width as i32).to_le_bytes());
    out.extend_from_slice(&(height as i32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&((stride * height) as u32).to_le_bytes());
    out.extend_from_slice(&2835u32.to_le_bytes());
    out.extend_from_slice(&2835u32.to_le_bytes());
    out.extend_from_slice(&256u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    for level in 0..=255u8 {
        out.extend_from_slice(&[level, level, level, 0]);
    }
    for row in picture.grey.chunks_exact(width.max(1)).rev() {
        out.extend_from_slice(row);
        out.resize(out.len() + stride - width, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bmp_holds_its_rows_bottom_up_and_padded() {
        let picture = Picture {
            live_ns: 0,
            width: 3,
            height: 2,
            grey: vec![1, 2, 3, 4, 5, 6],
        };
        let file = bmp(&picture);
        assert_eq!(&file[..2], b"BM");
        assert_eq!(
            u32::from_le_bytes([file[2], file[3], file[4], file[5]]) as usize,
            file.len()
        );
        let pixels = &file[HEADERS + PALETTE..];
        assert_eq!(pixels, &[4, 5, 6, 0, 1, 2, 3, 0]);
    }
}
