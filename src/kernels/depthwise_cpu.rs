//! Depthwise 2-D convolution on the CPU: forward, input gradient and weight gradient, one plane
//! (image, channel) per task, with the inner loops over contiguous output rows so that they
//! vectorise. Burn's generic backward runs a depthwise weight gradient as one convolution per
//! channel and its input gradient as a general transposed convolution; these loops do neither.

use multiversion::multiversion;
use rayon::prelude::*;

/// Square kernel, symmetric padding: the depthwise convolutions of the search space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// Kernel side k.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
    /// Dilation.
    pub dilation: usize,
    /// ReLU applied to the input as it is loaded (the op's ReLU → depthwise conv in one kernel):
    /// the forward pass and the weight gradient read max(x, 0), the input gradient is gated by
    /// x > 0; NaN passes through, as in Burn's ReLU.
    pub relu: bool,
}

impl Geometry {
    /// Output side for an input side `n`.
    pub fn output(&self, n: usize) -> usize {
        let span = self.dilation * (self.kernel - 1) + 1;
        (n + 2 * self.padding).saturating_sub(span) / self.stride + 1
    }

    /// Input offset of tap `t` (row or column) relative to `output · stride`.
    fn offset(&self, t: usize) -> isize {
        (t * self.dilation) as isize - self.padding as isize
    }
}

/// Sizes of one call: batch, channels, input and output sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planes {
    /// Images.
    pub batch: usize,
    /// Channels (= groups).
    pub channels: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
}

impl Planes {
    /// The sizes for `[batch, channels, h, w]` inputs under `g`.
    pub fn new([batch, channels, h, w]: [usize; 4], g: &Geometry) -> Self {
        Self {
            batch,
            channels,
            input: [h, w],
            output: [g.output(h), g.output(w)],
        }
    }

    fn input_len(&self) -> usize {
        self.input[0] * self.input[1]
    }

    fn output_len(&self) -> usize {
        self.output[0] * self.output[1]
    }
}

/// The outputs o in `0..n_out` whose input `o · stride + offset` lies in `0..n_in`.
fn valid(offset: isize, stride: usize, n_in: usize, n_out: usize) -> std::ops::Range<usize> {
    let s = stride as isize;
    let first = if offset < 0 { (-offset + s - 1) / s } else { 0 };
    let last = (n_in as isize - 1 - offset).div_euclid(s) + 1; // one past the last
    let end = last.clamp(0, n_out as isize) as usize;
    (first as usize).min(end)..end
}

/// Calls `f(tap, out_row, in_row, cols, col_offset)` for every tap-aligned pair of rows of one
/// plane: output row `out_row`, columns `cols`, reads input row `in_row` at `col · stride + col_offset`.
#[inline(always)]
fn for_each_tap(
    g: &Geometry,
    p: &Planes,
    mut f: impl FnMut(usize, usize, usize, std::ops::Range<usize>, isize),
) {
    let [h, w] = p.input;
    let [oh, ow] = p.output;
    for kh in 0..g.kernel {
        let dy = g.offset(kh);
        let rows = valid(dy, g.stride, h, oh);
        for kw in 0..g.kernel {
            let dx = g.offset(kw);
            let cols = valid(dx, g.stride, w, ow);
            if cols.is_empty() {
                continue;
            }
            for o in rows.clone() {
                let i = (o * g.stride) as isize + dy;
                f(kh * g.kernel + kw, o, i as usize, cols.clone(), dx);
            }
        }
    }
}

/// One plane of the forward pass: `y` = Σ_taps k · x. The plane is zeroed by a write first: a
/// fresh (calloc'd) page then faults once, where a first read-modify-write faults twice (the
/// shared zero page, then its copy).
#[multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
fn forward_plane(x: &[f32], k: &[f32], y: &mut [f32], g: &Geometry, p: &Planes) {
    y.fill(0.0);
    let (w, ow, s) = (p.input[1], p.output[1], g.stride);
    for_each_tap(g, p, |tap, o, i, cols, dx| {
        let kv = k[tap];
        let (yr, xr) = (&mut y[o * ow..(o + 1) * ow], &x[i * w..(i + 1) * w]);
        let start = ((cols.start * s) as isize + dx) as usize;
        if s == 1 {
            let xs = &xr[start..start + cols.len()];
            for (yv, xv) in yr[cols].iter_mut().zip(xs) {
                *yv += kv * xv;
            }
        } else {
            for (j, yv) in yr[cols].iter_mut().enumerate() {
                *yv += kv * xr[start + j * s];
            }
        }
    });
}

