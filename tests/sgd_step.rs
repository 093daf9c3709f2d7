//! The weight optimiser's fused SGD step against Burn's `Sgd` (momentum, dampening 0, weight
//! decay): bit for bit on the CPU backend, within f32 rounding on lavapipe, one launch per
//! parameter there, and checkpoints that load in either optimiser.

mod common;

use burn::module::{Module, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Tensor};
use ista_nas::bench::dispatches::count_dispatches;
use ista_nas::kernels::sgd_step::{SgdSettings, sgd_step, sgd_step_reference};
use ista_nas::optim::sgd;
use ista_nas::storage::records::{load_optimiser, optimiser_bytes};

use common::{close, host, random, trainable, vulkan};

const MOMENTUM: f64 = 0.9;
const DECAY: f64 = 3e-4;

/// A weight whose length 4 does not divide (one value per thread) and a bias it does (four).
#[derive(Module, Debug)]
struct Tiny {
    weight: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
}

fn tiny(device: &Device) -> Tiny {
    Tiny {
        weight: Param::from_tensor(random([7, 5], 1, device)),
        bias: Param::from_tensor(random([12], 2, device)),
    }
}

/// Burn's own SGD with the weight optimiser's settings.
fn burn_sgd() -> ModuleOptimizer {
    SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(MOMENTUM)
                .with_dampening(0.0),
        ))
        .with_weight_decay(Some(WeightDecayConfig::new(DECAY as f32)))
        .init()
}

/// The gradients of a loss that changes with `step`: Σ (W·x)² · (1 + step) + Σ b³.
fn grads(model: &Tiny, step: usize, device: &Device) -> GradientsParams {
    let x = random([5, 3], 10 + step as u64, device);
    let y = model.weight.val().matmul(x); // [7, 3]
    let loss = y.powi_scalar(2).sum().mul_scalar(1.0 + step as f64)
        + model.bias.val().powi_scalar(3).sum();
    GradientsParams::from_grads(loss.backward(), model)
}

/// `steps` steps of `optim` from step `from` at a learning rate that changes each step.
fn train(mut model: Tiny, optim: &mut ModuleOptimizer, from: usize, steps: usize) -> Tiny {
    let device = model.weight.val().device();
    for step in from..from + steps {
        let g = grads(&model, step, &device);
        model = optim.step(0.1 / (1.0 + step as f64), model, g);
    }
    model
}

#[test]
fn the_cpu_backend_steps_exactly_as_burns_sgd() {
    let device = Device::flex().autodiff();
    let ours = train(tiny(&device), &mut sgd(MOMENTUM, DECAY), 0, 4);
    let burns = train(tiny(&device), &mut burn_sgd(), 0, 4);
    assert_eq!(trainable(&ours), trainable(&burns));
    assert_ne!(
        trainable(&ours),
        trainable(&tiny(&device)),
        "the steps moved nothing"
    );
}

#[test]
fn the_kernel_steps_as_burns_sgd_on_lavapipe() {
    let device = vulkan().autodiff();
    let ours = train(tiny(&device), &mut sgd(MOMENTUM, DECAY), 0, 4);
    let burns = train(tiny(&device), &mut burn_sgd(), 0, 4);
    close(
        &trainable(&ours),
        &trainable(&burns),
        1e-6,
        "parameters after 4 steps",
    );
}

#[test]
fn the_kernel_matches_the_reference_on_first_and_later_steps() {
    let device = vulkan();
    let settings = SgdSettings {
        lr: 0.025,
        weight_decay: 3e-4,
        momentum: 0.9,
        dampening: 0.1,
    };
    // 1 and 4 values per thread; past one workgroup of 256 threads
    for n in [1, 3, 4, 1027, 4096 + 4] {
        let (p, g, v) = (
            random([n], 20, &device),
            random([n], 21, &device),
            random([n], 22, &device),
        );
        let got = sgd_step(p.clone(), g.clone(), None, settings);
        let want = sgd_step_reference(p.clone(), g.clone(), None, settings);
        close(&host(got.0), &host(want.0), 1e-6, "first step: parameter");
        close(&host(got.1), &host(want.1), 1e-6, "first step: velocity");
        let got = sgd_step(p.clone(), g.clone(), Some(v.clone()), settings);
        let want = sgd_step_reference(p, g, Some(v), settings);
        close(&host(got.0), &host(want.0), 1e-6, "later step: parameter");
        close(&host(got.1), &host(want.1), 1e-6, "later step: velocity");
    }
}

#[test]
fn a_step_launches_one_kernel_per_parameter() {
    let device = vulkan().autodiff();
    let model = tiny(&device);
    let mut optim = sgd(MOMENTUM, DECAY);
    let model = train(model, &mut optim, 0, 1);
    let g = grads(&model, 1, &device);
    let (_, launches) = count_dispatches(|| optim.step(0.1, model, g));
    let total: u64 = launches.values().sum();
    assert_eq!(total, 2, "{launches:?}");
    assert!(
        launches.keys().all(|k| k.contains("WgslKernel")),
        "{launches:?}"
    );
}

#[test]
fn checkpoints_load_in_either_optimiser() {
    let device = Device::flex().autodiff();
    let mut ours = sgd(MOMENTUM, DECAY);
    let model = train(tiny(&device), &mut ours, 0, 2);
    let saved = optimiser_bytes(&ours, "ours").unwrap();
    let mut into_burns = load_optimiser(&burn_sgd(), saved, "into Burn's").unwrap();
    let a = train(model.clone(), &mut ours, 2, 2);
    let b = train(model.clone(), &mut into_burns, 2, 2);
    assert_eq!(trainable(&a), trainable(&b), "ours resumed in Burn's");

    let mut burns = burn_sgd();
    let model = train(tiny(&device), &mut burns, 0, 2);
    let saved = optimiser_bytes(&burns, "Burn's").unwrap();
    let mut into_ours = load_optimiser(&sgd(MOMENTUM, DECAY), saved, "into ours").unwrap();
    let a = train(model.clone(), &mut burns, 2, 2);
    let b = train(model, &mut into_ours, 2, 2);
    assert_eq!(trainable(&a), trainable(&b), "Burn's resumed in ours");
}
