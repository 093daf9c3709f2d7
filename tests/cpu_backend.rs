//! Burn's CPU backend as the default without a GPU: what `auto` picks, the CPU kernels against
//! Burn's own ops, and one search step on the CPU backend against the same step on lavapipe.

mod common;

use burn::tensor::module::{batch_norm_train, conv2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::wgpu::wgpu::DeviceType;
use burn::tensor::{Device, Tensor};
use ista_nas::data::embedded;
use ista_nas::device::{AdapterSummary, AutoPick, DeviceChoice, auto_pick, select_device};
use ista_nas::kernels::batch_norm::batch_norm_train_cpu;
use ista_nas::kernels::depthwise::depthwise_conv2d;
use ista_nas::kernels::depthwise_cpu::Geometry;
use ista_nas::search::config::SearchConfig;
use ista_nas::search::trainer::Searcher;

use common::{host, random};

fn adapter(name: &str, kind: DeviceType) -> AdapterSummary {
    AdapterSummary {
        name: name.into(),
        kind,
    }
}

#[test]
fn auto_prefers_hardware_and_leaves_software_adapters_for_the_cpu_backend() {
    let lavapipe = adapter("llvmpipe", DeviceType::Cpu);
    let nvidia = adapter("H200", DeviceType::DiscreteGpu);
    let laptop = adapter("Iris", DeviceType::IntegratedGpu);
    use burn::tensor::DeviceKind::{DiscreteGpu, IntegratedGpu};
    let all = [lavapipe.clone(), laptop.clone(), nvidia];
    assert_eq!(auto_pick(&all), AutoPick::Gpu(DiscreteGpu(0)));
    assert_eq!(
        auto_pick(&[lavapipe.clone(), laptop]),
        AutoPick::Gpu(IntegratedGpu(0))
    );
    match auto_pick(&[lavapipe]) {
        AutoPick::Cpu(why) => assert!(why.contains("llvmpipe") && why.contains("--device vulkan")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(auto_pick(&[]), AutoPick::Cpu(why) if why.contains("no GPU")));
}

#[test]
fn auto_never_lands_on_a_software_adapter() {
    let auto = select_device(DeviceChoice::Auto).expect("auto always finds a device");
    if auto.info.api == "CPU" {
        assert!(!auto.info.wgsl_kernels);
        assert!(auto.info.note.starts_with("auto:"), "{}", auto.info);
    } else {
        assert_ne!(
            auto.info.kind, "Cpu",
            "auto chose a software adapter: {}",
            auto.info
        );
    }
    let cpu = select_device(DeviceChoice::Cpu).unwrap();
    assert_eq!(cpu.info.api, "CPU", "{}", cpu.info);
    let vulkan = select_device(DeviceChoice::Vulkan).unwrap();
    assert_eq!(
        vulkan.info.api, "Vulkan",
        "--device vulkan still opens lavapipe"
    );
}

fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: {x} vs {y} (scale {scale})"
        );
    }
}

#[test]
fn depthwise_kernel_matches_burns_grouped_convolution_and_its_gradients() {
    let device = Device::flex().autodiff();
    for (kernel, stride, padding, dilation) in
        [(3, 1, 1, 1), (5, 2, 2, 1), (3, 1, 2, 2), (5, 2, 4, 2)]
    {
        let g = Geometry {
            kernel,
            stride,
            padding,
            dilation,
        };
        let what = format!("{g:?}");
        let x = random([3, 4, 9, 8], 1, &device).require_grad();
        let w = random([4, 1, kernel, kernel], 2, &device).require_grad();
        let ours = depthwise_conv2d(x.clone(), w.clone(), g).expect("CPU backend");
        let options = ConvOptions::new([stride; 2], [padding; 2], [dilation; 2], 4);
        let theirs = conv2d(x.clone(), w.clone(), None, options);
        close(&host(ours.clone()), &host(theirs.clone()), 1e-5, &what);
        let up = random(ours.dims(), 3, &device);
        let (g1, g2) = (
            (ours * up.clone()).sum().backward(),
            (theirs * up).sum().backward(),
        );
        let grad = |t: &Tensor<4>, g| host(t.grad(g).unwrap());
        close(&grad(&x, &g1), &grad(&x, &g2), 1e-5, &format!("dx {what}"));
        close(&grad(&w, &g1), &grad(&w, &g2), 1e-5, &format!("dw {what}"));
    }
}

