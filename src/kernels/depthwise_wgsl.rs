//! Launch code of the depthwise-convolution WGSL kernels (`shaders/depthwise_*.wgsl`): one
//! dispatch each for the forward pass and the input gradient, and for the weight gradient one
//! per (image, piece of the plane) then the column sums over them, as
//! [`conv_launch_plan`](super::conv_launch_plan) plans them.

use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::cubecl::CubeCount;
use burn::tensor::Shape;

use super::column_sums_wgsl::column_sums;
use super::conv_launch_plan as plan;
use super::depthwise::DepthwiseOps;
use super::depthwise_cpu::{Geometry, Planes};
use super::variant::current;
use super::wgsl::{Program, empty_like, launch, plan_grid};

/// The `params` of `shaders/depthwise_geometry.wgsl` (the geometry is compiled into the
/// program), then the weight gradient's rows per piece and pieces per plane.
fn params(p: &Planes, (rows, pieces): (usize, usize)) -> [u32; 8] {
    let values = [
        p.batch,
        p.channels,
        p.input[0],
        p.input[1],
        p.output[0],
        p.output[1],
        rows,
        pieces,
    ];
    values.map(|v| v as u32)
}

fn dims(t: &CubeTensor) -> [usize; 4] {
    let s = t.meta.shape();
    [s[0], s[1], s[2], s[3]]
}

/// Runs `program` over `inputs` into a new tensor of `out_dims`, on `count` workgroups.
fn run<const N: usize>(
    program: Program,
    inputs: [CubeTensor; N],
    out_dims: [usize; 4],
    params: [u32; 8],
    count: CubeCount,
) -> CubeTensor {
    let inputs = inputs.map(into_contiguous);
    let out = empty_like(&inputs[0], Shape::new(out_dims));
    let mut handles: Vec<_> = inputs.iter().map(|t| t.handle.clone()).collect();
    handles.push(out.handle.clone());
    launch(&inputs[0], program, count, handles, &params);
    out
}

impl DepthwiseOps for CubeBackend {
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        let input = dims(&x);
        let p = Planes::new(input, &g);
        let out = [p.batch, p.channels, p.output[0], p.output[1]];
        let grid = plan_grid(&plan::depthwise_forward(input, g));
        let program = Program::DepthwiseForward(g);
        run(program, [x, weight], out, params(&p, (1, 1)), grid)
    }

    fn depthwise_input_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        let input = dims(&x);
        let p = Planes::new(input, &g);
        let grid = plan_grid(&plan::depthwise_input_grad(input, g));
        let program = Program::DepthwiseInputGrad(g);
        // x gates the gradient where the op's ReLU is fused in (bound either way)
        run(program, [x, dy, weight], input, params(&p, (1, 1)), grid)
    }

    fn depthwise_weight_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        let input = dims(&x);
        let p = Planes::new(input, &g);
        let shape = current();
        let pieces = plan::depthwise_weight_grad_pieces(input, g, shape);
        let grid = plan_grid(&plan::depthwise_weight_grad(input, g, shape));
        let weights = p.channels * g.kernel * g.kernel;
        let rows = p.batch * pieces.1;
        let partial_dims = [1, 1, rows, weights]; // [B·pieces, C·k²] as 4-D
        let program = Program::DepthwiseWeightGrad(g);
        let partial = run(program, [x, dy], partial_dims, params(&p, pieces), grid);
        let out = empty_like(&partial, weight.meta.shape().clone());
        column_sums(partial, rows, weights, out)
    }
}
