//! A module's optimiser with the reference's gradient clipping by the global L2 norm over all
//! parameters (`clip_grad_norm_`): Burn's `ModuleOptimizer` underneath; for the weights' SGD the
//! clipping factor is applied inside each parameter's step launch, for others by a product per
//! gradient before the step.

use std::sync::{Arc, Mutex};

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;

use super::fused_sgd::{FusedSgd, GradScale, lock};
use crate::profile::scope;

/// An optimiser of a module's parameters, with global-norm clipping.
#[derive(Clone)]
pub struct Optimiser {
    inner: ModuleOptimizer,
    /// The fused SGD's clipping factor for the step in progress (SGD only).
    scale: Option<GradScale>,
}

/// SGD with momentum (dampening 0, as PyTorch; Burn defaults to 0.1) and weight decay, one
/// kernel launch per parameter on wgpu devices, the clipping factor included.
pub fn sgd(momentum: f64, weight_decay: f64) -> Optimiser {
    let scale = Arc::new(Mutex::new(None));
    let sgd = FusedSgd {
        momentum,
        weight_decay: weight_decay as f32,
        scale: scale.clone(),
    };
    Optimiser {
        inner: sgd.into(),
        scale: Some(scale),
    }
}

/// Adam on architecture parameters (b, α, β) with β₁, β₂ and weight decay, ε = 1e-8 as PyTorch.
pub fn arch_adam(beta1: f32, beta2: f32, weight_decay: f64) -> Optimiser {
    AdamConfig::new()
        .with_beta_1(beta1)
        .with_beta_2(beta2)
        .with_epsilon(1e-8)
        .with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)))
        .init()
        .into()
}

/// Any of Burn's optimisers, its gradients clipped by a product each before its step.
impl From<ModuleOptimizer> for Optimiser {
    fn from(inner: ModuleOptimizer) -> Self {
        Self { inner, scale: None }
    }
}

impl Optimiser {
    /// One step of `module` with `grads` at learning rate `lr`, every gradient scaled by
    /// min(1, `clip` / (norm + 1e-6)) first when `clip` is given, norm being their joint L2 norm,
    /// on the device (no host read, as PyTorch's `clip_grad_norm_` since 1.13). Returns the
    /// module and the norm before clipping, `[1]` (`None` without `clip` or gradients).
    pub fn step<M: Module>(
        &mut self,
        lr: f64,
        module: M,
        mut grads: GradientsParams,
        clip: Option<f32>,
    ) -> (M, Option<Tensor<1>>) {
        let norm = clip.and_then(|clip| {
            scope("clip", || {
                let (norm, factor) = clip_factor(&grads, &module, clip)?;
                match &self.scale {
                    Some(scale) => *lock(scale) = Some(factor),
                    None => module.visit(&mut Scale {
                        grads: &mut grads,
                        factor,
                    }),
                }
                Some(norm)
            })
        });
        let module = scope("optimiser", || self.inner.step(lr, module, grads));
        if let Some(scale) = &self.scale {
            *lock(scale) = None;
        }
        (module, norm)
    }

    /// Burn's optimiser underneath (its state is what checkpoints record).
    pub fn module_optimizer(&self) -> &ModuleOptimizer {
        &self.inner
    }

    /// This optimiser with `inner`'s state (a record loaded into [`Self::module_optimizer`]).
    pub fn with_module_optimizer(&self, inner: ModuleOptimizer) -> Self {
        Self {
            inner,
            scale: self.scale.clone(),
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

/// The joint L2 norm of `module`'s gradients and the clipping factor min(1, `max_norm` /
/// (norm + 1e-6)), both `[1]` on the device (`None` without gradients).
fn clip_factor<M: Module>(
    grads: &GradientsParams,
    module: &M,
    max_norm: f32,
) -> Option<(Tensor<1>, Tensor<1>)> {
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
    Some((total, factor))
}
