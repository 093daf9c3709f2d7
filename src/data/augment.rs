//! Per-image preprocessing: centre padding to a square size (28 → 32), random crop with
//! padding and horizontal flip, per-channel normalisation, cutout; and the ImageNet variants
//! (random-resized crop, resize + centre crop, colour jitter) from `resample`.

use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::resample::{centre_region, colour_jitter, random_resized_region, resample};

/// Per-channel normalisation (pixels scaled to [0, 1] first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Channel means.
    pub mean: Vec<f32>,
    /// Channel standard deviations.
    pub std: Vec<f32>,
}

/// What happens to each image on its way into a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Side of the square network input; smaller images are centred on zero pixels.
    pub size: usize,
    /// Random crop after zero-padding by this many pixels (0: no crop).
    pub crop_padding: usize,
    /// Random horizontal flip with probability ½.
    pub flip: bool,
    /// Cutout: zero one square of this side (after normalisation), centred anywhere, clipped at the border.
    pub cutout: Option<usize>,
    /// Random-resized crop to `size` (ImageNet training) instead of pad-and-crop.
    #[serde(default)]
    pub random_resized_crop: bool,
    /// Resize the short side to this, then centre-crop `size` (ImageNet evaluation).
    #[serde(default)]
    pub resize: Option<usize>,
    /// Colour-jitter strength (0: none).
    #[serde(default)]
    pub colour_jitter: f32,
}

impl Augment {
    /// No augmentation: pad to `size` and normalise (evaluation).
    pub fn plain(size: usize) -> Self {
        Self {
            size,
            crop_padding: 0,
            flip: false,
            cutout: None,
            random_resized_crop: false,
            resize: None,
            colour_jitter: 0.0,
        }
    }

    /// Crop (pad 4) and flip, as in search (docs/method.md §4).
    pub fn train(size: usize, cutout: Option<usize>) -> Self {
        Self {
            size,
            crop_padding: 4,
            flip: true,
            cutout,
            ..Self::plain(size)
        }
    }

    /// ImageNet training: random-resized crop to `size`, flip, colour jitter.
    pub fn imagenet_train(size: usize, colour_jitter: f32) -> Self {
        Self {
            flip: true,
            random_resized_crop: true,
            colour_jitter,
            ..Self::plain(size)
        }
    }

    /// ImageNet evaluation: resize the short side to `resize`, centre-crop `size`.
    pub fn imagenet_eval(resize: usize, size: usize) -> Self {
        Self {
            resize: Some(resize),
            ..Self::plain(size)
        }
    }
}

/// `[C, H, W]` bytes → `[C, size, size]` floats, augmented with `rng`.
pub fn prepare(
    image: &[u8],
    (channels, height, width): (usize, usize, usize),
    augment: &Augment,
    norm: &Normalization,
    rng: &mut StdRng,
) -> Vec<f32> {
    let size = augment.size;
    if augment.random_resized_crop || augment.resize.is_some() {
        let region = match augment.resize {
            Some(resize) if !augment.random_resized_crop => {
                centre_region(height, width, resize, size)
            }
            _ => random_resized_region(height, width, rng),
        };
        let flip = augment.flip && rng.random::<bool>();
        let mut out = resample(image, (channels, height, width), region, size, flip);
        colour_jitter(&mut out, channels, augment.colour_jitter, rng);
        let plane = size * size;
        for (c, values) in out.chunks_mut(plane).enumerate() {
            values
                .iter_mut()
                .for_each(|v| *v = (*v - norm.mean[c]) / norm.std[c]);
        }
        if let Some(side) = augment.cutout {
            let (cy, cx) = (rng.random_range(0..size), rng.random_range(0..size));
            cutout(&mut out, channels, size, side, cy, cx);
        }
        return out;
    }
    let pad = augment.crop_padding;
    // Offsets of the image inside the padded square, then the crop inside that square.
    let (top, left) = (
        (size.saturating_sub(height)) / 2,
        (size.saturating_sub(width)) / 2,
    );
    let (dy, dx) = if pad > 0 {
        (
            rng.random_range(0..=2 * pad) as isize - pad as isize,
            rng.random_range(0..=2 * pad) as isize - pad as isize,
        )
    } else {
        (0, 0)
    };
    let flip = augment.flip && rng.random::<bool>();
    let mut out = vec![0.0f32; channels * size * size];
    for c in 0..channels {
        let (mean, std) = (norm.mean[c], norm.std[c]);
        for y in 0..size {
            for x in 0..size {
                let xs = if flip { size - 1 - x } else { x };
                let sy = y as isize + dy - top as isize;
                let sx = xs as isize + dx - left as isize;
                let inside = sy >= 0 && sx >= 0 && (sy as usize) < height && (sx as usize) < width;
                let pixel = if inside {
                    image[(c * height + sy as usize) * width + sx as usize]
                } else {
                    0
                };
                out[(c * size + y) * size + x] = (pixel as f32 / 255.0 - mean) / std;
            }
        }
    }
    if let Some(side) = augment.cutout {
        cutout(
            &mut out,
            channels,
            size,
            side,
            rng.random_range(0..size),
            rng.random_range(0..size),
        );
    }
    out
}

/// Zeroes the `side`×`side` square centred at (cy, cx) in every channel, clipped at the border.
pub fn cutout(image: &mut [f32], channels: usize, size: usize, side: usize, cy: usize, cx: usize) {
    let half = side / 2;
    let (y0, y1) = (cy.saturating_sub(half), (cy + side - half).min(size));
    let (x0, x1) = (cx.saturating_sub(half), (cx + side - half).min(size));
    for c in 0..channels {
        for y in y0..y1 {
            image[(c * size + y) * size + x0..(c * size + y) * size + x1].fill(0.0);
        }
    }
}
