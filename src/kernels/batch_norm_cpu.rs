//! Training-mode batch normalisation on the CPU in one pass per channel each way: the batch
//! moments, the normalisation with scale and shift, and the closed-form backward pass
//! (Burn's generic batch norm is a chain of reductions and broadcasts, each its own pass).

use rayon::prelude::*;

/// Per-channel mean and biased variance of `x` `[B, C, H·W]`, accumulated in f64.
pub fn moments(x: &[f32], batch: usize, channels: usize, plane: usize) -> (Vec<f32>, Vec<f32>) {
    let n = (batch * plane).max(1) as f64;
    let per_channel: Vec<(f32, f32)> = (0..channels)
        .into_par_iter()
        .map(|c| {
            let rows = (0..batch).map(|b| &x[(b * channels + c) * plane..][..plane]);
            let sum: f64 = rows.clone().flatten().map(|&v| v as f64).sum();
            let mean = sum / n;
            let sq: f64 = rows.flatten().map(|&v| (v as f64 - mean).powi(2)).sum();
            (mean as f32, (sq / n) as f32)
        })
        .collect();
    per_channel.into_iter().unzip()
}

/// The per-channel constants of one normalisation.
#[derive(Clone, Debug)]
pub struct Affine {
    /// Batch mean per channel.
    pub mean: Vec<f32>,
    /// 1 / sqrt(var + ε) per channel.
    pub inv_std: Vec<f32>,
    /// Scale γ per channel.
    pub gamma: Vec<f32>,
    /// Shift β per channel.
    pub beta: Vec<f32>,
}

/// y = (x − mean) · inv_std · γ + β, `[B, C, H·W]`.
pub fn normalise(x: &[f32], a: &Affine, plane: usize) -> Vec<f32> {
    let channels = a.mean.len();
    let mut y = vec![0.0f32; x.len()];
    y.par_chunks_mut(plane).enumerate().for_each(|(p, y)| {
        let c = p % channels;
        let scale = a.inv_std[c] * a.gamma[c];
        let shift = a.beta[c] - a.mean[c] * scale;
        for (y, &x) in y.iter_mut().zip(&x[p * plane..][..plane]) {
            *y = x * scale + shift;
        }
    });
    y
}

/// (dx, dγ, dβ) from dy, for the batch statistics of `x` (the full gradient, through the mean
/// and variance too).
pub fn backward(x: &[f32], dy: &[f32], a: &Affine, batch: usize, plane: usize) -> [Vec<f32>; 3] {
    let channels = a.mean.len();
    let n = (batch * plane).max(1) as f32;
    let sums: Vec<(f32, f32)> = (0..channels)
        .into_par_iter()
        .map(|c| {
            let (mut sum_dy, mut sum_dy_xhat) = (0.0f64, 0.0f64);
            for b in 0..batch {
                let at = (b * channels + c) * plane;
                for (&g, &x) in dy[at..][..plane].iter().zip(&x[at..][..plane]) {
                    sum_dy += g as f64;
                    sum_dy_xhat += (g * (x - a.mean[c]) * a.inv_std[c]) as f64;
                }
            }
            (sum_dy as f32, sum_dy_xhat as f32)
        })
        .collect();
    let mut dx = vec![0.0f32; x.len()];
    dx.par_chunks_mut(plane).enumerate().for_each(|(p, dx)| {
        let c = p % channels;
        let (sum_dy, sum_dy_xhat) = sums[c];
        let k = a.gamma[c] * a.inv_std[c];
        let (mean_dy, mean_dy_xhat) = (sum_dy / n, sum_dy_xhat / n);
        let rows = dy[p * plane..][..plane]
            .iter()
            .zip(&x[p * plane..][..plane]);
        for (dx, (&g, &x)) in dx.iter_mut().zip(rows) {
            let xhat = (x - a.mean[c]) * a.inv_std[c];
            *dx = k * (g - mean_dy - xhat * mean_dy_xhat);
        }
    });
    let (dbeta, dgamma): (Vec<f32>, Vec<f32>) = sums.into_iter().unzip();
    [dx, dgamma, dbeta]
}
