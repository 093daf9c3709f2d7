//! The depthwise convolution as a differentiable custom op with its own backward: WGSL on wgpu
//! devices (`depthwise_wgsl.rs`), the loops of [`super::depthwise_cpu`] on Burn's CPU backend.
//! Burn's generic backward runs a depthwise weight gradient as one convolution per channel and
//! its input gradient as a general transposed convolution; these kernels do neither.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Tensor};

use super::autodiff::untracked;
use super::depthwise_cpu::{self as cpu, Geometry, Planes};
use super::flex_data::{contiguous, dims4, f32s, flex_tensor, on_cpu};
use super::wgsl::fits_planes;
use crate::devices::adapter::runs_wgsl;
use crate::profile::scope;

/// Depthwise convolution `[B, C, H, W]` × `[C, 1, k, k]` → `[B, C, H', W']` (of ReLU(x) where
/// the geometry says so) and its gradients.
#[backend_extension(Cube, Flex: cfg(all()), Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait DepthwiseOps: Backend {
    /// The forward pass.
    #[fusion(dtype = x, shape = output_shape(x, geometry))]
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        geometry: Geometry,
    ) -> FloatTensor<Self>;

    /// dL/dx (shaped like `x`) from dL/dy; not differentiable.
    #[fusion(dtype = x, shape = x)]
    fn depthwise_input_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        geometry: Geometry,
    ) -> FloatTensor<Self>;

    /// dL/dweight (shaped like `weight`) from `x` and dL/dy; not differentiable.
    #[fusion(dtype = x, shape = weight)]
    fn depthwise_weight_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        geometry: Geometry,
    ) -> FloatTensor<Self>;
}

/// `[B, C, H', W']` for an input `[B, C, H, W]` (the shape Fusion records).
#[cfg(feature = "fusion")]
fn output_shape(
    x: &burn::tensor::Shape,
    g: impl std::borrow::Borrow<Geometry>,
) -> burn::tensor::Shape {
    let g = g.borrow();
    burn::tensor::Shape::new([x[0], x[1], g.output(x[2]), g.output(x[3])])
}

impl DepthwiseOps for Flex {
    fn depthwise_conv2d(x: FlexTensor, weight: FlexTensor, g: Geometry) -> FlexTensor {
        let (x, weight) = (contiguous(x), contiguous(weight));
        let p = Planes::new(dims4(&x), &g);
        let y = cpu::forward(f32s(&x), f32s(&weight), &g, &p);
        flex_tensor(y, &[p.batch, p.channels, p.output[0], p.output[1]])
    }

    fn depthwise_input_grad(
        x: FlexTensor,
        dy: FlexTensor,
        weight: FlexTensor,
        g: Geometry,
    ) -> FlexTensor {
        let input = dims4(&x);
        let (dy, weight) = (contiguous(dy), contiguous(weight));
        let p = Planes::new(input, &g);
        let mut dx = cpu::input_grad(f32s(&dy), f32s(&weight), &g, &p);
        if g.relu {
            cpu::relu_gate(&mut dx, f32s(&contiguous(x)));
        }
        flex_tensor(dx, &input)
    }

    fn depthwise_weight_grad(
        x: FlexTensor,
        dy: FlexTensor,
        _weight: FlexTensor,
        g: Geometry,
    ) -> FlexTensor {
        let (x, dy) = (contiguous(x), contiguous(dy));
        let p = Planes::new(dims4(&x), &g);
        let dw = cpu::weight_grad(f32s(&x), f32s(&dy), &g, &p);
        flex_tensor(dw, &[p.channels, 1, g.kernel, g.kernel])
    }
}

#[derive(Debug)]
struct DepthwiseBackward;

impl<B: DepthwiseOps> Backward<B, 2> for DepthwiseBackward {
    /// Input, weight, geometry.
    type State = (FloatTensor<B>, FloatTensor<B>, Geometry);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, weight, g) = ops.state;
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |dy| {
                scope("depthwise conv dx", || {
                    B::depthwise_input_grad(x.clone(), dy, weight.clone(), g)
                })
            },
            |dy| {
                scope("depthwise conv dw", || {
                    B::depthwise_weight_grad(x.clone(), dy, weight.clone(), g)
                })
            },
        );
    }
}

impl<B: DepthwiseOps, C: CheckpointStrategy> DepthwiseOps for Autodiff<B, C> {
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        match DepthwiseBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.primitive().clone(), weight.primitive().clone());
                let y = B::depthwise_conv2d(xp.clone(), wp.clone(), g);
                prep.finish((xp, wp, g), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::depthwise_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                g,
            )),
        }
    }

    fn depthwise_input_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        let (xp, dyp, w) = (
            x.into_primitive(),
            dy.clone().into_primitive(),
            weight.into_primitive(),
        );
        untracked::<B, C>(&dy, B::depthwise_input_grad(xp, dyp, w, g))
    }

    fn depthwise_weight_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        let (xp, dyp, w) = (
            x.into_primitive(),
            dy.clone().into_primitive(),
            weight.into_primitive(),
        );
        untracked::<B, C>(&dy, B::depthwise_weight_grad(xp, dyp, w, g))
    }
}

/// The depthwise convolution with the project's kernels (f32 on wgpu or Burn's CPU backend, with
/// or without autodiff); `None` where they do not apply, so the caller runs Burn's convolution.
pub fn depthwise_conv2d(x: Tensor<4>, weight: Tensor<4>, g: Geometry) -> Option<Tensor<4>> {
    let wgsl = runs_wgsl(&x.device()) && x.dtype() == DType::F32 && fits_planes(x.dims());
    let empty = x.shape().num_elements() == 0 || g.kernel == 0 || g.stride == 0;
    ((on_cpu(&x) || wgsl) && !empty).then(|| {
        Tensor::from_dispatch(Dispatch::depthwise_conv2d(
            x.into_dispatch(),
            weight.into_dispatch(),
            g,
        ))
    })
}
