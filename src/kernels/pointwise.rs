//! The 1×1 convolution as a differentiable custom op on wgpu devices (`pointwise_wgsl.rs`):
//! a channel mix over four pixels per thread, forward and input gradient in one kernel, the
//! weight gradient per image then summed. On llvmpipe Burn's batched matrix product took about
//! 3× as long for these shapes (few channels, many pixels), forward and backward. Burn's CPU
//! backend keeps its matrix product, which is fast there.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::tensor::{DType, Tensor};

use super::autodiff::untracked;
use super::wgsl::{MAX_GROUPS, WORKGROUP};
use crate::devices::adapter::runs_wgsl;
use crate::profile::scope;

/// 1×1 convolution `[B, K, H, W]` × `[R, K, 1, 1]` → `[B, R, H, W]` and its gradients.
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait PointwiseOps: Backend {
    /// The forward pass.
    #[fusion(dtype = x, shape = output_shape(x, weight))]
    fn pointwise_conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;

    /// dL/dx (shaped like `x`) from dL/dy; not differentiable.
    #[fusion(dtype = x, shape = x)]
    fn pointwise_input_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// dL/dweight (shaped like `weight`) from `x` and dL/dy; not differentiable.
    #[fusion(dtype = x, shape = weight)]
    fn pointwise_weight_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// `[B, R, H, W]` for an input `[B, K, H, W]` and a weight `[R, K, 1, 1]` (the shape Fusion records).
#[cfg(feature = "fusion")]
fn output_shape(x: &burn::tensor::Shape, weight: &burn::tensor::Shape) -> burn::tensor::Shape {
    burn::tensor::Shape::new([x[0], weight[0], x[2], x[3]])
}

#[derive(Debug)]
struct PointwiseBackward;

impl<B: PointwiseOps> Backward<B, 2> for PointwiseBackward {
    /// Input, weight.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, weight) = ops.state;
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |dy| {
                scope("1x1 conv dx", || {
                    B::pointwise_input_grad(x.clone(), dy, weight.clone())
                })
            },
            |dy| {
                scope("1x1 conv dw", || {
                    B::pointwise_weight_grad(x.clone(), dy, weight.clone())
                })
            },
        );
    }
}

impl<B: PointwiseOps, C: CheckpointStrategy> PointwiseOps for Autodiff<B, C> {
    fn pointwise_conv2d(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        match PointwiseBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.primitive().clone(), weight.primitive().clone());
                let y = B::pointwise_conv2d(xp.clone(), wp.clone());
                prep.finish((xp, wp), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::pointwise_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
            )),
        }
    }

    fn pointwise_input_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (xp, dyp, w) = (
            x.into_primitive(),
            dy.clone().into_primitive(),
            weight.into_primitive(),
        );
        untracked::<B, C>(&dy, B::pointwise_input_grad(xp, dyp, w))
    }

    fn pointwise_weight_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (xp, dyp, w) = (
            x.into_primitive(),
            dy.clone().into_primitive(),
            weight.into_primitive(),
        );
        untracked::<B, C>(&dy, B::pointwise_weight_grad(xp, dyp, w))
    }
}

/// Whether the kernels take these shapes: f32 on a wgpu device, pixels in whole fours, and
/// every launch inside the per-dimension workgroup limit (the channel mix's rows of one image
/// along x; the weight gradient and the column sums fold their grids).
fn applies(x: &Tensor<4>, weight: &Tensor<4>) -> bool {
    let [b, k, h, w] = x.dims();
    let [r, k2, kh, kw] = weight.dims();
    let quads = h * w / 4;
    let groups = |threads: usize| threads.div_ceil(WORKGROUP as usize);
    let max = MAX_GROUPS as usize;
    runs_wgsl(&x.device())
        && x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && [k2, kh, kw] == [k, 1, 1]
        && (h * w).is_multiple_of(4)
        && b * k * r * quads > 0
        && b <= max
        && groups(r.max(k) * quads) <= max
}

/// The 1×1 convolution (stride 1, no bias) of `x` `[B, K, H, W]` by `weight` `[R, K, 1, 1]`
/// with the project's kernels (with or without autodiff); `None` where they do not apply, so
/// the caller runs a matrix product.
pub fn pointwise_conv2d(x: Tensor<4>, weight: Tensor<4>) -> Option<Tensor<4>> {
    applies(&x, &weight).then(|| {
        Tensor::from_dispatch(Dispatch::pointwise_conv2d(
            x.into_dispatch(),
            weight.into_dispatch(),
        ))
    })
}