/// One plane of the input gradient: `dx` = Σ_taps k · dy, scattered back (zeroed by a write
/// first, as [`forward_plane`]).
#[multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
fn input_grad_plane(dy: &[f32], k: &[f32], dx: &mut [f32], g: &Geometry, p: &Planes) {
    dx.fill(0.0);
    let (w, ow, s) = (p.input[1], p.output[1], g.stride);
    for_each_tap(g, p, |tap, o, i, cols, off| {
        let kv = k[tap];
        let (gr, xr) = (&dy[o * ow..(o + 1) * ow], &mut dx[i * w..(i + 1) * w]);
        let start = ((cols.start * s) as isize + off) as usize;
        if s == 1 {
            let xs = &mut xr[start..start + cols.len()];
            for (xv, gv) in xs.iter_mut().zip(&gr[cols]) {
                *xv += kv * gv;
            }
        } else {
            for (j, gv) in gr[cols].iter().enumerate() {
                xr[start + j * s] += kv * gv;
            }
        }
    });
}

/// One plane's products for the weight gradient: `acc[tap · W' + col]` += dy · x, summed over
/// rows; the caller reduces over columns once at the end (vertical adds vectorise, row-wise
/// reductions would not).
#[multiversion(targets("x86_64+avx512f+avx2+fma", "x86_64+avx2+fma", "aarch64+neon"))]
fn weight_grad_plane(x: &[f32], dy: &[f32], acc: &mut [f32], g: &Geometry, p: &Planes) {
    let (w, ow, s) = (p.input[1], p.output[1], g.stride);
    for_each_tap(g, p, |tap, o, i, cols, off| {
        let (gr, xr) = (&dy[o * ow..(o + 1) * ow], &x[i * w..(i + 1) * w]);
        let start = ((cols.start * s) as isize + off) as usize;
        let a = &mut acc[tap * ow..(tap + 1) * ow];
        if s == 1 {
            let xs = &xr[start..start + cols.len()];
            for ((av, gv), xv) in a[cols.clone()].iter_mut().zip(&gr[cols]).zip(xs) {
                *av += gv * xv;
            }
        } else {
            for (j, (av, gv)) in a[cols.clone()].iter_mut().zip(&gr[cols]).enumerate() {
                *av += gv * xr[start + j * s];
            }
        }
    });
}

/// Whether ReLU lets `v` through: v > 0, or NaN (which Burn's ReLU passes on).
fn passes_relu(v: f32) -> bool {
    v > 0.0 || v.is_nan()
}

/// `x` as the kernel reads it: through ReLU where `g.relu`.
fn loaded<'a>(x: &'a [f32], g: &Geometry) -> std::borrow::Cow<'a, [f32]> {
    if g.relu {
        x.iter()
            .map(|&v| if passes_relu(v) { v } else { 0.0 })
            .collect::<Vec<_>>()
            .into()
    } else {
        x.into()
    }
}

/// The input gradient through a fused ReLU: `dx` kept where `x` passes ReLU, else 0.
pub fn relu_gate(dx: &mut [f32], x: &[f32]) {
    dx.par_iter_mut().zip(x).for_each(|(d, &v)| {
        if !passes_relu(v) {
            *d = 0.0;
        }
    });
}

/// y = depthwise(x, weight) (of ReLU(x) where `g.relu`): `x` `[B, C, H, W]`, `weight`
/// `[C, 1, k, k]`, returns `[B, C, H', W']`.
pub fn forward(x: &[f32], weight: &[f32], g: &Geometry, p: &Planes) -> Vec<f32> {
    let x = loaded(x, g);
    let (inp, out, taps) = (p.input_len(), p.output_len(), g.kernel * g.kernel);
    let mut y = vec![0.0f32; p.batch * p.channels * out];
    y.par_chunks_mut(out).enumerate().for_each(|(plane, y)| {
        let k = &weight[(plane % p.channels) * taps..][..taps];
        forward_plane(&x[plane * inp..][..inp], k, y, g, p);
    });
    y
}

