//! Launch code of the batch-norm WGSL kernels (`shaders/batch_norm_*.wgsl`): one dispatch each
//! for the statistics, the normalisation, the gradient sums and the input gradient.

use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::tensor::Shape;

use super::batch_norm::BatchNormOps;
use super::wgsl::{Program, empty_like, grid, launch, plane_grid};

/// (batch, channels, plane) of a `[B, C, H, W]` tensor.
fn extents(x: &CubeTensor) -> [u32; 3] {
    let s = x.meta.shape();
    [s[0] as u32, s[1] as u32, (s[2] * s[3]) as u32]
}

/// Writes `[rows, C]` with one workgroup per channel.
fn per_channel(
    like: &CubeTensor,
    program: Program,
    rows: usize,
    mut buffers: Vec<CubeTensor>,
    extra: u32,
) -> CubeTensor {
    let [batch, channels, plane] = extents(like);
    let out = empty_like(like, Shape::new([rows, channels as usize]));
    buffers.push(out.clone());
    let handles = buffers.into_iter().map(|t| t.handle).collect();
    let params = [batch, channels, plane, extra];
    launch(like, program, grid(channels), handles, &params);
    out
}

/// Whether the per-pixel kernels take four pixels per thread (4 divides the plane).
fn quads(like: &CubeTensor) -> bool {
    extents(like)[2].is_multiple_of(4)
}

/// Writes a tensor shaped like `like`, one thread per element (four when `quads`), a workgroup
/// row per plane.
fn elementwise(
    like: &CubeTensor,
    program: Program,
    mut buffers: Vec<CubeTensor>,
    extra: &[u32],
) -> CubeTensor {
    let [batch, channels, plane] = extents(like);
    let plane = if quads(like) { plane / 4 } else { plane };
    let out = empty_like(like, like.meta.shape().clone());
    let mut values = vec![channels, plane];
    values.extend_from_slice(extra);
    buffers.push(out.clone());
    let handles = buffers.into_iter().map(|t| t.handle).collect();
    launch(
        like,
        program,
        plane_grid(batch, channels, plane),
        handles,
        &values,
    );
    out
}

impl BatchNormOps for CubeBackend {
    fn batch_norm_statistics(
        x: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        momentum: f32,
    ) -> FloatTensor<Self> {
        let x = into_contiguous(x);
        let inputs = vec![
            x.clone(),
            into_contiguous(running_mean),
            into_contiguous(running_var),
        ];
        per_channel(
            &x,
            Program::BatchNormStatistics,
            4,
            inputs,
            momentum.to_bits(),
        )
    }

    fn batch_norm_normalise(
        x: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f32,
        affine: bool,
    ) -> FloatTensor<Self> {
        let x = into_contiguous(x);
        let inputs = [x.clone(), stats, gamma, beta]
            .map(into_contiguous)
            .to_vec();
        let extra = [epsilon.to_bits(), affine as u32];
        let program = Program::BatchNormNormalise { quads: quads(&x) };
        elementwise(&x, program, inputs, &extra)
    }

    fn batch_norm_grad_sums(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f32,
    ) -> FloatTensor<Self> {
        let x = into_contiguous(x);
        let inputs = [x.clone(), dy, stats].map(into_contiguous).to_vec();
        per_channel(&x, Program::BatchNormGradSums, 2, inputs, epsilon.to_bits())
    }

    fn batch_norm_input_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        sums: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        epsilon: f32,
        affine: bool,
    ) -> FloatTensor<Self> {
        let x = into_contiguous(x);
        let [batch, _, plane] = extents(&x);
        let inputs = [x.clone(), dy, stats, sums, gamma]
            .map(into_contiguous)
            .to_vec();
        let extra = [batch * plane, epsilon.to_bits(), affine as u32];
        let program = Program::BatchNormInputGrad { quads: quads(&x) };
        elementwise(&x, program, inputs, &extra)
    }
}
