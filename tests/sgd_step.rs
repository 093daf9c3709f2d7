//! The weight optimiser's fused SGD step against Burn's `Sgd` (momentum, dampening 0, weight
//! decay) after a product of each gradient by the clipping factor: bit for bit on the CPU
//! backend, within f32 rounding on lavapipe, one launch per parameter there, clipping included,
//! and checkpoints that load in either optimiser.

mod common;

use burn::module::{Module, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Tensor};
use ista_nas::bench::dispatches::count_dispatches;
use ista_nas::kernels::sgd_step::{SgdSettings, sgd_step, sgd_step_reference};
use ista_nas::optim::{Optimiser, sgd};
use ista_nas::storage::records::{load_optimiser, optimiser_bytes};

use common::{close, host, random, serial, trainable, vulkan};

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

/// Burn's own SGD with the weight optimiser's settings (clipped by a product per gradient).
fn burn_sgd() -> Optimiser {
    SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(MOMENTUM)
                .with_dampening(0.0),
        ))
        .with_weight_decay(Some(WeightDecayConfig::new(DECAY as f32)))
        .init()
        .into()
}

/// The gradients of a loss that changes with `step`: Σ (W·x)² · (1 + step) + Σ b³.
fn grads(model: &Tiny, step: usize, device: &Device) -> GradientsParams {
    let x = random([5, 3], 10 + step as u64, device);
    let y = model.weight.val().matmul(x); // [7, 3]
    let loss = y.powi_scalar(2).sum().mul_scalar(1.0 + step as f64)
        + model.bias.val().powi_scalar(3).sum();
    GradientsParams::from_grads(loss.backward(), model)
}

/// A global norm the gradients of [`grads`] exceed from the second step on, so that the
/// steps after the first are clipped.
const CLIP: f32 = 10.0;

/// `steps` steps of `optim` from step `from` at a learning rate that changes each step,
/// clipped to [`CLIP`] when `clip`.
fn train(mut model: Tiny, optim: &mut Optimiser, from: usize, steps: usize, clip: bool) -> Tiny {
    let device = model.weight.val().device();
    for step in from..from + steps {
        let g = grads(&model, step, &device);
        let lr = 0.1 / (1.0 + step as f64);
        let (stepped, norm) = optim.step(lr, model, g, clip.then_some(CLIP));
        assert_eq!(norm.is_some(), clip);
        model = stepped;
    }
    model
}

/// The norms of the first `steps` steps' gradients before clipping.
fn first_norms(steps: usize) -> Vec<f32> {
    let device = Device::flex().autodiff();
    let mut model = tiny(&device);
    let mut optim = sgd(MOMENTUM, DECAY);
    (0..steps)
        .map(|step| {
            let g = grads(&model, step, &device);
            let (stepped, norm) =
                optim.step(0.1 / (1.0 + step as f64), model.clone(), g, Some(CLIP));
            model = stepped;
            norm.unwrap().into_scalar::<f32>()
        })
        .collect()
}

#[test]
fn the_cpu_backend_steps_exactly_as_burns_sgd() {
    let norms = first_norms(4);
    let clipped = |above: bool| norms.iter().any(|&n| (n > CLIP) == above);
    assert!(clipped(true) && clipped(false), "{norms:?}");
    let device = Device::flex().autodiff();
    for clip in [false, true] {
        let ours = train(tiny(&device), &mut sgd(MOMENTUM, DECAY), 0, 4, clip);
        let burns = train(tiny(&device), &mut burn_sgd(), 0, 4, clip);
        assert_eq!(trainable(&ours), trainable(&burns), "clip {clip}");
        assert_ne!(
            trainable(&ours),
            trainable(&tiny(&device)),
            "the steps moved nothing"
        );
    }
}

