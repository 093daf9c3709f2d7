//! Launch code of the depthwise-convolution WGSL kernels (`shaders/depthwise_*.wgsl`): one
//! dispatch each for the forward pass and the input gradient, two for the weight gradient (per
//! image, then summed over the batch).

use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::cubecl::CubeCount;
use burn::tensor::Shape;

use super::column_sums_wgsl::column_sums;
use super::depthwise::DepthwiseOps;
use super::depthwise_cpu::{Geometry, Planes};
use super::wgsl::{Program, WORKGROUP, empty_like, grid, launch, plane_grid};

/// The `params` of `shaders/depthwise_geometry.wgsl` (the geometry is compiled into the program).
fn params(p: &Planes) -> [u32; 6] {
    let values = [
        p.batch,
        p.channels,
        p.input[0],
        p.input[1],
        p.output[0],
        p.output[1],
    ];
    values.map(|v| v as u32)
}

fn dims(t: &CubeTensor) -> [usize; 4] {
    let s = t.meta.shape();
    [s[0], s[1], s[2], s[3]]
}

/// Runs `program` over `inputs` into a new tensor of `out_dims`, on `count` workgroups.
fn run(
    program: Program,
    inputs: [CubeTensor; 2],
    out_dims: [usize; 4],
    p: &Planes,
    count: CubeCount,
) -> CubeTensor {
    let [a, b] = inputs.map(into_contiguous);
    let out = empty_like(&a, Shape::new(out_dims));
    let handles = vec![a.handle.clone(), b.handle.clone(), out.handle.clone()];
    launch(&a, program, count, handles, &params(p));
    out
}

/// The per-plane grid over `[B, C, H, W]`.
fn per_plane(dims: [usize; 4]) -> CubeCount {
    let [b, c, h, w] = dims.map(|d| d as u32);
    plane_grid(b, c, h * w)
}

fn threads(dims: [usize; 4]) -> u32 {
    (dims.iter().product::<usize>() as u32).div_ceil(WORKGROUP)
}

impl DepthwiseOps for CubeBackend {
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        let p = Planes::new(dims(&x), &g);
        let out = [p.batch, p.channels, p.output[0], p.output[1]];
        run(
            Program::DepthwiseForward(g),
            [x, weight],
            out,
            &p,
            per_plane(out),
        )
    }

    fn depthwise_input_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        let input = dims(&x);
        let p = Planes::new(input, &g);
        run(
            Program::DepthwiseInputGrad(g),
            [dy, weight],
            input,
            &p,
            per_plane(input),
        )
    }

    fn depthwise_weight_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        let p = Planes::new(dims(&x), &g);
        let weights = p.channels * g.kernel * g.kernel;
        let per_image = [1, 1, p.batch, weights]; // [B, C·k²] as 4-D
        let partial = run(
            Program::DepthwiseWeightGrad(g),
            [x, dy],
            per_image,
            &p,
            grid(threads(per_image)),
        );
        let out = empty_like(&partial, weight.meta.shape().clone());
        column_sums(partial, p.batch, weights, out)
    }
}
