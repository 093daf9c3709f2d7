//! The batch-norm kernels (WGSL on lavapipe, Rust on the CPU backend) against Burn's own batch
//! norm: output, running statistics and the gradients of input, γ and β.

mod common;

use burn::tensor::module::batch_norm_train;
use burn::tensor::{Device, Tensor};
use ista_nas::kernels::batch_norm::batch_norm_train_fused;

use common::{close, host, random, vulkan};

const EPS: f64 = 1e-5;
const MOMENTUM: f64 = 0.1;

/// One training-mode batch norm of `dims` both ways, compared; `strided` feeds a transposed view,
/// `affine` false runs without γ and β (as Burn's with γ = 1, β = 0).
fn check(
    device: &Device,
    dims: [usize; 4],
    seed: u64,
    strided: bool,
    input_grad: bool,
    affine: bool,
) {
    let what = format!("{dims:?} strided={strided} affine={affine} on {device:?}");
    let channels = dims[1];
    let mut x = random(dims, seed, device) * 3.0 + 0.5;
    if strided {
        // Same dims, non-contiguous: build [B, H, C, W] and swap back.
        let [b, c, h, w] = dims;
        x = (random([b, h, c, w], seed, device) * 3.0 + 0.5).swap_dims(1, 2);
    }
    let x = if input_grad { x.require_grad() } else { x };
    let (gamma, beta) = if affine {
        (
            random([channels], seed + 1, device),
            random([channels], seed + 2, device),
        )
    } else {
        (
            Tensor::ones([channels], device),
            Tensor::zeros([channels], device),
        )
    };
    let (gamma, beta) = (gamma.require_grad(), beta.require_grad());
    let running_mean = random([channels], seed + 3, device);
    let running_var = random([channels], seed + 4, device).abs() + 0.5;
    let running = (running_mean.clone(), running_var.clone());
    let params = affine.then(|| (gamma.clone(), beta.clone()));
    let ours = batch_norm_train_fused(x.clone(), params, running, MOMENTUM, EPS)
        .expect("the kernels apply to f32 tensors on this device");
    let theirs = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), EPS);
    close(
        &host(ours.output.clone()),
        &host(theirs.output.clone()),
        1e-5,
        &format!("y {what}"),
    );

    let n = (dims[0] * dims[2] * dims[3]) as f64;
    let unbiased = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
    let mean = running_mean * (1.0 - MOMENTUM) + theirs.mean.detach() * MOMENTUM;
    let var = running_var * (1.0 - MOMENTUM) + theirs.variance.detach() * (MOMENTUM * unbiased);
    close(
        &host(ours.running_mean),
        &host(mean),
        1e-5,
        &format!("running mean {what}"),
    );
    close(
        &host(ours.running_var),
        &host(var),
        1e-5,
        &format!("running var {what}"),
    );

    let up: Tensor<4> = random(dims, seed + 5, device);
    let g1 = (ours.output * up.clone()).sum().backward();
    let g2 = (theirs.output * up).sum().backward();
    if input_grad {
        let dx = |g| host(x.grad(g).unwrap());
        close(&dx(&g1), &dx(&g2), 1e-4, &format!("dx {what}"));
    }
    if !affine {
        assert!(gamma.grad(&g1).is_none(), "no γ in use, no gradient for it");
        return;
    }
    close(
        &host(gamma.grad(&g1).unwrap()),
        &host(gamma.grad(&g2).unwrap()),
        1e-4,
        &format!("dγ {what}"),
    );
    close(
        &host(beta.grad(&g1).unwrap()),
        &host(beta.grad(&g2).unwrap()),
        1e-4,
        &format!("dβ {what}"),
    );
}

/// Shapes that exercise the per-channel reductions: fewer elements than a workgroup, a plane
/// of one pixel, many more elements than a workgroup (not a power of two), many channels; and
/// planes of whole fours (four pixels per thread on wgpu), one of more than a workgroup's fours.
fn all_cases(device: &Device) {
    check(device, [2, 3, 32, 12], 80, false, true, true);
    check(device, [3, 4, 4, 2], 90, true, true, true);
    check(device, [4, 3, 5, 6], 10, false, true, true);
    check(device, [2, 5, 1, 1], 20, false, true, true);
    check(device, [16, 7, 9, 9], 30, false, true, true);
    check(device, [3, 70, 4, 4], 40, false, true, true);
    check(device, [4, 6, 5, 3], 50, true, true, true);
    check(device, [4, 3, 5, 6], 60, false, false, true);
    check(device, [8, 5, 7, 7], 70, false, true, false);
}

#[test]
fn wgsl_batch_norm_matches_burns_on_lavapipe() {
    all_cases(&vulkan().autodiff());
}

#[test]
fn cpu_batch_norm_matches_burns_on_the_cpu_backend() {
    all_cases(&Device::flex().autodiff());
}

#[test]
fn kernels_also_run_without_autodiff() {
    for device in [vulkan(), Device::flex()] {
        let x = random([4, 3, 5, 6], 70, &device);
        let ones = Tensor::ones([3], &device);
        let zeros = Tensor::zeros([3], &device);
        let affine = Some((ones.clone(), zeros.clone()));
        let running = (zeros.clone(), ones.clone());
        let r = batch_norm_train_fused(x.clone(), affine, running, MOMENTUM, EPS).unwrap();
        let theirs = batch_norm_train(x, ones, zeros, EPS);
        close(
            &host(r.output),
            &host(theirs.output),
            1e-5,
            "y without autodiff",
        );
    }
}