#[test]
fn the_kernel_steps_as_burns_sgd_on_lavapipe() {
    let _serial = serial(); // launches are counted process-wide
    let device = vulkan().autodiff();
    for clip in [false, true] {
        let ours = train(tiny(&device), &mut sgd(MOMENTUM, DECAY), 0, 4, clip);
        let burns = train(tiny(&device), &mut burn_sgd(), 0, 4, clip);
        let what = format!("parameters after 4 steps, clip {clip}");
        close(&trainable(&ours), &trainable(&burns), 1e-6, &what);
    }
}

#[test]
fn the_kernel_matches_the_reference_on_first_and_later_steps() {
    let _serial = serial(); // launches are counted process-wide
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
        let scale = Tensor::<1>::from_floats([0.375], &device);
        for factor in [None, Some(scale)] {
            let what = if factor.is_some() {
                "clipped"
            } else {
                "unclipped"
            };
            for (step, velocity) in [("first", None), ("later", Some(v.clone()))] {
                let got = sgd_step(
                    p.clone(),
                    g.clone(),
                    velocity.clone(),
                    factor.clone(),
                    settings,
                );
                let want =
                    sgd_step_reference(p.clone(), g.clone(), velocity, factor.clone(), settings);
                for (name, got, want) in [("parameter", got.0, want.0), ("velocity", got.1, want.1)]
                {
                    let what = format!("{step} step, {what}: {name}");
                    close(&host(got), &host(want), 1e-6, &what);
                }
            }
        }
    }
}

/// Launches of one step of `optim` on lavapipe after a first step, clipped when `clip`.
fn step_launches(optim: &mut Optimiser, clip: bool) -> std::collections::BTreeMap<String, u64> {
    let device = vulkan().autodiff();
    let model = train(tiny(&device), optim, 0, 1, clip);
    let g = grads(&model, 1, &device);
    count_dispatches(|| optim.step(0.1, model, g, clip.then_some(CLIP))).1
}

#[test]
fn a_step_launches_one_kernel_per_parameter() {
    let _serial = serial(); // launches are counted process-wide
    let launches = step_launches(&mut sgd(MOMENTUM, DECAY), false);
    let total: u64 = launches.values().sum();
    assert_eq!(total, 2, "{launches:?}");
    assert!(
        launches.keys().all(|k| k.contains("WgslKernel")),
        "{launches:?}"
    );
    // clipping adds the norm's launches, none per parameter: Burn's optimiser, given the same
    // norm, launches a product per gradient and its seven ops per parameter on top
    let ours = step_launches(&mut sgd(MOMENTUM, DECAY), true);
    let burns = step_launches(&mut burn_sgd(), true);
    let own = ours.get("SourceKernel<WgslKernel>").copied();
    assert_eq!(own, Some(2), "{ours:?}");
    let (ours_total, burns_total): (u64, u64) = (ours.values().sum(), burns.values().sum());
    assert!(
        ours_total + 7 * 2 <= burns_total,
        "ours {ours:?}, Burn's {burns:?}"
    );
}

#[test]
fn checkpoints_load_in_either_optimiser() {
    let device = Device::flex().autodiff();
    let mut ours = sgd(MOMENTUM, DECAY);
    let model = train(tiny(&device), &mut ours, 0, 2, true);
    let saved = optimiser_bytes(&ours, "ours").unwrap();
    let mut into_burns = load_optimiser(&burn_sgd(), saved, "into Burn's").unwrap();
    let a = train(model.clone(), &mut ours, 2, 2, true);
    let b = train(model.clone(), &mut into_burns, 2, 2, true);
    assert_eq!(trainable(&a), trainable(&b), "ours resumed in Burn's");

    let mut burns = burn_sgd();
    let model = train(tiny(&device), &mut burns, 0, 2, true);
    let saved = optimiser_bytes(&burns, "Burn's").unwrap();
    let mut into_ours = load_optimiser(&sgd(MOMENTUM, DECAY), saved, "into ours").unwrap();
    let a = train(model.clone(), &mut burns, 2, 2, true);
    let b = train(model, &mut into_ours, 2, 2, true);
    assert_eq!(trainable(&a), trainable(&b), "Burn's resumed in ours");
}
