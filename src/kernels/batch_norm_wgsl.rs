//! Launch code of the batch-norm WGSL kernels (`shaders/batch_norm_*.wgsl`): on GPUs two
//! dispatches each for the statistics and the gradient sums (partials over a grid of chunks ×
//! channels, then merged per channel, as [`launch_plan`](super::launch_plan) plans them), on
//! software adapters one (a workgroup per channel; see [`variant`](super::variant)); one each for
//! the normalisation and the input gradient.

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

/// Writes `[rows, C]` (and `also` more outputs `[C]`) with one workgroup per channel, in one
/// launch (software adapters), as [`launch_plan::batch_norm_per_channel`] plans it.
fn per_channel_once(
    like: &CubeTensor,
    program: Program,
    (rows, also): (usize, usize),
    mut buffers: Vec<CubeTensor>,
    extra: u32,
) -> (CubeTensor, Vec<CubeTensor>) {
    let [batch, channels, plane] = extents(like);
    let (kernel, inputs) = match program {
        Program::BatchNormStatistics => ("batch_norm_statistics", 1),
        _ => ("batch_norm_grad_sums", 2),
    };
    let plan = launch_plan::batch_norm_per_channel(kernel, dims(like), inputs);
    let out = empty_like(like, Shape::new([rows, channels as usize]));
    let more: Vec<_> = (0..also)
        .map(|_| empty_like(like, Shape::new([channels as usize])))
        .collect();
    buffers.push(out.clone());
    buffers.extend(more.iter().cloned());
    let handles = buffers.into_iter().map(|t| t.handle).collect();
    let params = [batch, channels, plane, extra];
    launch(like, program, plan_grid(&plan), handles, &params);
    (out, more)
}

/// Reduces each channel of `like` `[B, C, H, W]` in two passes planned by `plans`: `partials`
/// writes `width` values per chunk of `buffers` (`extra` after the sizes in its params), `merge`
/// merges them per channel (`merge_inputs` bound after the partials, `merge_extra` after
/// [C, K]) into `[rows, C]` and `also` more outputs `[C]`.
#[allow(clippy::too_many_arguments)]
fn per_channel(
    like: &CubeTensor,
    plans: &[LaunchPlan; 2],
    programs: [Program; 2],
    (mut buffers, extra): (Vec<CubeTensor>, &[u32]),
    width: usize,
    (merge_inputs, merge_extra): (Vec<CubeTensor>, &[u32]),
    (rows, also): (usize, usize),
) -> (CubeTensor, Vec<CubeTensor>) {
    let [batch, channels, plane] = extents(like);
    let (chunk, chunks) = (
        plans[0].serial_loop * plans[0].workgroup,
        plans[0].groups[0],
    );
    let partials = empty_like(like, Shape::new([channels as usize, chunks, width]));
    buffers.push(partials.clone());
    let handles = buffers.into_iter().map(|t| t.handle).collect();
    let mut params = vec![batch, channels, plane, chunk as u32];
    params.extend_from_slice(extra);
    launch(like, programs[0], plan_grid(&plans[0]), handles, &params);
    let out = empty_like(like, Shape::new([rows, channels as usize]));
    let more: Vec<_> = (0..also)
        .map(|_| empty_like(like, Shape::new([channels as usize])))
        .collect();
    let mut merge = vec![partials];
    merge.extend(merge_inputs);
    merge.push(out.clone());
    merge.extend(more.iter().cloned());
    let handles = merge.into_iter().map(|t| t.handle).collect();
    let mut params = vec![channels, chunks as u32];
    params.extend_from_slice(merge_extra);
    launch(like, programs[1], plan_grid(&plans[1]), handles, &params);
    (out, more)
}

/// The statistics `[2, C]` and the two running statistics of a merge's outputs.
fn statistics(
    (stats, mut running): (CubeTensor, Vec<CubeTensor>),
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let var = running.pop().expect("two running statistics");
    let mean = running.pop().expect("two running statistics");
    (stats, mean, var)
}

/// Whether the per-pixel kernels take four pixels per thread (4 divides the plane).
fn quads(like: &CubeTensor) -> bool {
    extents(like)[2].is_multiple_of(4)
}

/// Whether the per-pixel kernels run on a flat grid (GPUs) rather than a row per plane.
fn flat() -> bool {
    current() == KernelShape::Gpu
}

/// Writes a tensor shaped like `like` with a per-pixel `program` (one thread per element, four
/// when `quads`) as [`launch_plan::batch_norm_per_pixel`] plans it; `extra` after [C, P] in
/// the params, padded to five words, then B.
fn elementwise(
    like: &CubeTensor,
    program: Program,
    mut buffers: Vec<CubeTensor>,
    extra: &[u32],
) -> CubeTensor {
    let [batch, channels, plane] = extents(like);
    let elems = if quads(like) { plane / 4 } else { plane };
    let (name, inputs) = per_pixel_kernel(program);
    let plan = launch_plan::batch_norm_per_pixel(name, dims(like), inputs, flat());
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

/// The shader a per-pixel program runs, and how many `[B, C, H, W]` tensors it reads.
fn per_pixel_kernel(program: Program) -> (&'static str, usize) {
    match program {
        Program::BatchNormNormalise { .. } => ("batch_norm_normalise", 1),
        _ => ("batch_norm_input_grad", 2),
    }
}

impl BatchNormOps for CubeBackend {
    fn batch_norm_statistics(
        x: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        momentum: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let x = into_contiguous(x);
        let (running_mean, running_var) =
            (into_contiguous(running_mean), into_contiguous(running_var));
        if current() == KernelShape::Software {
            let inputs = vec![x.clone(), running_mean, running_var];
            let program = Program::BatchNormStatistics;
            let out = per_channel_once(&x, program, (2, 2), inputs, momentum.to_bits());
            return statistics(out);
        }
        let [b, c, h, w] = dims(&x);
        let plans = launch_plan::batch_norm_statistics([b, c, h, w]);
        let count = (b * h * w) as u32;
        statistics(per_channel(
            &x,
            &plans,
            [Program::BatchNormPartials, Program::BatchNormMerge],
            (vec![x.clone()], &[]),
            3,
            (
                vec![x.clone(), running_mean, running_var],
                &[count, momentum.to_bits(), (h * w) as u32],
            ),
            (2, 2),
        ))
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
        let program = Program::BatchNormNormalise {
            quads: quads(&x),
            flat: flat(),
        };
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
        if current() == KernelShape::Software {
            let program = Program::BatchNormGradSums;
            return per_channel_once(&x, program, (2, 0), inputs, epsilon.to_bits()).0;
        }
        let [b, c, h, w] = dims(&x);
        let plans = launch_plan::batch_norm_grad_sums([b, c, h, w]);
        per_channel(
            &x,
            &plans,
            [Program::BatchNormGradPartials, Program::BatchNormGradMerge],
            (inputs, &[epsilon.to_bits()]),
            2,
            (Vec::new(), &[]),
            (2, 0),
        )
        .0
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
        let program = Program::BatchNormInputGrad {
            quads: quads(&x),
            flat: flat(),
        };
        elementwise(&x, program, inputs, &extra)
    }
}
