//! Burn's CPU backend as the default without a GPU: what `auto` picks, and one search step on the CPU backend against the same step on lavapipe.

mod common;

use burn::tensor::Device;
use burn::tensor::wgpu::wgpu::DeviceType;
use ista_nas::data::embedded;
use ista_nas::devices::adapter::{
    AdapterSummary, AutoPick, DeviceChoice, auto_pick, select_device,
};
use ista_nas::search::config::SearchConfig;
use ista_nas::search::trainer::Searcher;

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

#[test]
fn a_search_step_gives_the_same_loss_on_the_cpu_backend_and_on_lavapipe() {
    let mut config = SearchConfig {
        channels: 4,
        layers: 3,
        batch_size: 8,
        ..SearchConfig::paper()
    };
    config.data.train_images = Some(16);
    config.sgd.lr = 0.09375; // the weights move enough to show in the next steps' loss
    config.arch.arch_lr = 0.03;
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
