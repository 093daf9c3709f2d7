//! Launch code of the depthwise-convolution WGSL kernels (`shaders/depthwise_*.wgsl`): one
//! dispatch each for the forward pass, the input gradient and the weight gradient.

use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::tensor::Shape;

use super::depthwise::DepthwiseOps;
use super::depthwise_cpu::{Geometry, Planes};
use super::wgsl::{Program, WORKGROUP, empty_like, grid, launch, u32_bytes};

/// The `params` buffer of `shaders/depthwise_geometry.wgsl`.
fn params(p: &Planes, g: &Geometry) -> Vec<u8> {
    let values = [
        p.batch,
        p.channels,
        p.input[0],
        p.input[1],
        p.output[0],
        p.output[1],
        g.kernel,
        g.stride,
        g.padding,
        g.dilation,
    ];
    u32_bytes(&values.map(|v| v as u32))
}

fn dims(t: &CubeTensor) -> [usize; 4] {
    let s = t.meta.shape();
    [s[0], s[1], s[2], s[3]]
}

/// Runs `program` over `inputs` into a new tensor of `out_dims`, on `groups` workgroups.
fn run(
    program: Program,
    inputs: [CubeTensor; 2],
    out_dims: [usize; 4],
    p: &Planes,
    g: &Geometry,
    groups: u32,
) -> CubeTensor {
    let [a, b] = inputs.map(into_contiguous);
    let out = empty_like(&a, Shape::new(out_dims));
    let params = a.client.create_from_slice(&params(p, g));
    let handles = vec![
        a.handle.clone(),
        b.handle.clone(),
        out.handle.clone(),
        params,
    ];
    launch(&a, program, WORKGROUP, grid(groups), handles);
    out
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
            Program::DepthwiseForward,
            [x, weight],
            out,
            &p,
            &g,
            threads(out),
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
            Program::DepthwiseInputGrad,
            [dy, weight],
            input,
            &p,
            &g,
            threads(input),
        )
    }

    fn depthwise_weight_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        let p = Planes::new(dims(&x), &g);
        let out = dims(&weight);
        let weights = (p.channels * g.kernel * g.kernel) as u32;
        run(Program::DepthwiseWeightGrad, [x, dy], out, &p, &g, weights)
    }
}
