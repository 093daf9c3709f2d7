//! A batch-norm running statistic: a tensor outside the optimiser that each training forward
//! pass replaces, visited and recorded as a parameter under its id, exactly as Burn's
//! `RunningState` is (so model files and checkpoints are the same). Burn's keeps each thread's
//! update aside and averages them when the value is read, one division launch per statistic
//! and forward pass; a search or training updates each statistic from one thread at a time, and
//! the latest value is the running statistic.

use std::sync::{Arc, Mutex, MutexGuard};

use burn::module::{
    Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor,
    Param, ParamId,
};
use burn::tensor::{Device, Tensor};

/// A running statistic shared by the clones of its module (as Burn's `RunningState`).
#[derive(Clone, Debug)]
pub struct RunningStat<const D: usize> {
    id: ParamId,
    value: Arc<Mutex<Tensor<D>>>,
}

impl<const D: usize> RunningStat<D> {
    /// A statistic starting at `value`, with a new id.
    pub fn new(value: Tensor<D>) -> Self {
        Self::with_id(ParamId::new(), value)
    }

    fn with_id(id: ParamId, value: Tensor<D>) -> Self {
        Self {
            id,
            value: Arc::new(Mutex::new(value)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tensor<D>> {
        // a panic while the value was held leaves a whole tensor behind: keep using it
        self.value.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current value.
    pub fn value(&self) -> Tensor<D> {
        self.lock().clone()
    }

    /// Replaces the value (for every clone).
    pub fn update(&self, value: Tensor<D>) {
        *self.lock() = value;
    }
}

impl<const D: usize> Module for RunningStat<D> {
    fn collect_devices(&self, mut devices: Devices) -> Devices {
        let device = self.lock().device();
        if !devices.contains(&device) {
            devices.push(device);
        }
        devices
    }

    fn fork(self, device: &Device) -> Self {
        self.to_device(device)
    }

    fn to_device(self, device: &Device) -> Self {
        let moved = self.value().to_device(device);
        self.update(moved);
        self
    }

    fn train(self) -> Self {
        Self::with_id(self.id, Tensor::from_inner(self.value()))
    }

    fn valid(&self) -> Self {
        Self::with_id(self.id, self.value().without_autodiff())
    }

    fn materialize(self) -> Self {
        self
    }

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        visitor.visit_float(&Param::initialized(self.id, self.value()));
    }

    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        let param = mapper.map_float(Param::initialized(self.id, self.value()));
        let (_, tensor, _) = param.consume();
        // a buffer, not an optimiser target: mappers may change its value, never make it train
        self.update(tensor.set_require_grad(false));
        self
    }
}

impl<const D: usize> ModuleDisplayDefault for RunningStat<D> {
    fn content(&self, content: Content) -> Option<Content> {
        content.add_formatted(&"RunningStat".to_string()).optional()
    }
}

impl<const D: usize> ModuleDisplay for RunningStat<D> {}
