//! Training-mode batch normalisation as two custom ops (Burn's generic one is a chain of ~30
//! reductions, broadcasts and layout copies each way): a differentiable forward that also gives
//! the batch and running statistics, whose hand-written backward is the full batch-norm
//! gradient (through the mean and variance), and that backward as one op.
//! WGSL on wgpu devices (`batch_norm_wgsl.rs`), Rust on Burn's CPU backend (`batch_norm_cpu.rs`).

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend, Dispatch, TensorMetadata, backend_extension};
use burn::tensor::{DType, Shape, Slice, Tensor};

use super::autodiff::untracked;
use super::flex_data::on_cpu;
use super::wgsl::fits_planes;
use crate::devices::adapter::runs_wgsl;
use crate::profile::scope;

/// Training-mode batch norm forward and backward.
#[backend_extension(Cube, Flex: cfg(all()), Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait BatchNormOps: Backend {
    /// Of `x` `[B, C, H, W]`: the output (x − mean) / sqrt(var + ε) · γ + β (γ = 1 and β = 0,
    /// not read, without `affine`), the batch mean and biased variance `[2, C]`, and the running
    /// mean and (unbiased) variance `[C]` moved towards them by `momentum`; only the output is
    /// differentiable (in x, γ and β, through the batch statistics too).
    #[allow(clippy::too_many_arguments)]
    #[fusion(meta = |x, running, _rv, _g, _b, _m, _e, _a| forward_meta(x, running))]
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        momentum: f32,
        epsilon: f32,
        affine: bool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );

    /// The backward from dy: the input gradient (through the batch mean and variance; γ = 1
    /// without `affine`) and `[2, C]` Σdy (the gradient of β) and Σdy·x̂ (of γ) per channel;
    /// not differentiable.
    #[fusion(meta = |x, _dy, stats, _g, _e, _a| (x.clone(), stats.clone()))]
    fn batch_norm_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        epsilon: f32,
        affine: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

#[cfg(feature = "fusion")]
type Spec = burn::backend::fusion::custom::TensorSpec;

/// What Fusion records for the forward: the output like `x`, `[2, C]`, two like the running
/// mean.
#[cfg(feature = "fusion")]
fn forward_meta(x: &Spec, running: &Spec) -> (Spec, Spec, Spec, Spec) {
    let stats = Spec::new(Shape::new([2, x.shape[1]]), x.dtype);
    (x.clone(), stats, running.clone(), running.clone())
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
            let (dx, sums) = B::batch_norm_backward(x, dy, stats, gamma, epsilon, affine);
            if let Some(node) = node_x {
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
    fn batch_norm_forward(
        x: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        momentum: f32,
        epsilon: f32,
        affine: bool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let prepared = NormaliseBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (xp, gamma, beta) = (
            x.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
        );
        let (running_mean, running_var) =
            (running_mean.into_primitive(), running_var.into_primitive());
        let (y, stats, mean, var) = B::batch_norm_forward(
            xp.clone(),
            running_mean,
            running_var,
            gamma.clone(),
            beta,
            momentum,
            epsilon,
            affine,
        );
        let y = match prepared {
            OpsKind::Tracked(prep) => prep.finish((xp, stats.clone(), gamma, epsilon, affine), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        // constants outside any graph: the running statistics outlive this step's tape
        let [stats, mean, var] = [stats, mean, var].map(<Self as AutodiffBackend>::from_inner);
        (y, stats, mean, var)
    }

    fn batch_norm_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        epsilon: f32,
        affine: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let like = x.clone();
        let (dx, sums) = B::batch_norm_backward(
            x.into_primitive(),
            dy.into_primitive(),
            stats.into_primitive(),
            gamma.into_primitive(),
            epsilon,
            affine,
        );
        (untracked::<B, C>(&like, dx), untracked::<B, C>(&like, sums))
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
    let (output, _, running_mean, running_var) = Dispatch::batch_norm_forward(
        x.into_dispatch(),
        running_mean.detach().into_dispatch(),
        running_var.detach().into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        momentum as f32,
        epsilon as f32,
        is_affine,
    );
    Some(BatchNormTrain {
        output: Tensor::from_dispatch(output), // [B, C, H, W]
        running_mean: Tensor::from_dispatch(running_mean), // [C]
        running_var: Tensor::from_dispatch(running_var), // [C]
    })
}
