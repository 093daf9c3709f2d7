//! BN recalibration against a plain computation: the running statistics end as the mean over
//! the batches of each batch's per-channel mean and unbiased variance (on the CPU backend and
//! on lavapipe), BNs no batch reaches keep theirs, and no batches change nothing.

mod common;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use ista_nas::devices::adapter::{DeviceChoice, select_device};
use ista_nas::error::Result;
use ista_nas::model::norm::{Norm, map_running_stats};
use ista_nas::search::recalibrate::recalibrate;

use common::{close, host, random, vulkan};

/// Two BNs, of which the forward pass runs one (as ops outside a supernet's supports).
#[derive(Module, Debug)]
struct Pair {
    used: Norm,
    unused: Norm,
}

/// The running states, in visiting order: used mean, used var, unused mean, unused var.
fn states(pair: &Pair) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    let _ = map_running_stats(pair.clone(), &mut |t| {
        out.push(host(t.clone()));
        t
    });
    out
}

/// Per-channel mean and unbiased variance of `x` `[B, C, H, W]`, in f64.
fn channel_stats(x: &Tensor<4>) -> (Vec<f64>, Vec<f64>) {
    let [b, c, h, w] = x.dims();
    let values = host(x.clone());
    let n = (b * h * w) as f64;
    let mut means = vec![0.0; c];
    let mut vars = vec![0.0; c];
    for (ch, (mean, var)) in means.iter_mut().zip(&mut vars).enumerate() {
        let channel: Vec<f64> = (0..b)
            .flat_map(|i| (0..h * w).map(move |p| (i * c + ch) * h * w + p))
            .map(|k| values[k] as f64)
            .collect();
        *mean = channel.iter().sum::<f64>() / n;
        *var = channel.iter().map(|v| (v - *mean).powi(2)).sum::<f64>() / (n - 1.0);
    }
    (means, vars)
}

fn check(device: &Device) {
    let device = device.clone().autodiff();
    let mut pair = Pair {
        used: Norm::new(3, false, &device),
        unused: Norm::new(3, true, &device),
    };
    // Start every state away from the BN's initial values, so kept ones show.
    pair = map_running_stats(pair, &mut |t| t.ones_like().mul_scalar(0.7));
    let batches: Vec<Tensor<4>> = (0..3)
        .map(|k| random([4, 3, 5, 5], 10 + k, &device) * (1.0 + k as f64) + 0.3 * k as f64)
        .collect();
    let count = recalibrate(
        &mut pair,
        batches.iter().cloned().map(Ok),
        |pair, f| *pair = map_running_stats(pair.clone(), f),
        |pair, x| -> Result<()> {
            let _ = pair.used.forward(x);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(count, 3);
    let mut mean = vec![0.0f64; 3];
    let mut var = vec![0.0f64; 3];
    for x in &batches {
        let (m, v) = channel_stats(x);
        for c in 0..3 {
            mean[c] += m[c] / 3.0;
            var[c] += v[c] / 3.0;
        }
    }
    let states = states(&pair);
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
    close(&states[0], &f32s(&mean), 1e-5, "running mean");
    close(&states[1], &f32s(&var), 1e-4, "running variance");
    close(&states[2], &[0.7; 3], 0.0, "unreached BN's mean");
    close(&states[3], &[0.7; 3], 0.0, "unreached BN's variance");

    // No batches: nothing changes.
    let none = recalibrate(
        &mut pair,
        std::iter::empty(),
        |pair, f| *pair = map_running_stats(pair.clone(), f),
        |_, _| Ok(()),
    )
    .unwrap();
    assert_eq!(none, 0);
    assert_eq!(self::states(&pair), states);
}

#[test]
fn recalibrated_statistics_are_the_mean_of_the_batches_on_the_cpu_backend() {
    check(&select_device(DeviceChoice::Cpu).unwrap().device);
}

#[test]
fn recalibrated_statistics_are_the_mean_of_the_batches_on_lavapipe() {
    check(&vulkan());
}
