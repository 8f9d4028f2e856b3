//! Where a face (or mouth) detector found a face: a box in fractions of the picture, and the
//! score from which the box is believed.

/// A face box counts from this score of the face model up.
pub const FACE_MIN_SCORE: f32 = 0.5;

/// A part of the picture, in fractions of its width and height from the top left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormalisedBox {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl NormalisedBox {
    /// The box `[x, y, width, height]` a model gives, kept within the picture (NaN counts as 0).
    pub fn within_picture(x: f32, y: f32, width: f32, height: f32) -> Self {
        let unit = |v: f32| if v.is_nan() { 0.0 } else { f64::from(v).clamp(0.0, 1.0) };
        let (x, y) = (unit(x), unit(y));
        Self {
            x,
            y,
            width: unit(width).min(1.0 - x),
            height: unit(height).min(1.0 - y),
        }
    }

    /// `[x, y, width, height]`, as events carry it.
    pub fn to_array(self) -> [f64; 4] {
        [self.x, self.y, self.width, self.height]
    }
}
