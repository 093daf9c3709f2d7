//! The depthwise convolution as a differentiable custom op on Burn's CPU backend, with the loops of
//! [`super::depthwise_cpu`] for the forward pass and both gradients. Other devices run Burn's own
//! grouped convolution.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;

use super::depthwise_cpu::{self as cpu, Geometry, Planes};
use super::flex_data::{contiguous, dims4, f32s, flex_tensor, on_cpu};
use crate::profile::scope;

/// Depthwise convolution `[B, C, H, W]` × `[C, 1, k, k]` → `[B, C, H', W']` and its gradients.
#[backend_extension(Flex: cfg(all()), Autodiff)]
pub trait DepthwiseOps: Backend {
    /// The forward pass.
    fn depthwise_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        geometry: Geometry,
    ) -> FloatTensor<Self>;
}

impl DepthwiseOps for Flex {
    fn depthwise_conv2d(x: FlexTensor, weight: FlexTensor, g: Geometry) -> FlexTensor {
        let (x, weight) = (contiguous(x), contiguous(weight));
        let p = Planes::new(dims4(&x), &g);
        let y = cpu::forward(f32s(&x), f32s(&weight), &g, &p);
        flex_tensor(y, &[p.batch, p.channels, p.output[0], p.output[1]])
    }
}

/// dL/dx of an input of `input` dims.
fn input_grad(grad: FlexTensor, weight: FlexTensor, g: Geometry, input: [usize; 4]) -> FlexTensor {
    let (grad, weight) = (contiguous(grad), contiguous(weight));
    let p = Planes::new(input, &g);
    flex_tensor(cpu::input_grad(f32s(&grad), f32s(&weight), &g, &p), &input)
}

/// dL/dweight.
fn weight_grad(x: FlexTensor, grad: FlexTensor, g: Geometry) -> FlexTensor {
    let (x, grad) = (contiguous(x), contiguous(grad));
    let p = Planes::new(dims4(&x), &g);
    let dw = cpu::weight_grad(f32s(&x), f32s(&grad), &g, &p);
    flex_tensor(dw, &[p.channels, 1, g.kernel, g.kernel])
}

#[derive(Debug)]
struct DepthwiseBackward;

impl Backward<Flex, 2> for DepthwiseBackward {
    /// Input, weight, geometry.
    type State = (FlexTensor, FlexTensor, Geometry);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, weight, g) = ops.state;
        let input = dims4(&x);
        binary::<Flex, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| {
                scope("depthwise conv dx", || {
                    input_grad(grad, weight.clone(), g, input)
                })
            },
            |grad| scope("depthwise conv dw", || weight_grad(x.clone(), grad, g)),
        );
    }
}

impl<C: CheckpointStrategy> DepthwiseOps for Autodiff<Flex, C> {
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
                let y = Flex::depthwise_conv2d(xp.clone(), wp.clone(), g);
                prep.finish((xp, wp, g), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::depthwise_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                g,
            )),
        }
    }
}

/// The depthwise convolution with the CPU loops (f32 on Burn's CPU backend, with or without
/// autodiff); `None` where they do not apply, so the caller runs Burn's convolution.
pub fn depthwise_conv2d(x: Tensor<4>, weight: Tensor<4>, g: Geometry) -> Option<Tensor<4>> {
    on_cpu(&x).then(|| {
        Tensor::from_dispatch(Dispatch::depthwise_conv2d(
            x.into_dispatch(),
            weight.into_dispatch(),
            g,
        ))
    })
}
