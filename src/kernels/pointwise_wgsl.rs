//! Launch code of the 1×1-convolution WGSL kernels (`shaders/pointwise_*.wgsl`): one dispatch
//! each for the forward pass and the input gradient, two for the weight gradient (per image,
//! then summed over the batch).

use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::cubecl::CubeCount;
use burn::tensor::Shape;

use super::column_sums_wgsl::column_sums;
use super::pointwise::PointwiseOps;
use super::wgsl::{Program, WORKGROUP, empty_like, launch};

/// Output rows per thread of the channel mix where they divide the rows (else one), and the
/// side of the weight-gradient block per thread where it divides both sides (else one).
const ROW_TILE: usize = 4;

fn dims(t: &CubeTensor) -> [usize; 4] {
    let s = t.meta.shape();
    [s[0], s[1], s[2], s[3]]
}

/// One image per y, `threads` per image along x.
fn per_image(threads: usize, batch: usize) -> CubeCount {
    CubeCount::Static((threads as u32).div_ceil(WORKGROUP), batch as u32, 1)
}

/// out[b, r, p] = Σ_k w[r·sr + k·sk] · input[b, k, p] into a new `[B, R, H, W]`.
fn mix(input: CubeTensor, weight: CubeTensor, rows: usize, strides: [usize; 2]) -> CubeTensor {
    let [b, depth, h, w] = dims(&input);
    let quads = h * w / 4;
    let (input, weight) = (into_contiguous(input), into_contiguous(weight));
    let out = empty_like(&input, Shape::new([b, rows, h, w]));
    let handles = vec![
        input.handle.clone(),
        weight.handle.clone(),
        out.handle.clone(),
    ];
    let params = [rows, depth, quads, strides[0], strides[1]].map(|v| v as u32);
    let tile = if rows.is_multiple_of(ROW_TILE) {
        ROW_TILE
    } else {
        1
    };
    let count = per_image(rows / tile * quads, b);
    let program = Program::PointwiseMix { tile: tile as u32 };
    launch(&input, program, count, handles, &params);
    out
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
        let (x, dy) = (into_contiguous(x), into_contiguous(dy));
        let partial = empty_like(&x, Shape::new([b, r * k]));
        let handles = vec![x.handle.clone(), dy.handle.clone(), partial.handle.clone()];
        let params = [r, k, h * w / 4].map(|v| v as u32);
        let tiled = r.is_multiple_of(ROW_TILE) && k.is_multiple_of(ROW_TILE);
        let tile = if tiled { ROW_TILE } else { 1 };
        let count = per_image(r * k / (tile * tile), b);
        let program = Program::PointwiseWeightGrad { tile: tile as u32 };
        launch(&x, program, count, handles, &params);
        let out = empty_like(&partial, weight.meta.shape().clone());
        column_sums(partial, b, r * k, out)
    }
}
