//! The weight optimiser as the PyTorch code runs it: SGD with undampened momentum and weight
//! decay, gradient clipping by the global L2 norm over all parameters (`clip_grad_norm_`;
//! Burn's own clipping acts on each parameter separately), and the running loss and accuracy
//! of an epoch's steps.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{
    AdamConfig, GradientsParams, LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink,
    StateSource,
};
use burn::tensor::{Device, Tensor};

use crate::kernels::sgd_step::{SgdSettings, sgd_step};

/// SGD with momentum (dampening 0, as PyTorch; Burn defaults to 0.1) and weight decay, one
/// kernel launch per parameter on wgpu devices; its states are recorded as Burn's `Sgd` records
/// them, so checkpoints of either load in the other.
pub fn sgd(momentum: f64, weight_decay: f64) -> ModuleOptimizer {
    FusedSgd {
        momentum,
        weight_decay: weight_decay as f32,
    }
    .into()
}

/// SGD with undampened momentum and weight decay as one op per parameter
/// ([`crate::kernels::sgd_step`]); the same arithmetic, in the same order, as Burn's `Sgd`.
#[derive(Clone, Debug)]
struct FusedSgd {
    momentum: f64,
    weight_decay: f32,
}

/// The velocity of one parameter (none before its first step).
#[derive(Clone)]
pub struct Velocity<const D: usize>(Option<Tensor<D>>);

/// Where Burn's `SgdState` keeps its momentum's velocity, below the parameter's prefix.
const VELOCITY: &str = "momentum.velocity";

impl<const D: usize> RecordState for Velocity<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        if let Some(v) = &self.0 {
            out.push_tensor(prefix, VELOCITY, v.clone().into_data());
        }
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let velocity = src.take_tensor(prefix, VELOCITY);
        Some(Self(velocity.map(|data| Tensor::from_data(data, device))))
    }
}

impl Optimizer for FusedSgd {
    type State<const D: usize> = Velocity<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let settings = SgdSettings {
            lr,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            dampening: 0.0,
        };
        let velocity = state.and_then(|s| s.0);
        let (tensor, velocity) = sgd_step(tensor, grad, velocity, settings);
        (tensor, Some(Velocity(Some(velocity))))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Velocity(state.0.map(|v| v.to_device(device)))
    }
}

/// Adam on architecture parameters (b, α, β) with β₁, β₂ and weight decay, ε = 1e-8 as PyTorch.
pub fn arch_adam(beta1: f32, beta2: f32, weight_decay: f64) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(beta1)
        .with_beta_2(beta2)
        .with_epsilon(1e-8)
        .with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)))
        .init()
}

/// The cosine schedule `η(t) = min + ½(peak − min)(1 + cos(πt/total))` (PyTorch's
/// `CosineAnnealingLR`) after `t` scheduler steps. The reference search and evaluation scripts
/// step it at the start of each epoch, so their epoch e (from 0) trains at `η(e + 1)` and the
/// last at `min`; the one-stage script steps it at the end, so its epoch e trains at `η(e)`.
pub fn cosine_lr(peak: f64, min: f64, t: usize, total: usize) -> f64 {
    let progress = t as f64 / total.max(1) as f64;
    min + 0.5 * (peak - min) * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// An error naming the epoch and step (1-based) of `run` when a step's loss or gradient norm
/// is NaN or infinite: the run stops there, before anything of that epoch is written.
pub fn finite_step(
    loss: f64,
    grad_norm: f32,
    epoch: usize,
    step: usize,
    run: &str,
) -> crate::error::Result<()> {
    let what = if !loss.is_finite() {
        format!("the training loss is {loss}")
    } else if !grad_norm.is_finite() {
        format!("the gradient norm is {grad_norm}")
    } else {
        return Ok(());
    };
    Err(crate::error::IstaError::NonFinite(format!(
        "{what} at epoch {epoch}, step {step} of the {run}; the run stopped, and its checkpoint \
         (if any) holds the last good epoch. Start again with a lower learning rate"
    )))
}

/// Progress of one step, for the caller's progress bar.
#[derive(Clone, Copy, Debug)]
pub struct StepReport {
    /// Batch index within the epoch.
    pub batch: usize,
    /// Batches in the epoch.
    pub batches: usize,
    /// Mean training loss so far this epoch.
    pub loss: f64,
    /// Training accuracy so far this epoch.
    pub accuracy: f64,
}

/// Running mean loss and accuracy over batches of an epoch or an evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepStats {
    loss_sum: f64,
    seen: usize,
    right: usize,
}

impl StepStats {
    /// Adds a batch of `count` images with mean loss `loss`, `right` of them predicted correctly.
    pub fn add(&mut self, loss: f64, count: usize, right: usize) {
        self.loss_sum += loss * count as f64;
        self.seen += count;
        self.right += right;
    }

    /// Mean loss so far (0 before any batch).
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1) as f64
    }

    /// Accuracy so far (0 before any batch).
    pub fn accuracy(&self) -> f64 {
        self.right as f64 / self.seen.max(1) as f64
    }

    /// Images seen so far.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// The report after batch `batch` of `batches`.
    pub fn report(&self, batch: usize, batches: usize) -> StepReport {
        StepReport {
            batch,
            batches,
            loss: self.loss(),
            accuracy: self.accuracy(),
        }
    }
}

/// Every gradient flattened, for one concatenation, one square and one sum: a launch per
/// parameter on a GPU, where a square, a sum and an addition each would take three.
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    flat: Vec<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let n = grad.shape().num_elements();
            self.flat.push(grad.reshape([n])); // [n]
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: Tensor<1>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let factor = self.factor.clone().reshape([1; D]); // [1, …, 1]
            self.grads.register(param.id, grad * factor);
        }
    }
}

/// Scales all gradients of `module` by min(1, `max_norm` / (norm + 1e-6)), where norm is their
/// joint L2 norm, on the device: no host read, as PyTorch's `clip_grad_norm_` multiplies by the
/// clamped factor since 1.13. Returns the norm before clipping, `[1]` (`None` without gradients).
pub fn clip_global_norm<M: Module>(
    grads: &mut GradientsParams,
    module: &M,
    max_norm: f32,
) -> Option<Tensor<1>> {
    let mut norm = SquaredNorm {
        grads,
        flat: Vec::new(),
    };
    module.visit(&mut norm);
    if norm.flat.is_empty() {
        return None;
    }
    let total = Tensor::cat(norm.flat, 0).square().sum().sqrt(); // [1]
    let factor = (total.clone().add_scalar(1e-6).recip() * max_norm).clamp_max(1.0); // [1]
    module.visit(&mut Scale { grads, factor });
    Some(total)
}
