//! What the two streams take: the whole frame resized to 224x224 (context) and each person
//! crop resized to 128x128 (body), normalised with the EMOTIC training set's statistics.

/// Width and height of an image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageSize {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

impl ImageSize {
    /// A `width` x `height` size.
    #[must_use]
    pub const fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }

    /// Bytes of one interleaved RGB image of this size.
    #[must_use]
    pub const fn rgb_bytes(self) -> usize {
        self.width as usize * self.height as usize * 3
    }

    /// The shape `[height, width, 3]` of an interleaved RGB image (numpy's `HWC`).
    #[must_use]
    pub const fn hwc(self) -> [usize; 3] {
        [self.height as usize, self.width as usize, 3]
    }
}

/// Context stream input size.
pub const CONTEXT_SIZE: ImageSize = ImageSize::new(224, 224);
/// Body stream input size.
pub const BODY_SIZE: ImageSize = ImageSize::new(128, 128);

/// Per-channel mean and standard deviation applied after scaling to [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    /// Channel means (R, G, B).
    pub mean: [f32; 3],
    /// Channel standard deviations (R, G, B).
    pub std: [f32; 3],
}

/// Normalisation of the context stream's input (EMOTIC training-set statistics).
pub const CONTEXT_NORM: Normalization = Normalization {
    mean: [0.469_064_6, 0.440_722_7, 0.405_089_08],
    std: [0.251_422_7, 0.243_128_55, 0.242_669_63],
};
/// Normalisation of the body stream's input.
pub const BODY_NORM: Normalization = Normalization {
    mean: [0.438_328_74, 0.396_434_4, 0.370_621_4],
    std: [0.247_842_76, 0.236_212_25, 0.232_365_3],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_bytes_and_shapes() {
        assert_eq!(CONTEXT_SIZE.rgb_bytes(), 224 * 224 * 3);
        assert_eq!(BODY_SIZE.hwc(), [128, 128, 3]);
        assert_eq!(ImageSize::new(4, 2).hwc(), [2, 4, 3]);
    }
}
