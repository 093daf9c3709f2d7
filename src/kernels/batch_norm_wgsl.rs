//! Launch code of the batch-norm WGSL kernels (`shaders/batch_norm_*.wgsl`). On GPUs two
//! dispatches each way on a grid of chunks × channels, as [`launch_plan`](super::launch_plan)
//! plans them: partials per chunk, then per chunk the channel's partials merged and the chunk's
//! output written. On software adapters (see [`variant`](super::variant)) the per-channel
//! statistics or gradient sums in one launch (a workgroup per channel), then a per-pixel launch.

use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::tensor::Shape;

use super::batch_norm::BatchNormOps;
use super::launch_plan::{self, LaunchPlan};
use super::variant::{KernelShape, current};
use super::wgsl::{Program, empty_like, launch, plan_grid};

/// `[B, C, H, W]` of a tensor.
fn dims(x: &CubeTensor) -> [usize; 4] {
    let s = x.meta.shape();
    [s[0], s[1], s[2], s[3]]
}

/// (batch, channels, plane) of a `[B, C, H, W]` tensor.
fn extents(x: &CubeTensor) -> [u32; 3] {
    let [b, c, h, w] = dims(x);
    [b as u32, c as u32, (h * w) as u32]
}

/// An uninitialised `[C]` tensor for the channels of `like`.
fn per_channel_values(like: &CubeTensor) -> CubeTensor {
    empty_like(like, Shape::new([dims(like)[1]]))
}

/// Writes `[2, C]` (and `also` more outputs `[C]`) with one workgroup per channel, in one
/// launch (software adapters), as [`launch_plan::batch_norm_per_channel`] plans it.
fn per_channel_once(
    like: &CubeTensor,
    program: Program,
    also: usize,
    mut buffers: Vec<CubeTensor>,
    extra: u32,
) -> (CubeTensor, Vec<CubeTensor>) {
    let [batch, channels, plane] = extents(like);
    let (kernel, inputs) = match program {
        Program::BatchNormStatistics => ("batch_norm_statistics", 1),
        _ => ("batch_norm_grad_sums", 2),
    };
    let plan = launch_plan::batch_norm_per_channel(kernel, dims(like), inputs);
    let out = empty_like(like, Shape::new([2, channels as usize]));
    let more: Vec<_> = (0..also).map(|_| per_channel_values(like)).collect();
    buffers.push(out.clone());
    buffers.extend(more.iter().cloned());
    let handles = buffers.into_iter().map(|t| t.handle).collect();
    let params = [batch, channels, plane, extra];
    launch(like, program, plan_grid(&plan), handles, &params);
    (out, more)
}

/// Writes a tensor shaped like `like` with a per-pixel `program` on a row of workgroups per
/// plane (software adapters; four pixels per thread where 4 divides the plane), as
/// [`launch_plan::batch_norm_per_pixel`] plans it; `extra` after [C, P] in the params, padded
/// to five words, then B.
fn per_pixel(
    like: &CubeTensor,
    program: Program,
    mut buffers: Vec<CubeTensor>,
    extra: &[u32],
) -> CubeTensor {
    let [batch, channels, plane] = extents(like);
    let quads = plane.is_multiple_of(4);
    let elems = if quads { plane / 4 } else { plane };
    let (name, inputs) = match program {
        Program::BatchNormNormalise { .. } => ("batch_norm_normalise", 1),
        _ => ("batch_norm_input_grad", 2),
    };
    let plan = launch_plan::batch_norm_per_pixel(name, dims(like), inputs);
    let out = empty_like(like, like.meta.shape().clone());
    let mut values = vec![channels, elems];
    values.extend_from_slice(extra);
    values.resize(5, 0);
    values.push(batch);
    buffers.push(out.clone());
    let handles = buffers.into_iter().map(|t| t.handle).collect();
    launch(like, program, plan_grid(&plan), handles, &values);
    out
}

