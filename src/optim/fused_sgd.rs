//! SGD with undampened momentum and weight decay as one op per parameter
//! ([`crate::kernels::sgd_step`]): the same arithmetic, in the same order, as Burn's `Sgd`, with
//! the gradient scaled first by the step's clipping factor where one is set. Its states are
//! recorded under Burn's `Sgd` names, so checkpoints of either load in the other.

use std::sync::{Arc, Mutex, MutexGuard};

use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

use crate::kernels::sgd_step::{SgdSettings, sgd_step};

/// The factor `[1]` every gradient of the step in progress is multiplied by (none: 1).
pub(super) type GradScale = Arc<Mutex<Option<Tensor<1>>>>;

/// The slot of a clipping factor (a panic while it was held leaves a whole value behind).
pub(super) fn lock(scale: &GradScale) -> MutexGuard<'_, Option<Tensor<1>>> {
    scale.lock().unwrap_or_else(|e| e.into_inner())
}

/// SGD with momentum (dampening 0, as PyTorch) and weight decay.
#[derive(Clone, Debug)]
pub(super) struct FusedSgd {
    /// Momentum of the velocity.
    pub momentum: f64,
    /// Weight decay added to the gradient.
    pub weight_decay: f32,
    /// The clipping factor of the step in progress, shared with the [`super::Optimiser`].
    pub scale: GradScale,
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
        let scale = lock(&self.scale).clone();
        let velocity = state.and_then(|s| s.0);
        let (tensor, velocity) = sgd_step(tensor, grad, velocity, scale, settings);
        (tensor, Some(Velocity(Some(velocity))))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Velocity(state.0.map(|v| v.to_device(device)))
    }
}
