//! ImageNet-style preprocessing on decoded images: random-resized crop and resize + centre crop
//! (bilinear), and colour jitter (brightness, contrast, saturation, hue).

use rand::RngExt;
use rand::rngs::StdRng;

/// A source rectangle: top, left, height, width (pixels, may be fractional).
pub type Region = (f64, f64, f64, f64);

/// torchvision's RandomResizedCrop region: area 8–100 %, aspect ratio 3/4–4/3 (log-uniform),
/// 10 tries, then the whole image clamped to that aspect range.
pub fn random_resized_region(height: usize, width: usize, rng: &mut StdRng) -> Region {
    let (h, w) = (height as f64, width as f64);
    let (lo, hi) = ((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
    for _ in 0..10 {
        let area = h * w * rng.random_range(0.08..1.0);
        let ratio = rng.random_range(lo..hi).exp();
        let cw = (area * ratio).sqrt().round();
        let ch = (area / ratio).sqrt().round();
        if cw >= 1.0 && ch >= 1.0 && cw <= w && ch <= h {
            let top = rng.random_range(0..=(h - ch) as usize) as f64;
            let left = rng.random_range(0..=(w - cw) as usize) as f64;
            return (top, left, ch, cw);
        }
    }
    let ratio = w / h;
    let (ch, cw) = if ratio < 3.0 / 4.0 {
        (w * 4.0 / 3.0, w)
    } else if ratio > 4.0 / 3.0 {
        (h, h * 4.0 / 3.0)
    } else {
        (h, w)
    };
    ((h - ch) / 2.0, (w - cw) / 2.0, ch, cw)
}

/// The region that "resize the short side to `resize`, centre-crop `size`" keeps.
pub fn centre_region(height: usize, width: usize, resize: usize, size: usize) -> Region {
    let scale = height.min(width) as f64 / resize as f64;
    let side = (size as f64 * scale).min(height.min(width) as f64);
    (
        (height as f64 - side) / 2.0,
        (width as f64 - side) / 2.0,
        side,
        side,
    )
}

/// Bilinear resampling of `region` of a `[C, H, W]` image to `[C, size, size]` values in [0, 1].
pub fn resample(
    image: &[u8],
    (channels, height, width): (usize, usize, usize),
    (top, left, rh, rw): Region,
    size: usize,
    flip: bool,
) -> Vec<f32> {
    let mut out = vec![0.0f32; channels * size * size];
    let pixel = |c: usize, y: usize, x: usize| image[(c * height + y) * width + x] as f32 / 255.0;
    for y in 0..size {
        // Pixel centres, as align_corners = false.
        let sy = (top + (y as f64 + 0.5) * rh / size as f64 - 0.5).clamp(0.0, (height - 1) as f64);
        let (y0, fy) = (sy.floor() as usize, (sy - sy.floor()) as f32);
        let y1 = (y0 + 1).min(height - 1);
        for x in 0..size {
            let xd = if flip { size - 1 - x } else { x };
            let sx =
                (left + (xd as f64 + 0.5) * rw / size as f64 - 0.5).clamp(0.0, (width - 1) as f64);
            let (x0, fx) = (sx.floor() as usize, (sx - sx.floor()) as f32);
            let x1 = (x0 + 1).min(width - 1);
            for c in 0..channels {
                let top_row = pixel(c, y0, x0) * (1.0 - fx) + pixel(c, y0, x1) * fx;
                let bottom_row = pixel(c, y1, x0) * (1.0 - fx) + pixel(c, y1, x1) * fx;
                out[(c * size + y) * size + x] = top_row * (1.0 - fy) + bottom_row * fy;
            }
        }
    }
    out
}

fn grey(image: &[f32], plane: usize, i: usize) -> f32 {
    0.299 * image[i] + 0.587 * image[plane + i] + 0.114 * image[2 * plane + i]
}

/// Colour jitter of a `[C, S, S]` image in [0, 1]: brightness, contrast and saturation factors
/// uniform in [1 − s, 1 + s], hue shifted by up to ±s/2 of a turn (a rotation of the YIQ
/// chroma plane), applied in that order; grey images get brightness and contrast only.
pub fn colour_jitter(image: &mut [f32], channels: usize, strength: f32, rng: &mut StdRng) {
    if strength <= 0.0 {
        return;
    }
    let plane = image.len() / channels;
    let mut factor = || rng.random_range((1.0 - strength).max(0.0)..1.0 + strength);
    let (brightness, contrast, saturation) = (factor(), factor(), factor());
    let hue = rng.random_range(-strength / 2.0..strength / 2.0);
    image
        .iter_mut()
        .for_each(|v| *v = (*v * brightness).clamp(0.0, 1.0));
    let mean = if channels == 3 {
        (0..plane).map(|i| grey(image, plane, i)).sum::<f32>() / plane as f32
    } else {
        image.iter().sum::<f32>() / image.len() as f32
    };
    image
        .iter_mut()
        .for_each(|v| *v = ((*v - mean) * contrast + mean).clamp(0.0, 1.0));
    if channels != 3 {
        return;
    }
    let (sin, cos) = (std::f32::consts::TAU * hue).sin_cos();
    for i in 0..plane {
        let (r, g, b) = (image[i], image[plane + i], image[2 * plane + i]);
        // YIQ: luma plus two chroma axes; saturation scales the chroma, hue rotates it.
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        let ci = (0.596 * r - 0.274 * g - 0.322 * b) * saturation;
        let cq = (0.211 * r - 0.523 * g + 0.312 * b) * saturation;
        let (ci, cq) = (ci * cos - cq * sin, ci * sin + cq * cos);
        image[i] = (y + 0.956 * ci + 0.621 * cq).clamp(0.0, 1.0);
        image[plane + i] = (y - 0.272 * ci - 0.647 * cq).clamp(0.0, 1.0);
        image[2 * plane + i] = (y - 1.106 * ci + 1.703 * cq).clamp(0.0, 1.0);
    }
}
