//! Training-mode batch normalisation as a few custom ops (Burn's generic one is a chain of
//! ~30 reductions, broadcasts and layout copies each way): the batch statistics with the
//! running-statistics update, a differentiable normalisation whose hand-written backward is the
//! full batch-norm gradient (through the mean and variance), and the two backward kernels.
//! WGSL on wgpu devices (`batch_norm_wgsl.rs`), Rust on Burn's CPU backend (`batch_norm_cpu.rs`).

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, TensorMetadata, backend_extension};
use burn::tensor::{DType, Shape, Slice, Tensor};

use super::autodiff::untracked;
use super::flex_data::on_cpu;
use super::wgsl::fits_planes;
use crate::devices::adapter::runs_wgsl;
use crate::profile::scope;

/// Batch statistics, normalisation and the backward kernels of training-mode batch norm.
#[backend_extension(Cube, Flex: cfg(all()), Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait BatchNormOps: Backend {
    /// Of `[B, C, H, W]`: `[2, C]` batch mean and biased batch variance, and the running mean
    /// and (unbiased) variance `[C]` moved towards them by `momentum`; constants.
    #[fusion(meta = |x, running_mean, _running_var, _momentum| statistics_meta(x, running_mean))]
    fn batch_norm_statistics(
        x: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        momentum: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// (x − mean) / sqrt(var + ε) · γ + β, with the batch mean and variance of `stats`; without
    /// `affine`, γ = 1 and β = 0 and the tensors passed for them are not read.
    #[fusion(dtype = x, shape = x)]
    fn batch_norm_normalise(
        x: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f32,
        affine: bool,
    ) -> FloatTensor<Self>;

    /// `[2, C]`: Σ dy (the gradient of β) and Σ dy·x̂ (of γ) per channel; not differentiable.
    #[fusion(dtype = x, shape = channel_rows(x, 2))]
    fn batch_norm_grad_sums(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f32,
    ) -> FloatTensor<Self>;

    /// The input gradient from dy and the sums of [`BatchNormOps::batch_norm_grad_sums`]
    /// (γ = 1 without `affine`).
    #[fusion(dtype = x, shape = x)]
    fn batch_norm_input_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        sums: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        epsilon: f32,
        affine: bool,
    ) -> FloatTensor<Self>;
}

/// `[rows, C]` for an input `[B, C, …]` (the shape Fusion records).
#[cfg(feature = "fusion")]
fn channel_rows(x: &Shape, rows: usize) -> Shape {
    Shape::new([rows, x[1]])
}

/// What Fusion records for the statistics: `[2, C]` and two tensors like the running mean.
#[cfg(feature = "fusion")]
fn statistics_meta(
    x: &burn::backend::fusion::custom::TensorSpec,
    running: &burn::backend::fusion::custom::TensorSpec,
) -> (
    burn::backend::fusion::custom::TensorSpec,
    burn::backend::fusion::custom::TensorSpec,
    burn::backend::fusion::custom::TensorSpec,
) {
    use burn::backend::fusion::custom::TensorSpec;
    let stats = TensorSpec::new(channel_rows(&x.shape, 2), x.dtype);
    (stats, running.clone(), running.clone())
}

/// Row `row` of a `[rows, C]` tensor, as `[C]`.
fn row<B: Backend>(t: FloatTensor<B>, row: usize) -> FloatTensor<B> {
    let channels = t.shape()[1];
    let r = row as isize;
    let sliced = B::float_slice(t, &[Slice::new(r, Some(r + 1), 1), Slice::full()]);
    B::float_reshape(sliced, Shape::new([channels]))
}

#[derive(Debug)]
struct NormaliseBackward;

impl<B: BatchNormOps> Backward<B, 3> for NormaliseBackward {
    /// The input, the statistics, γ, ε and whether γ is used.
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, f32, bool);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, stats, gamma, epsilon, affine) = ops.state;
        let dy = grads.consume::<B>(&ops.node);
        let [node_x, node_gamma, node_beta] = ops.parents;
        scope("batch norm backward", || {
            let sums = B::batch_norm_grad_sums(x.clone(), dy.clone(), stats.clone(), epsilon);
            if let Some(node) = node_x {
                let dx =
                    B::batch_norm_input_grad(x, dy, stats, sums.clone(), gamma, epsilon, affine);
                grads.register::<B>(node.id, dx);
            }
            if let Some(node) = node_gamma {
                grads.register::<B>(node.id, row::<B>(sums.clone(), 1));
            }
            if let Some(node) = node_beta {
                grads.register::<B>(node.id, row::<B>(sums, 0));
            }
        });
    }
}

