//! The search space: op shapes, the supernet's size, and the sparse forward (spec §2–3, §8).

mod common;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use ista_nas::bench::dispatches::count_dispatches;
use ista_nas::model::ops::{FactorizedReduce, Op, OpStyle, ReluConvBn};
use ista_nas::model::skeleton::NetworkConfig;
use ista_nas::model::sparse_cell::NodeWeights;
use ista_nas::model::sparse_cell::SparseNetwork;
use ista_nas::model::trainable_params;
use ista_nas::search_space::primitives::{PRIMITIVES, STEPS};
use ista_nas::sparse::measurement::node_width;
use ista_nas::storage::records::{load_module, module_bytes};

fn input(device: &Device, shape: [usize; 4]) -> Tensor<4> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

#[test]
fn every_op_keeps_or_halves_the_resolution() {
    for device in [Device::flex(), Device::flex().autodiff()] {
        for (k, name) in PRIMITIVES.iter().enumerate() {
            for (stride, side) in [(1, 8), (2, 4)] {
                let op = Op::new(k, 6, stride, OpStyle::SEARCH, &device);
                let out = op.forward(input(&device, [2, 6, 8, 8]));
                assert_eq!(out.dims(), [2, 6, side, side], "{name} at stride {stride}");
            }
        }
        let reduce =
            FactorizedReduce::new(5, 8, true, &device).forward(input(&device, [2, 5, 10, 10]));
        assert_eq!(reduce.dims(), [2, 8, 5, 5]);
        assert_eq!(
            ReluConvBn::new(5, 3, false, &device)
                .forward(input(&device, [1, 5, 4, 4]))
                .dims(),
            [1, 3, 4, 4]
        );
    }
}

#[test]
fn paper_supernet_has_the_published_size() {
    let network = SparseNetwork::new(&NetworkConfig::paper(10, 3), &Device::flex().autodiff());
    let b_entries = 2 * STEPS * 7; // b_i ∈ R^7 for 4 nodes of both cell types
    assert_eq!(trainable_params(&network) + b_entries, 1_930_674);
    // Burn's own count also includes the BN running mean and variance (2 × 37,296 channels).
    assert_eq!(network.num_params(), 1_930_674 - b_entries + 2 * 37_296);
}

/// Node weights with the given supports and w = 1 on them.
fn weights(device: &Device, supports: &[Vec<usize>]) -> Vec<NodeWeights> {
    supports
        .iter()
        .enumerate()
        .map(|(node, support)| {
            let n = node_width(node, PRIMITIVES.len());
            let w: Vec<f32> = (0..n)
                .map(|k| if support.contains(&k) { 1.0 } else { 0.0 })
                .collect();
            NodeWeights {
                support: support.clone(),
                w: Tensor::from_floats(w.as_slice(), device),
            }
        })
        .collect()
}

fn tiny() -> NetworkConfig {
    NetworkConfig {
        channels: 4,
        layers: 3,
        classes: 10,
        in_channels: 1,
    }
}

#[test]
fn sparse_forward_runs_exactly_the_supported_ops() {
    let device = Device::flex();
    let network = SparseNetwork::new(&tiny(), &device);
    for supports in [
        vec![vec![3, 8], vec![0, 20], vec![27, 14], vec![34, 1]],
        vec![vec![5], vec![9], vec![16], vec![30]],
        vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8], vec![9, 10, 11]],
    ] {
        let per_cell: usize = supports.iter().map(Vec::len).sum();
        let mut evaluated = 0;
        let w = weights(&device, &supports);
        let logits = network
            .forward(input(&device, [2, 1, 16, 16]), &w, &w, &mut evaluated)
            .unwrap();
        assert_eq!(logits.dims(), [2, 10]);
        assert_eq!(evaluated, 3 * per_cell, "supports {supports:?}");
    }
}

