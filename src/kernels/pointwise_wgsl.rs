//! Launch code of the 1×1-convolution WGSL kernels (`shaders/pointwise_*.wgsl`): the forward
//! pass and the input gradient as a channel mix (on GPUs in pieces of the input channels, then
//! added), the weight gradient per (image, piece of the plane) then summed, as
//! [`conv_launch_plan`](super::conv_launch_plan) plans them.

use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::tensor::Shape;

use super::column_sums_wgsl::column_sums;
use super::conv_launch_plan as plan;
use super::pointwise::PointwiseOps;
use super::variant::current;
use super::wgsl::{Program, empty_like, launch, plan_grid};

fn dims(t: &CubeTensor) -> [usize; 4] {
    let s = t.meta.shape();
    [s[0], s[1], s[2], s[3]]
}

/// out[b, r, p] = Σ_k w[r·sr + k·sk] · input[b, k, p] into a new `[B, R, H, W]`: one pass, or
/// pieces of K then their column sums.
fn mix(input: CubeTensor, weight: CubeTensor, rows: usize, strides: [usize; 2]) -> CubeTensor {
    let [b, depth, h, w] = dims(&input);
    let quads = h * w / 4;
    let shape = current();
    let sizes = [b, depth, rows, h * w];
    let (span, pieces) = plan::pointwise_mix_pieces(sizes, shape);
    let grid = plan_grid(&plan::pointwise_mix(sizes, shape));
    let (input, weight) = (into_contiguous(input), into_contiguous(weight));
    let out = empty_like(&input, Shape::new([b, rows, h, w]));
    let target = if pieces == 1 {
        out.clone()
    } else {
        empty_like(&input, Shape::new([pieces, b * rows * h * w]))
    };
    let handles = vec![
        input.handle.clone(),
        weight.handle.clone(),
        target.handle.clone(),
    ];
    let params = [rows, depth, quads, strides[0], strides[1], span, b].map(|v| v as u32);
    let tile = plan::mix_tile(rows) as u32;
    launch(
        &input,
        Program::PointwiseMix { tile },
        grid,
        handles,
        &params,
    );
    if pieces == 1 {
        return out;
    }
    column_sums(target, pieces, b * rows * h * w, out)
}

impl PointwiseOps for CubeBackend {
    fn pointwise_conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        let [r, k, _, _] = dims(&weight);
        mix(x, weight, r, [k, 1])
    }

    fn pointwise_input_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let k = dims(&x)[1];
        mix(dy, weight, k, [1, k])
    }

    fn pointwise_weight_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let [b, k, h, w] = dims(&x);
        let r = dims(&dy)[1];
        let shape = current();
        let sizes = [b, k, r, h * w];
        let (span, pieces) = plan::pointwise_weight_grad_pieces(sizes, shape);
        let grid = plan_grid(&plan::pointwise_weight_grad(sizes, shape));
        let (x, dy) = (into_contiguous(x), into_contiguous(dy));
        let rows = b * pieces;
        let partial = empty_like(&x, Shape::new([rows, r * k]));
        let handles = vec![x.handle.clone(), dy.handle.clone(), partial.handle.clone()];
        let params = [r, k, h * w / 4, span, pieces, b].map(|v| v as u32);
        let tile = plan::weight_grad_tile(r, k) as u32;
        let program = Program::PointwiseWeightGrad { tile };
        launch(&x, program, grid, handles, &params);
        let out = empty_like(&partial, weight.meta.shape().clone());
        column_sums(partial, rows, r * k, out)
    }
}
