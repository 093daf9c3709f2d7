//! The project's kernels: soft-thresholding, the masked mixed op, the batched LASSO solver,
//! training-mode batch norm and the SGD step on the GPU; depthwise convolution and batch norm on
//! the CPU.
//!
//! Each kernel is a raw WGSL file under `shaders/`, launched through Burn's template path on
//! wgpu devices. On other devices (Burn's CPU backend) the same functions run the plain
//! Burn-ops implementation in [`reference`], which the tests also use as ground truth.

mod autodiff;
pub mod batch_norm;
pub mod batch_norm_cpu;
mod batch_norm_wgsl;
mod column_sums_wgsl;
pub mod conv_launch_plan;
pub mod depthwise;
pub mod depthwise_cpu;
mod depthwise_wgsl;
mod flex_data;
pub mod launch_plan;
pub mod launch_record;
pub mod pointwise;
mod pointwise_wgsl;
pub mod reference;
pub mod sgd_step;
pub mod variant;
pub mod wgsl;
pub mod wgsl_variants;

use burn::backend::{Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::{DType, Shape, Tensor};

use crate::devices::adapter::runs_wgsl;
use crate::error::{IstaError, Result};

/// Indices of the active ops, in the order their outputs are stacked.
pub type Support = Vec<u32>;

/// Settings of one batched FISTA launch (host values, copied into a small GPU buffer).
#[derive(Clone, Debug, PartialEq)]
pub struct FistaLaunch {
    /// Rows of each (padded) measurement matrix.
    pub m: usize,
    /// Columns of each (padded) measurement matrix.
    pub n: usize,
    /// Lipschitz constant ‖A_p‖₂² of each problem.
    pub lipschitz: Vec<f32>,
    /// The ℓ1 weight λ.
    pub lambda: f32,
    /// Iteration cap.
    pub max_iter: u32,
    /// Relative step tolerance (stop when the iterate stalls).
    pub tol: f32,
    /// KKT tolerance (in units of λ) that certifies a polished solution.
    pub kkt_tol: f32,
    /// Most iterations per problem in one dispatch.
    pub chunk: u32,
    /// Dispatches queued by one call.
    pub dispatches: u32,
}

/// Differentiable custom ops with WGSL kernels on wgpu and a hand-written backward.
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"), Autodiff)]
pub trait IstaOps: Backend {
    /// y = sign(x) · max(|x| − t, 0), elementwise.
    #[fusion(dtype = x, shape = x)]
    fn soft_threshold(x: FloatTensor<Self>, threshold: f32) -> FloatTensor<Self>;

    /// max(x, 0) elementwise (NaN passes through, as Burn's ReLU).
    #[fusion(dtype = x, shape = x)]
    fn relu_kernel(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// dy where y > 0, else 0: the ReLU backward from its output y; not differentiable.
    #[fusion(dtype = dy, shape = dy)]
    fn relu_kernel_grad(y: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self>;

    /// out = Σ_j coeffs[support[j]] · ops[j]; `ops` is `[S, N]`, `coeffs` is `[n]`, out is `[N]`.
    #[fusion(dtype = ops, shape = mixed_shape(ops))]
    fn masked_mixed_op(
        ops: FloatTensor<Self>,
        coeffs: FloatTensor<Self>,
        support: Support,
    ) -> FloatTensor<Self>;

    /// The mixed op's gradient for its op outputs: `[S, N]`, row j = coeffs[support[j]] · g,
    /// for `g` `[N]`; not differentiable.
    #[fusion(dtype = g, shape = Shape::new([support.len(), g[0]]))]
    fn masked_mixed_op_grad(
        g: FloatTensor<Self>,
        coeffs: FloatTensor<Self>,
        support: Support,
    ) -> FloatTensor<Self>;
}

/// Non-differentiable solver kernels (called on devices without autodiff).
#[backend_extension(Cube, Fusion: cfg(feature = "fusion"))]
pub trait SolverOps: Backend {
    /// Resumes batched FISTA: `a` `[P, M, N]`, `b` `[P, M]`, `state` `[P, 2N + 3]` (x, y, t,
    /// iterations, status), updated in place by `launch.dispatches` chunks and returned.
    #[fusion(dtype = state, shape = state)]
    fn lasso_fista(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        state: FloatTensor<Self>,
        launch: FistaLaunch,
    ) -> FloatTensor<Self>;
}

fn mixed_shape(ops: &Shape) -> Shape {
    Shape::from(ops.iter().skip(1).copied().collect::<Vec<usize>>())
}

fn use_kernel<const D: usize>(x: &Tensor<D>) -> bool {
    runs_wgsl(&x.device()) && x.dtype() == DType::F32
}

/// Soft-thresholding of every element: the WGSL kernel on wgpu devices, Burn ops elsewhere.
pub fn soft_threshold<const D: usize>(x: Tensor<D>, threshold: f32) -> Tensor<D> {
    if use_kernel(&x) {
        Tensor::from_dispatch(Dispatch::soft_threshold(x.into_dispatch(), threshold))
    } else {
        reference::soft_threshold(x, threshold)
    }
}

/// ReLU: one WGSL dispatch each way on wgpu devices (Burn's takes two), Burn's elsewhere.
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if use_kernel(&x) {
        Tensor::from_dispatch(Dispatch::relu_kernel(x.into_dispatch()))
    } else {
        burn::tensor::activation::relu(x)
    }
}

/// Weighted sum of the active ops' outputs: `ops` is `[S, N]` (row j is op `support[j]`),
/// `coeffs` is `[n]`; returns `[N]`. Gradients reach `ops` and `coeffs[support]` only.
pub fn masked_mixed_op(ops: Tensor<2>, coeffs: Tensor<1>, support: &[usize]) -> Result<Tensor<1>> {
    let [s, _] = ops.dims();
    let [n] = coeffs.dims();
    if s != support.len() {
        return Err(IstaError::Shape(format!(
            "{s} op outputs for a support of {} ops",
            support.len()
        )));
    }
    if let Some(bad) = support.iter().find(|&&k| k >= n) {
        return Err(IstaError::Shape(format!(
            "support index {bad} outside {n} coefficients"
        )));
    }
    if use_kernel(&ops) {
        let support = support.iter().map(|&k| k as u32).collect();
        Ok(Tensor::from_dispatch(Dispatch::masked_mixed_op(
            ops.into_dispatch(),
            coeffs.into_dispatch(),
            support,
        )))
    } else {
        Ok(reference::masked_mixed_op(ops, coeffs, support))
    }
}

/// Resumes the batched FISTA kernel on `state` (all tensors on a wgpu device without autodiff).
pub(crate) fn lasso_fista(
    a: Tensor<3>,
    b: Tensor<2>,
    state: Tensor<2>,
    launch: FistaLaunch,
) -> Tensor<2> {
    Tensor::from_dispatch(Dispatch::lasso_fista(
        a.into_dispatch(),
        b.into_dispatch(),
        state.into_dispatch(),
        launch,
    ))
}
