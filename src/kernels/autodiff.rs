//! Hand-written backward passes of the custom ops (Burn's autodiff cannot see inside a kernel).
//!
//! soft_threshold: dx = g · [y ≠ 0].
//! relu: dx = g · [y > 0].
//! masked_mixed_op: d ops[j] = coeffs[support[j]] · g (one kernel); d coeffs[support[j]] =
//! ⟨ops[j], g⟩, and zero for every coefficient outside the support.

use burn::backend::Backend;
use burn::backend::TensorMetadata;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary, unary};
use burn::backend::tensor::FloatTensor;
use burn::tensor::{FloatDType, Shape, TensorData};

use super::{IstaOps, Support};

/// The ops without a gradient: nothing flows back through them.
#[derive(Debug)]
struct ConstantBackward;

impl<B: Backend> Backward<B, 1> for ConstantBackward {
    type State = ();

    fn backward(self, _: Ops<Self::State, 1>, _: &mut Gradients, _: &mut Checkpointer) {}
}

/// `value`, computed from `parent` (and other tensors) by a kernel no gradient flows back
/// through — the custom ops' gradient and statistics kernels — as an autodiff tensor.
pub(super) fn untracked<B: Backend, C: CheckpointStrategy>(
    parent: &FloatTensor<Autodiff<B, C>>,
    value: FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>> {
    ConstantBackward
        .prepare::<C>([parent.node()])
        .compute_bound()
        .stateless(value)
}

#[derive(Debug)]
struct SoftThresholdBackward;

impl<B: IstaOps> Backward<B, 1> for SoftThresholdBackward {
    type State = FloatTensor<B>; // forward output y

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let y = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |g| {
            B::float_mul(g, B::float_abs(B::float_sign(y)))
        });
    }
}

#[derive(Debug)]
struct ReluBackward;

impl<B: IstaOps> Backward<B, 1> for ReluBackward {
    type State = FloatTensor<B>; // forward output y

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let y = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |g| B::relu_kernel_grad(y, g));
    }
}

#[derive(Debug)]
struct MaskedMixedOpBackward;

impl<B: IstaOps> Backward<B, 2> for MaskedMixedOpBackward {
    /// The active ops' outputs `[S, N]`, the coefficients `[n]` and the support.
    type State = (FloatTensor<B>, FloatTensor<B>, Support);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (outputs, coeffs, support) = ops.state;
        let outputs_shape = outputs.shape();
        let coeffs_shape = coeffs.shape();
        let n = coeffs_shape[0];
        let s = support.len();
        let width = outputs_shape.num_elements() / s.max(1);
        let device = coeffs.device();
        // one_hot[j, k] = 1 where k = support[j]: scatters from [S] to [n].
        let mut one_hot = vec![0.0f32; s * n];
        for (j, &k) in support.iter().enumerate() {
            one_hot[j * n + k as usize] = 1.0;
        }
        let one_hot = || B::float_from_data(TensorData::new(one_hot.clone(), [s, n]), &device);
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |g| {
                if s == 0 {
                    return outputs.clone();
                }
                let g = B::float_reshape(g, Shape::from(vec![width])); // [N]
                let d_ops = B::masked_mixed_op_grad(g, coeffs.clone(), support.clone()); // [S, N]
                B::float_reshape(d_ops, outputs_shape.clone())
            },
            |g| {
                if s == 0 {
                    return B::float_zeros(coeffs_shape.clone(), &device, FloatDType::F32);
                }
                let g = B::float_reshape(g, Shape::from(vec![1, width])); // [1, N]
                let flat = B::float_reshape(outputs.clone(), Shape::from(vec![s, width]));
                // A product and a row sum: as a matrix product [S, N] × [N, 1] this reduction
                // ran on S threads, 3× slower on llvmpipe.
                let dots = B::float_sum_dim(B::float_mul(flat, g), 1); // [S, 1]
                let dc = B::float_matmul(B::float_swap_dims(dots, 0, 1), one_hot()); // [1, n]
                B::float_reshape(dc, coeffs_shape.clone())
            },
        );
    }
}

impl<B: IstaOps, C: CheckpointStrategy> IstaOps for Autodiff<B, C> {
    fn soft_threshold(x: FloatTensor<Self>, threshold: f32) -> FloatTensor<Self> {
        match SoftThresholdBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::soft_threshold(x.primitive().clone(), threshold);
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::soft_threshold(x.into_primitive(), threshold))
            }
        }
    }

    fn relu_kernel(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match ReluBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::relu_kernel(x.primitive().clone());
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::relu_kernel(x.into_primitive())),
        }
    }

    fn relu_kernel_grad(y: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        // Linear in dy with the same gate, so its own backward is the ReLU backward again.
        let prepared = ReluBackward
            .prepare::<C>([dy.node()])
            .compute_bound()
            .stateful();
        match prepared {
            OpsKind::Tracked(prep) => {
                let y = y.into_primitive();
                let out = B::relu_kernel_grad(y.clone(), dy.into_primitive());
                prep.finish(y, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::relu_kernel_grad(y.into_primitive(), dy.into_primitive()))
            }
        }
    }

    fn masked_mixed_op(
        ops: FloatTensor<Self>,
        coeffs: FloatTensor<Self>,
        support: Support,
    ) -> FloatTensor<Self> {
        match MaskedMixedOpBackward
            .prepare::<C>([ops.node(), coeffs.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let outputs = ops.primitive().clone();
                let weights = coeffs.primitive().clone();
                let out = B::masked_mixed_op(outputs.clone(), weights.clone(), support.clone());
                prep.finish((outputs, weights, support), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::masked_mixed_op(
                ops.into_primitive(),
                coeffs.into_primitive(),
                support,
            )),
        }
    }

    fn masked_mixed_op_grad(
        g: FloatTensor<Self>,
        coeffs: FloatTensor<Self>,
        support: Support,
    ) -> FloatTensor<Self> {
        let like = g.clone();
        let (g, coeffs) = (g.into_primitive(), coeffs.into_primitive());
        untracked::<B, C>(&like, B::masked_mixed_op_grad(g, coeffs, support))
    }
}