impl<B: BatchNormOps, C: CheckpointStrategy> BatchNormOps for Autodiff<B, C> {
    fn batch_norm_statistics(
        x: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        momentum: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (stats, mean, var) = B::batch_norm_statistics(
            x.clone().into_primitive(),
            running_mean.into_primitive(),
            running_var.into_primitive(),
            momentum,
        );
        let [stats, mean, var] = [stats, mean, var].map(|t| untracked::<B, C>(&x, t));
        (stats, mean, var)
    }

    fn batch_norm_normalise(
        x: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f32,
        affine: bool,
    ) -> FloatTensor<Self> {
        let prepared = NormaliseBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (x, stats) = (x.into_primitive(), stats.into_primitive());
        let (gamma, beta) = (gamma.into_primitive(), beta.into_primitive());
        match prepared {
            OpsKind::Tracked(prep) => {
                let (s, g) = (stats.clone(), gamma.clone());
                let y = B::batch_norm_normalise(x.clone(), s, g, beta, epsilon, affine);
                prep.finish((x, stats, gamma, epsilon, affine), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::batch_norm_normalise(
                x, stats, gamma, beta, epsilon, affine,
            )),
        }
    }

    fn batch_norm_grad_sums(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f32,
    ) -> FloatTensor<Self> {
        let (xp, dy, stats) = (
            x.clone().into_primitive(),
            dy.into_primitive(),
            stats.into_primitive(),
        );
        untracked::<B, C>(&x, B::batch_norm_grad_sums(xp, dy, stats, epsilon))
    }

    fn batch_norm_input_grad(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        sums: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        epsilon: f32,
        affine: bool,
    ) -> FloatTensor<Self> {
        let (xp, dy, stats) = (
            x.clone().into_primitive(),
            dy.into_primitive(),
            stats.into_primitive(),
        );
        let (sums, gamma) = (sums.into_primitive(), gamma.into_primitive());
        let dx = B::batch_norm_input_grad(xp, dy, stats, sums, gamma, epsilon, affine);
        untracked::<B, C>(&x, dx)
    }
}

/// What one training-mode batch norm gives: the output and the updated running statistics.
pub struct BatchNormTrain {
    /// The normalised input `[B, C, H, W]`, differentiable.
    pub output: Tensor<4>,
    /// The running mean after this batch (a constant).
    pub running_mean: Tensor<1>,
    /// The running (unbiased) variance after this batch (a constant).
    pub running_var: Tensor<1>,
}

/// Training-mode batch norm of `x` `[B, C, H, W]` with the project's kernels (γ = 1, β = 0 when
/// `affine` is `None`), the running statistics moved by `momentum`; `None` where they do not
/// apply (another backend or dtype).
pub fn batch_norm_train_fused(
    x: Tensor<4>,
    affine: Option<(Tensor<1>, Tensor<1>)>,
    running: (Tensor<1>, Tensor<1>),
    momentum: f64,
    epsilon: f64,
) -> Option<BatchNormTrain> {
    let wgsl = runs_wgsl(&x.device()) && x.dtype() == DType::F32 && fits_planes(x.dims());
    if !(on_cpu(&x) || wgsl) || x.shape().num_elements() == 0 {
        return None;
    }
    let (running_mean, running_var) = running;
    let is_affine = affine.is_some();
    // Without γ and β, the kernels get a tensor they never read in their place.
    let (gamma, beta) = affine.unwrap_or_else(|| (running_mean.clone(), running_mean.clone()));
    let (stats, running_mean, running_var) = Dispatch::batch_norm_statistics(
        x.clone().detach().into_dispatch(),
        running_mean.detach().into_dispatch(),
        running_var.detach().into_dispatch(),
        momentum as f32,
    );
    let stats: Tensor<2> = Tensor::from_dispatch(stats); // [2, C]
    let output = Tensor::from_dispatch(Dispatch::batch_norm_normalise(
        x.into_dispatch(),
        stats.clone().into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon as f32,
        is_affine,
    ));
    Some(BatchNormTrain {
        output,
        running_mean: Tensor::from_dispatch(running_mean), // [C]
        running_var: Tensor::from_dispatch(running_var),   // [C]
    })
}
