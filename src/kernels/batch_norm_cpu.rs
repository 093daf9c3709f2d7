//! Training-mode batch normalisation on Burn's CPU backend, one pass per channel each way: the
//! batch moments, the normalisation with scale and shift, and the closed-form backward pass.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

use super::batch_norm::BatchNormOps;
use super::flex_data::{contiguous, dims4, f32s, flex_tensor};

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

/// Per channel (Σ dy, Σ dy·x̂) for the batch statistics of `x`, accumulated in f64.
pub fn grad_sums(x: &[f32], dy: &[f32], a: &Affine, batch: usize, plane: usize) -> Vec<(f32, f32)> {
    let channels = a.mean.len();
    (0..channels)
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
        .collect()
}

/// dx from dy and the sums of [`grad_sums`]: the full gradient, through the mean and variance.
pub fn input_grad(
    x: &[f32],
    dy: &[f32],
    a: &Affine,
    sums: &[(f32, f32)],
    plane: usize,
) -> Vec<f32> {
    let channels = a.mean.len();
    let n = (x.len() / channels.max(1)).max(1) as f32;
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
    dx
}

/// The normalisation constants from `stats` (`[2, C]`: mean and biased variance).
fn affine(
    stats: &FlexTensor,
    gamma: Option<FlexTensor>,
    beta: Option<FlexTensor>,
    epsilon: f32,
) -> Affine {
    let s = f32s(stats);
    let channels = s.len() / 2;
    let values = |t: Option<FlexTensor>| t.map(|t| f32s(&contiguous(t)).to_vec());
    Affine {
        mean: s[..channels].to_vec(),
        inv_std: s[channels..2 * channels]
            .iter()
            .map(|v| 1.0 / (v + epsilon).sqrt())
            .collect(),
        gamma: values(gamma).unwrap_or_else(|| vec![1.0; channels]),
        beta: values(beta).unwrap_or_else(|| vec![0.0; channels]),
    }
}

impl BatchNormOps for Flex {
    fn batch_norm_forward(
        x: FlexTensor,
        running_mean: FlexTensor,
        running_var: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        momentum: f32,
        epsilon: f32,
        affine: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
        let (stats, mean, var) = statistics(x.clone(), running_mean, running_var, momentum);
        let y = normalise_op(x, stats.clone(), gamma, beta, epsilon, affine);
        (y, stats, mean, var)
    }

    fn batch_norm_backward(
        x: FlexTensor,
        dy: FlexTensor,
        stats: FlexTensor,
        gamma: FlexTensor,
        epsilon: f32,
        affine: bool,
    ) -> (FlexTensor, FlexTensor) {
        let sums = grad_sums_op(x.clone(), dy.clone(), stats.clone(), epsilon);
        let dx = input_grad_op(x, dy, stats, sums.clone(), gamma, epsilon, affine);
        (dx, sums)
    }
}

/// `[2, C]` batch mean and biased variance of `x` and the running statistics moved by
/// `momentum` (unbiased variance, as PyTorch).
fn statistics(
    x: FlexTensor,
    running_mean: FlexTensor,
    running_var: FlexTensor,
    momentum: f32,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let x = contiguous(x);
    let [b, c, h, w] = dims4(&x);
    let (mean, var) = moments(f32s(&x), b, c, h * w);
    let n = b * h * w;
    let unbiased = if n > 1 {
        n as f32 / (n - 1) as f32
    } else {
        1.0
    };
    let moved = |running: FlexTensor, batch: &[f32], k: f32| -> Vec<f32> {
        let running = contiguous(running);
        let old = f32s(&running);
        old.iter()
            .zip(batch)
            .map(|(&r, &v)| (1.0 - momentum) * r + momentum * k * v)
            .collect()
    };
    let new_mean = moved(running_mean, &mean, 1.0);
    let new_var = moved(running_var, &var, unbiased);
    (
        flex_tensor([mean, var].concat(), &[2, c]),
        flex_tensor(new_mean, &[c]),
        flex_tensor(new_var, &[c]),
    )
}

/// The normalised `x` with scale and shift (none without `is_affine`).
fn normalise_op(
    x: FlexTensor,
    stats: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    epsilon: f32,
    is_affine: bool,
) -> FlexTensor {
    let (gamma, beta) = (is_affine.then_some(gamma), is_affine.then_some(beta));
    let a = affine(&contiguous(stats), gamma, beta, epsilon);
    let x = contiguous(x);
    let [b, c, h, w] = dims4(&x);
    flex_tensor(normalise(f32s(&x), &a, h * w), &[b, c, h, w])
}

/// `[2, C]`: Σdy and Σdy·x̂ per channel.
fn grad_sums_op(x: FlexTensor, dy: FlexTensor, stats: FlexTensor, epsilon: f32) -> FlexTensor {
    let a = affine(&contiguous(stats), None, None, epsilon);
    let (x, dy) = (contiguous(x), contiguous(dy));
    let [b, c, h, w] = dims4(&x);
    let sums = grad_sums(f32s(&x), f32s(&dy), &a, b, h * w);
    let (dbeta, dgamma): (Vec<f32>, Vec<f32>) = sums.into_iter().unzip();
    flex_tensor([dbeta, dgamma].concat(), &[2, c])
}

/// The input gradient from dy and the sums of [`grad_sums_op`].
fn input_grad_op(
    x: FlexTensor,
    dy: FlexTensor,
    stats: FlexTensor,
    sums: FlexTensor,
    gamma: FlexTensor,
    epsilon: f32,
    is_affine: bool,
) -> FlexTensor {
    let a = affine(
        &contiguous(stats),
        is_affine.then_some(gamma),
        None,
        epsilon,
    );
    let (x, dy, sums) = (contiguous(x), contiguous(dy), contiguous(sums));
    let [b, c, h, w] = dims4(&x);
    let s = f32s(&sums);
    let pairs: Vec<(f32, f32)> = (0..c).map(|i| (s[i], s[c + i])).collect();
    flex_tensor(
        input_grad(f32s(&x), f32s(&dy), &a, &pairs, h * w),
        &[b, c, h, w],
    )
}
