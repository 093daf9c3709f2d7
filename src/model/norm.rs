//! Batch normalisation (eps 1e-5, momentum 0.1) that can be non-affine, as inside search cells.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::module::{batch_norm, batch_norm_train};
use burn::tensor::{Device, Tensor, TensorData};

use super::running_stat::RunningStat;
use crate::kernels::batch_norm::batch_norm_train_fused;
use crate::profile::scope;

/// Momentum of the running statistics.
pub const BN_MOMENTUM: f64 = 0.1;
/// Epsilon added to the variance.
pub const BN_EPSILON: f64 = 1e-5;

/// BatchNorm2d: batch statistics while training (autodiff device), running ones otherwise.
#[derive(Module, Debug)]
pub struct Norm {
    /// Scale γ, when affine.
    pub gamma: Option<Param<Tensor<1>>>,
    /// Shift β, when affine.
    pub beta: Option<Param<Tensor<1>>>,
    /// Running mean.
    pub running_mean: RunningStat<1>,
    /// Running (unbiased) variance.
    pub running_var: RunningStat<1>,
    /// Channels.
    pub channels: usize,
}

impl Norm {
    /// A BN over `channels`, with learnable γ = 1, β = 0 when `affine`.
    pub fn new(channels: usize, affine: bool, device: &Device) -> Self {
        let param = |value: f32| Param::from_tensor(Tensor::full([channels], value, device));
        Self {
            gamma: affine.then(|| param(1.0)),
            beta: affine.then(|| param(0.0)),
            running_mean: RunningStat::new(Tensor::zeros([channels], device)),
            running_var: RunningStat::new(Tensor::ones([channels], device)),
            channels,
        }
    }

    fn scale_shift(&self, device: &Device) -> (Tensor<1>, Tensor<1>) {
        match (&self.gamma, &self.beta) {
            (Some(g), Some(b)) => (g.val(), b.val()),
            _ => (
                Tensor::ones([self.channels], device),
                Tensor::zeros([self.channels], device),
            ),
        }
    }

    /// This BN with its output scaled by `w` (Eq. 12: γ̂ = w·γ, β̂ = w·β; a non-affine BN
    /// becomes affine with γ̂ = w, β̂ = 0). Running statistics are kept.
    pub fn scaled(&self, w: f32) -> Self {
        let device = self.running_mean.value().device();
        let (gamma, beta) = self.scale_shift(&device);
        let param = |t: Tensor<1>| {
            let values: Vec<f32> = t.into_data().iter::<f32>().map(|v| v * w).collect();
            let n = values.len();
            Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(values, [n]),
                &device,
            )))
        };
        Self {
            gamma: param(gamma),
            beta: param(beta),
            running_mean: self.running_mean.clone(),
            running_var: self.running_var.clone(),
            channels: self.channels,
        }
    }

    /// `[B, C, H, W]` → `[B, C, H, W]`.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        scope("batch norm", || self.normalise(input))
    }

    fn normalise(&self, input: Tensor<4>) -> Tensor<4> {
        let device = input.device();
        if !device.is_autodiff() {
            let (gamma, beta) = self.scale_shift(&device);
            let mean = self.running_mean.value().to_device(&device);
            let var = self.running_var.value().to_device(&device);
            return batch_norm(input, gamma, beta, mean, var, BN_EPSILON);
        }
        let running = (
            self.running_mean.value().to_device(&device),
            self.running_var.value().to_device(&device),
        );
        let affine = self.gamma.as_ref().zip(self.beta.as_ref());
        let affine = affine.map(|(g, b)| (g.val(), b.val()));
        let fused = batch_norm_train_fused(
            input.clone(),
            affine,
            running.clone(),
            BN_MOMENTUM,
            BN_EPSILON,
        );
        if let Some(r) = fused {
            self.running_mean.update(r.running_mean);
            self.running_var.update(r.running_var);
            return r.output;
        }
        let (gamma, beta) = self.scale_shift(&device);
        let [b, _, h, w] = input.dims();
        let n = (b * h * w) as f64;
        let r = batch_norm_train(input, gamma, beta, BN_EPSILON);
        let unbiased = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
        let mean = running.0 * (1.0 - BN_MOMENTUM) + r.mean.detach() * BN_MOMENTUM;
        let var = running.1 * (1.0 - BN_MOMENTUM) + r.variance.detach() * (BN_MOMENTUM * unbiased);
        self.running_mean.update(mean.detach());
        self.running_var.update(var.detach());
        r.output
    }
}

/// `module` with the γ and β of every BN in it trainable (`true`) or held constant (`false`);
/// its other parameters are left as they are.
pub fn with_affine_trainable<M: Module>(module: M, trainable: bool) -> M {
    struct Affine {
        trainable: bool,
        path: Vec<String>,
    }
    impl ModuleMapper for Affine {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            match self.path.last().map(String::as_str) {
                Some("gamma" | "beta") => param.set_require_grad(self.trainable),
                _ => param,
            }
        }
    }
    module.map(&mut Affine {
        trainable,
        path: Vec::new(),
    })
}

/// `module` with `f` applied to the running mean and running variance of every BN in it, in
/// the module's visiting order (mean before variance); its parameters are left as they are.
/// The running states are shared with every clone of `module`, which sees the new values too.
pub fn map_running_stats<M: Module>(module: M, f: &mut dyn FnMut(Tensor<1>) -> Tensor<1>) -> M {
    struct Running<'a> {
        f: &'a mut dyn FnMut(Tensor<1>) -> Tensor<1>,
        path: Vec<String>,
    }
    impl ModuleMapper for Running<'_> {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if !matches!(
                self.path.last().map(String::as_str),
                Some("running_mean" | "running_var")
            ) || D != 1
            {
                return param;
            }
            let (id, tensor, mapper) = param.consume();
            let dims = tensor.dims();
            let value = (self.f)(tensor.reshape([dims[0]]));
            Param::from_mapped_value(id, value.reshape(dims), mapper)
        }
    }
    module.map(&mut Running {
        f,
        path: Vec::new(),
    })
}