#[test]
fn batch_norm_kernel_matches_burns_batch_norm_and_its_gradients() {
    let device = Device::flex().autodiff();
    let x = (random([4, 3, 5, 6], 4, &device) * 3.0 + 0.5).require_grad();
    let gamma = random([3], 5, &device).require_grad();
    let beta = random([3], 6, &device).require_grad();
    let (y, mean, var) =
        batch_norm_train_cpu(x.clone(), gamma.clone(), beta.clone(), 1e-5).unwrap();
    let reference = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5);
    close(&host(y.clone()), &host(reference.output.clone()), 1e-5, "y");
    close(&host(mean), &host(reference.mean), 1e-5, "mean");
    close(&host(var), &host(reference.variance), 1e-5, "var");
    let up = random([4, 3, 5, 6], 7, &device);
    let g1 = (y * up.clone()).sum().backward();
    let g2 = (reference.output * up).sum().backward();
    close(
        &host(x.grad(&g1).unwrap()),
        &host(x.grad(&g2).unwrap()),
        1e-4,
        "dx",
    );
    close(
        &host(gamma.grad(&g1).unwrap()),
        &host(gamma.grad(&g2).unwrap()),
        1e-4,
        "dγ",
    );
    close(
        &host(beta.grad(&g1).unwrap()),
        &host(beta.grad(&g2).unwrap()),
        1e-4,
        "dβ",
    );
}

#[test]
fn a_search_step_gives_the_same_loss_on_the_cpu_backend_and_on_lavapipe() {
    let config = SearchConfig {
        channels: 4,
        layers: 3,
        batch_size: 8,
        train_images: Some(16),
        lr: 3.0, // 0.09 at batch 8: the weights move enough to show in the next steps' loss
        arch_lr: 0.03,
        ..SearchConfig::paper()
    };
    let (weights, arch) = embedded().unwrap().train.slice(0..16).split_half();
    let cpu_device = Device::flex();
    let held_out = std::sync::Arc::new(arch.clone());
    let mut cpu = Searcher::new(
        config.clone(),
        weights.clone(),
        arch.clone(),
        10,
        &cpu_device,
    )
    .unwrap();
    let mut gpu = Searcher::new(config, weights, arch, 10, &common::vulkan()).unwrap();
    // One set of initial weights and b for both: the backends draw random numbers differently.
    let records = cpu.net.records().unwrap();
    gpu.net.restore(records, &gpu.device.clone()).unwrap();
    let (a, b) = (
        cpu.repeat_first_step(3).unwrap(),
        gpu.repeat_first_step(3).unwrap(),
    );
    let moved = (a[2] - a[0]).abs() / a[0].abs();
    assert!(moved > 1e-3, "the steps did not train: {a:?}");
    for (step, (x, y)) in a.iter().zip(&b).enumerate() {
        let rel = (x - y).abs() / y.abs();
        assert!(
            rel < 1e-4,
            "step {step}: CPU backend {x} vs lavapipe {y} (relative {rel:e})"
        );
    }
    // Eval mode reads the BN running statistics that the steps accumulated.
    let (x, y) = (
        cpu.evaluate(&held_out).unwrap().0,
        gpu.evaluate(&held_out).unwrap().0,
    );
    assert!(
        (x - y).abs() / y.abs() < 1e-4,
        "eval loss: CPU backend {x} vs lavapipe {y}"
    );
}
