//! Training-mode batch normalisation as a custom op on Burn's CPU backend: one op for the batch
//! moments (a constant) and one differentiable normalisation whose hand-written backward is the
//! full batch-norm gradient, through the mean and variance. Other devices run Burn's own.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;

use super::batch_norm_cpu::{self as cpu, Affine};
use super::flex_data::{contiguous, dims4, f32s, flex_tensor, on_cpu};
use crate::profile::scope;

/// Batch moments and the normalisation by them.
#[backend_extension(Flex: cfg(all()), Autodiff)]
pub trait BatchNormOps: Backend {
    /// `[2, C]`: mean and biased variance per channel of `[B, C, H, W]`; a constant.
    fn batch_norm_moments(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// (x − mean) / sqrt(var + ε) · γ + β with `moments` the batch moments of `x`.
    fn batch_norm_normalise(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f32,
    ) -> FloatTensor<Self>;
}

fn affine(moments: &FlexTensor, gamma: FlexTensor, beta: FlexTensor, epsilon: f32) -> Affine {
    let m = f32s(moments);
    let channels = m.len() / 2;
    Affine {
        mean: m[..channels].to_vec(),
        inv_std: m[channels..]
            .iter()
            .map(|v| 1.0 / (v + epsilon).sqrt())
            .collect(),
        gamma: f32s(&contiguous(gamma)).to_vec(),
        beta: f32s(&contiguous(beta)).to_vec(),
    }
}

fn normalise(x: &FlexTensor, a: &Affine) -> FlexTensor {
    let [b, c, h, w] = dims4(x);
    flex_tensor(cpu::normalise(f32s(x), a, h * w), &[b, c, h, w])
}

impl BatchNormOps for Flex {
    fn batch_norm_moments(x: FlexTensor) -> FlexTensor {
        let x = contiguous(x);
        let [b, c, h, w] = dims4(&x);
        let (mut mean, var) = cpu::moments(f32s(&x), b, c, h * w);
        mean.extend(var);
        flex_tensor(mean, &[2, c])
    }

    fn batch_norm_normalise(
        x: FlexTensor,
        moments: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f32,
    ) -> FlexTensor {
        let a = affine(&contiguous(moments), gamma, beta, epsilon);
        normalise(&contiguous(x), &a)
    }
}

/// The moments are a constant by definition: no gradient flows back through them.
#[derive(Debug)]
struct ConstantBackward;

impl Backward<Flex, 1> for ConstantBackward {
    type State = ();

    fn backward(self, _: Ops<Self::State, 1>, _: &mut Gradients, _: &mut Checkpointer) {}
}

#[derive(Debug)]
struct NormaliseBackward;

impl Backward<Flex, 3> for NormaliseBackward {
    /// The input (contiguous) and the normalisation's constants.
    type State = (FlexTensor, Affine);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, a) = ops.state;
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        let [b, c, h, w] = dims4(&x);
        let [dx, dgamma, dbeta] = scope("batch norm backward", || {
            cpu::backward(f32s(&x), f32s(&grad), &a, b, h * w)
        });
        let [node_x, node_gamma, node_beta] = ops.parents;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex_tensor(dx, &[b, c, h, w]));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex_tensor(dgamma, &[c]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex_tensor(dbeta, &[c]));
        }
    }
}

impl<C: CheckpointStrategy> BatchNormOps for Autodiff<Flex, C> {
    fn batch_norm_moments(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let prepared = ConstantBackward.prepare::<C>([x.node()]).compute_bound();
        prepared.stateless(Flex::batch_norm_moments(x.into_primitive()))
    }

    fn batch_norm_normalise(
        x: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f32,
    ) -> FloatTensor<Self> {
        let prepared = NormaliseBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let input = contiguous(x.into_primitive());
        let a = affine(
            &contiguous(moments.into_primitive()),
            gamma.into_primitive(),
            beta.into_primitive(),
            epsilon,
        );
        let y = normalise(&input, &a);
        match prepared {
            OpsKind::Tracked(prep) => prep.finish((input, a), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

/// Training-mode batch norm of `x` `[B, C, H, W]` with the CPU kernels: (output, batch mean,
/// biased batch variance), the last two constants; `None` off Burn's CPU backend.
pub fn batch_norm_train_cpu(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> Option<(Tensor<4>, Tensor<1>, Tensor<1>)> {
    if !on_cpu(&x) {
        return None;
    }
    let moments: Tensor<2> = Tensor::from_dispatch(Dispatch::batch_norm_moments(
        x.clone().detach().into_dispatch(),
    )); // [2, C]
    let y = Tensor::from_dispatch(Dispatch::batch_norm_normalise(
        x.into_dispatch(),
        moments.clone().into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon as f32,
    ));
    let [mean, var] = [0, 1].map(|i| moments.clone().narrow(0, i, 1).flatten::<1>(0, 1));
    Some((y, mean, var))
}