/// Launches the GPU shape's two passes planned by `plans` over `like` `[B, C, H, W]`: the
/// partials of `inputs` (`width` values per chunk, `extra` after [B, C, P, L] in the params),
/// then the merge with its `reads` bound after the partials and `outputs` after them (`after`
/// in the params' second row).
fn two_passes(
    like: &CubeTensor,
    plans: &[LaunchPlan; 2],
    programs: [Program; 2],
    (inputs, extra, width): (Vec<CubeTensor>, &[u32], usize),
    (reads, outputs, after): (Vec<CubeTensor>, &[CubeTensor], &[u32]),
) {
    let [batch, channels, plane] = extents(like);
    let (chunk, chunks) = (
        plans[0].serial_loop * plans[0].workgroup,
        plans[0].groups[0],
    );
    let partials = empty_like(like, Shape::new([channels as usize, chunks, width]));
    let mut handles: Vec<_> = inputs.into_iter().map(|t| t.handle).collect();
    handles.push(partials.handle.clone());
    let mut params = vec![batch, channels, plane, chunk as u32];
    params.extend_from_slice(extra);
    launch(like, programs[0], plan_grid(&plans[0]), handles, &params);
    let mut handles = vec![partials.handle];
    handles.extend(reads.into_iter().map(|t| t.handle));
    handles.extend(outputs.iter().map(|t| t.handle.clone()));
    let mut params = vec![batch, channels, plane, chunk as u32];
    params.extend_from_slice(after);
    launch(like, programs[1], plan_grid(&plans[1]), handles, &params);
}

/// Whether this thread's kernels take the software adapters' shape.
fn software() -> bool {
    current() == KernelShape::Software
}

impl BatchNormOps for CubeBackend {
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        momentum: f32,
        epsilon: f32,
        affine: bool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let x = into_contiguous(x);
        let [running_mean, running_var, gamma, beta] =
            [running_mean, running_var, gamma, beta].map(into_contiguous);
        if software() {
            let inputs = vec![x.clone(), running_mean, running_var];
            let program = Program::BatchNormStatistics;
            let (stats, mut running) = per_channel_once(&x, program, 2, inputs, momentum.to_bits());
            let var = running.pop().expect("two running statistics");
            let mean = running.pop().expect("two running statistics");
            let program = Program::BatchNormNormalise {
                quads: extents(&x)[2].is_multiple_of(4),
            };
            let inputs = vec![x.clone(), stats.clone(), gamma, beta];
            let y = per_pixel(&x, program, inputs, &[epsilon.to_bits(), affine as u32]);
            return (y, stats, mean, var);
        }
        let plans = launch_plan::batch_norm_forward(dims(&x));
        let y = empty_like(&x, x.meta.shape().clone());
        let stats = empty_like(&x, Shape::new([2, dims(&x)[1]]));
        let (mean, var) = (per_channel_values(&x), per_channel_values(&x));
        let outputs = [y.clone(), stats.clone(), mean.clone(), var.clone()];
        two_passes(
            &x,
            &plans,
            [Program::BatchNormPartials, Program::BatchNormMergeNormalise],
            (vec![x.clone()], &[], 3),
            (
                vec![x.clone(), running_mean, running_var, gamma, beta],
                &outputs,
                &[momentum.to_bits(), epsilon.to_bits(), affine as u32],
            ),
        );
        (y, stats, mean, var)
    }

    fn batch_norm_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        epsilon: f32,
        affine: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [x, dy, stats, gamma] = [x, dy, stats, gamma].map(into_contiguous);
        if software() {
            let inputs = vec![x.clone(), dy.clone(), stats.clone()];
            let program = Program::BatchNormGradSums;
            let (sums, _) = per_channel_once(&x, program, 0, inputs, epsilon.to_bits());
            let [batch, _, plane] = extents(&x);
            let program = Program::BatchNormInputGrad {
                quads: plane.is_multiple_of(4),
            };
            let inputs = vec![x.clone(), dy, stats, sums.clone(), gamma];
            let extra = [batch * plane, epsilon.to_bits(), affine as u32];
            return (per_pixel(&x, program, inputs, &extra), sums);
        }
        let plans = launch_plan::batch_norm_backward(dims(&x));
        let dx = empty_like(&x, x.meta.shape().clone());
        let sums = empty_like(&x, Shape::new([2, dims(&x)[1]]));
        two_passes(
            &x,
            &plans,
            [
                Program::BatchNormGradPartials,
                Program::BatchNormMergeInputGrad,
            ],
            (
                vec![x.clone(), dy.clone(), stats.clone()],
                &[epsilon.to_bits()],
                2,
            ),
            (
                vec![x.clone(), dy, stats, gamma],
                &[dx.clone(), sums.clone()],
                &[epsilon.to_bits(), affine as u32],
            ),
        );
        (dx, sums)
    }
}