/// dL/dx from dL/dy (`[B, C, H', W']`) and the weight; returns `[B, C, H, W]`.
pub fn input_grad(dy: &[f32], weight: &[f32], g: &Geometry, p: &Planes) -> Vec<f32> {
    let (inp, out, taps) = (p.input_len(), p.output_len(), g.kernel * g.kernel);
    let mut dx = vec![0.0f32; p.batch * p.channels * inp];
    dx.par_chunks_mut(inp).enumerate().for_each(|(plane, dx)| {
        let k = &weight[(plane % p.channels) * taps..][..taps];
        input_grad_plane(&dy[plane * out..][..out], k, dx, g, p);
    });
    dx
}

/// dL/dweight from the input (through ReLU where `g.relu`) and dL/dy; returns `[C, 1, k, k]`.
pub fn weight_grad(x: &[f32], dy: &[f32], g: &Geometry, p: &Planes) -> Vec<f32> {
    let x = loaded(x, g);
    let (inp, out, taps) = (p.input_len(), p.output_len(), g.kernel * g.kernel);
    let mut dw = vec![0.0f32; p.channels * taps];
    let ow = p.output[1];
    dw.par_chunks_mut(taps).enumerate().for_each(|(c, dk)| {
        let mut acc = vec![0.0f32; taps * ow];
        for b in 0..p.batch {
            let plane = b * p.channels + c;
            let (x, dy) = (&x[plane * inp..][..inp], &dy[plane * out..][..out]);
            weight_grad_plane(x, dy, &mut acc, g, p);
        }
        for (d, row) in dk.iter_mut().zip(acc.chunks_exact(ow)) {
            *d = row.iter().sum();
        }
    });
    dw
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook loop, for comparison.
    fn naive(x: &[f32], k: &[f32], g: &Geometry, p: &Planes) -> Vec<f32> {
        let ([h, w], [oh, ow], kk) = (p.input, p.output, g.kernel);
        let mut y = vec![0.0; p.batch * p.channels * oh * ow];
        for plane in 0..p.batch * p.channels {
            let c = plane % p.channels;
            for (o, v) in y[plane * oh * ow..][..oh * ow].iter_mut().enumerate() {
                let (r, col) = (o / ow, o % ow);
                for t in 0..kk * kk {
                    let i = (r * g.stride) as isize + g.offset(t / kk);
                    let j = (col * g.stride) as isize + g.offset(t % kk);
                    if (0..h as isize).contains(&i) && (0..w as isize).contains(&j) {
                        *v += k[c * kk * kk + t] * x[plane * h * w + i as usize * w + j as usize];
                    }
                }
            }
        }
        y
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn forward_matches_the_textbook_loop_and_adjoints_hold() {
        for (kernel, stride, padding, dilation) in
            [(3, 1, 1, 1), (5, 2, 2, 1), (3, 2, 2, 2), (5, 1, 4, 2)]
        {
            let g = Geometry {
                kernel,
                stride,
                padding,
                dilation,
                relu: false,
            };
            let p = Planes::new([2, 3, 7, 6], &g);
            let x = values(2 * 3 * 42, 1);
            let k = values(3 * kernel * kernel, 2);
            let y = forward(&x, &k, &g, &p);
            let reference = naive(&x, &k, &g, &p);
            for (a, b) in y.iter().zip(&reference) {
                assert!((a - b).abs() < 1e-5, "{g:?}: {a} vs {b}");
            }
            // ⟨dy, J dx⟩ = ⟨Jᵀ dy, dx⟩ for both gradients.
            let dy = values(y.len(), 3);
            let dot =
                |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| (a * b) as f64).sum::<f64>();
            let lhs = dot(&dy, &y);
            let via_x = dot(&input_grad(&dy, &k, &g, &p), &x);
            let via_k = dot(&weight_grad(&x, &dy, &g, &p), &k);
            assert!(
                (lhs - via_x).abs() < 1e-4 * lhs.abs().max(1.0),
                "{g:?}: {lhs} vs {via_x}"
            );
            assert!(
                (lhs - via_k).abs() < 1e-4 * lhs.abs().max(1.0),
                "{g:?}: {lhs} vs {via_k}"
            );
        }
    }
}
