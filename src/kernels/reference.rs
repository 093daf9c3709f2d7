//! Plain Burn-ops implementations of the kernels: the path on non-wgpu devices and the tests' reference.

use burn::tensor::{Int, Tensor, TensorData};

/// y = sign(x) · max(|x| − t, 0).
pub fn soft_threshold<const D: usize>(x: Tensor<D>, threshold: f32) -> Tensor<D> {
    x.clone().sign() * (x.abs() - threshold).clamp_min(0.0)
}

/// out = Σ_j coeffs[support[j]] · ops[j]; `ops` `[S, N]`, `coeffs` `[n]`, out `[N]`.
pub fn masked_mixed_op(ops: Tensor<2>, coeffs: Tensor<1>, support: &[usize]) -> Tensor<1> {
    let [s, width] = ops.dims();
    let device = ops.device();
    if s == 0 {
        return Tensor::zeros([width], &device);
    }
    let index = Tensor::<1, Int>::from_data(
        TensorData::new(support.iter().map(|&k| k as i64).collect(), [s]),
        &device,
    );
    let active = coeffs.select(0, index).reshape([s, 1]); // [S, 1]
    (ops * active).sum_dim(0).reshape([width]) // [N]
}