#[test]
fn ops_outside_the_support_get_no_gradient() {
    let device = Device::flex().autodiff();
    let network = SparseNetwork::new(&tiny(), &device);
    let grads_with = |supports: &[Vec<usize>]| {
        let w = weights(&device, supports);
        let logits = network
            .forward(input(&device, [2, 1, 16, 16]), &w, &w, &mut 0)
            .unwrap();
        GradientsParams::from_grads(logits.sum().backward(), &network).len()
    };
    // Only parameter-free pools active, on both inputs (index 8 = input 1, avg pool): gradients
    // reach the stem (conv, γ, β), the head (weight, bias) and the cells' preprocessing convs
    // (1 + 1, 1 + 1, FactorizedReduce 2 + 1), nothing else.
    let pools = vec![vec![0, 8], vec![0, 8], vec![0, 8], vec![0, 8]];
    assert_eq!(grads_with(&pools), 5 + 2 + 2 + 3);
    // A sep_conv_3x3 on input 1 of node 0 (index 10) adds its 4 conv weights in each cell.
    let one_sep = vec![vec![0, 10], vec![0, 8], vec![0, 8], vec![0, 8]];
    assert_eq!(grads_with(&one_sep), 12 + 3 * 4);
    // Supports that read only input 0 leave the second preprocessing unused, and cell 1's
    // output unused by any later cell: those parameters get no gradient either.
    let first_input_only = vec![vec![0, 1], vec![0, 1], vec![0, 1], vec![0, 1]];
    assert_eq!(grads_with(&first_input_only), 5 + 1 + 2);
}

#[test]
fn bad_supports_are_errors_not_panics() {
    let device = Device::flex();
    let network = SparseNetwork::new(&tiny(), &device);
    let x = input(&device, [1, 1, 16, 16]);
    let too_few = weights(&device, &[vec![0], vec![0]]);
    assert!(
        network
            .forward(x.clone(), &too_few, &too_few, &mut 0)
            .is_err()
    );
    let mut bad = weights(&device, &[vec![0], vec![0], vec![0], vec![0]]);
    bad[0].support = vec![20]; // node 0 has 2 inputs: index 20 names input 2
    assert!(network.forward(x, &bad, &bad, &mut 0).is_err());
}

/// The sparse network on lavapipe, where the mixed op and batch norm run as WGSL kernels (their
/// launches are counted), gives the loss and gradients of the same network on the CPU backend,
/// whose kernels are separate code: the loss and the input's gradient.
#[test]
fn sparse_forward_and_backward_run_through_the_wgsl_kernel() {
    let vulkan = common::vulkan().autodiff();
    let cpu = Device::flex().autodiff();
    let network = SparseNetwork::new(&tiny(), &vulkan);
    let bytes = module_bytes(&network, "network").unwrap();
    let on_cpu = load_module(SparseNetwork::new(&tiny(), &cpu), bytes, "network").unwrap();
    let supports = vec![vec![3, 8], vec![0, 20], vec![27, 14], vec![34, 1]];
    let pixels = common::uniform(2 * 16 * 16, 5);
    let run = |network: &SparseNetwork, device: &Device| {
        let data = TensorData::new(pixels.clone(), [2, 1, 16, 16]);
        let x = Tensor::<4>::from_data(data, device).require_grad();
        let w = weights(device, &supports);
        let mut evaluated = 0;
        let logits = network.forward(x.clone(), &w, &w, &mut evaluated).unwrap();
        assert_eq!(evaluated, 3 * 8);
        let loss = logits.powi_scalar(2).mean();
        let grads = loss.clone().backward();
        let dx = x.grad(&grads).map(common::host).expect("an input gradient");
        (common::host(loss)[0], dx)
    };
    let ((loss, dx), launches) = count_dispatches(|| run(&network, &vulkan));
    let wgsl: u64 = launches
        .iter()
        .filter(|(name, _)| name.contains("WgslKernel"))
        .map(|(_, n)| n)
        .sum();
    assert!(wgsl > 0, "no WGSL kernel ran: {launches:?}");
    let (cpu_loss, cpu_dx) = run(&on_cpu, &cpu);
    assert!(loss.is_finite() && loss > 0.0, "loss {loss}");
    assert!(
        (loss - cpu_loss).abs() <= 1e-4 * cpu_loss.abs(),
        "lavapipe {loss}, CPU backend {cpu_loss}"
    );
    common::close(&dx, &cpu_dx, 1e-3, "the input's gradient");
}
