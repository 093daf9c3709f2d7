//! One SGD step with momentum and weight decay as a single op: one WGSL dispatch per parameter
//! on wgpu devices (Burn's `Sgd` takes seven: two products and a sum for the decay and the
//! momentum each, a product and a difference for the update; one more where the gradient is
//! clipped), Burn's ops in the same order elsewhere, so the CPU backend's steps are bit for bit
//! those of a product by the clipping factor and Burn's `Sgd`.

use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, into_contiguous};
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::tensor::{DType, Tensor};

use super::launch_plan;
use super::wgsl::{Program, WORKGROUP, empty_like, launch, plan_grid};
use crate::devices::adapter::runs_wgsl;

/// The scalars of one step (host values, copied into the launch's uniform).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdSettings {
    /// Learning rate of this step.
    pub lr: f64,
    /// Weight decay (L2 penalty) added to the gradient.
    pub weight_decay: f32,
    /// Momentum of the velocity.
    pub momentum: f64,
    /// Dampening of the gradient in the velocity (0 in PyTorch's default).
    pub dampening: f64,
}

/// The fused SGD step (not differentiable; it runs on the inner backend).
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"))]
pub trait SgdOps: Backend {
    /// (p − v·lr, v) with g = p·wd + grad·scale[0] (grad alone without `scaled`: `scale` `[1]`
    /// is not read then) and v = g on the `first` step (`velocity` is not read then) or
    /// g·(1 − dampening) + velocity·momentum; the outputs shaped like `param`.
    #[allow(clippy::too_many_arguments)]
    #[fusion(meta = |param, _g, _v, _s, _settings, _first, _scaled| (param.clone(), param.clone()))]
    fn sgd_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        velocity: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        settings: SgdSettings,
        first: bool,
        scaled: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

impl SgdOps for CubeBackend {
    fn sgd_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        velocity: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        s: SgdSettings,
        first: bool,
        scaled: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (param, grad) = (into_contiguous(param), into_contiguous(grad));
        let scale = if scaled {
            into_contiguous(scale)
        } else {
            grad.clone()
        };
        let velocity = if first {
            grad.clone()
        } else {
            into_contiguous(velocity)
        };
        let shape = param.meta.shape().clone();
        let n = shape.num_elements();
        if n == 0 {
            return (param, velocity);
        }
        let (param_out, velocity_out) =
            (empty_like(&param, shape.clone()), empty_like(&param, shape));
        let quads = n.is_multiple_of(4);
        let per_thread = if quads { 4 } else { 1 };
        let plan =
            launch_plan::elementwise("sgd_step", n, per_thread, WORKGROUP as usize, (3, 2), 1);
        let elems = (n / per_thread) as u32;
        let handles = [&param, &grad, &velocity, &scale, &param_out, &velocity_out]
            .map(|t| t.handle.clone())
            .to_vec();
        let params = [
            elems,
            (s.lr as f32).to_bits(),
            s.weight_decay.to_bits(),
            (s.momentum as f32).to_bits(),
            ((1.0 - s.dampening) as f32).to_bits(),
            first as u32,
            scaled as u32,
        ];
        launch(
            &param,
            Program::SgdStep { quads },
            plan_grid(&plan),
            handles,
            &params,
        );
        (param_out, velocity_out)
    }
}

/// One SGD step of `param` (see [`SgdOps::sgd_step`]), its gradient multiplied by `scale` `[1]`
/// first where given (the clipping factor): the WGSL kernel on wgpu devices for f32, Burn's ops
/// in Burn's `Sgd` order elsewhere. Returns (new parameter, new velocity).
pub fn sgd_step<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    velocity: Option<Tensor<D>>,
    scale: Option<Tensor<1>>,
    settings: SgdSettings,
) -> (Tensor<D>, Tensor<D>) {
    let f32s = param.dtype() == DType::F32 && grad.dtype() == DType::F32;
    if runs_wgsl(&param.device())
        && f32s
        && velocity.as_ref().is_none_or(|v| v.dtype() == DType::F32)
    {
        let (first, scaled) = (velocity.is_none(), scale.is_some());
        let velocity = velocity.unwrap_or_else(|| grad.clone());
        // not read without `scaled`: any f32 tensor holds its place
        let scale = scale.unwrap_or_else(|| grad.clone().reshape([-1]));
        let (p, v) = Dispatch::sgd_step(
            param.into_dispatch(),
            grad.into_dispatch(),
            velocity.into_dispatch(),
            scale.into_dispatch(),
            settings,
            first,
            scaled,
        );
        return (Tensor::from_dispatch(p), Tensor::from_dispatch(v));
    }
    sgd_step_reference(param, grad, velocity, scale, settings)
}

/// [`sgd_step`] in Burn's ops: the gradient times the clipping factor as a separate product,
/// then in the order of Burn's `Sgd` (weight decay, momentum, update) with the scalars it uses.
pub fn sgd_step_reference<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    velocity: Option<Tensor<D>>,
    scale: Option<Tensor<1>>,
    s: SgdSettings,
) -> (Tensor<D>, Tensor<D>) {
    let grad = match scale {
        Some(factor) => grad * factor.reshape([1; D]), // [1, …, 1]
        None => grad,
    };
    let grad = param.clone().mul_scalar(s.weight_decay).add(grad);
    let velocity = match velocity {
        Some(v) => grad
            .mul_scalar(1.0 - s.dampening)
            .add(v.mul_scalar(s.momentum)),
        None => grad,
    };
    let delta = velocity.clone().mul_scalar(s.lr);
    (param - delta, velocity)
}
