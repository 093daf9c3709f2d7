//! One-stage ISTA-NAS: Eq. 12 folding against the supernet, the per-node convergence rule,
//! the parameter budget, and exact resume across a freeze.

mod common;

use std::sync::Arc;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use ista_nas::data::augment::{Augment, Normalization};
use ista_nas::data::embedded;
use ista_nas::data::loader::{BatchPlan, EpochLoader};
use ista_nas::model::norm::with_affine_trainable;
use ista_nas::model::ops::OpStyle;
use ista_nas::model::skeleton::NetworkConfig;
use ista_nas::model::sparse_cell::{NodeWeights, SparseNetwork};
use ista_nas::optim::sgd;
use ista_nas::search::one_stage::fold::{FixedNode, fold};
use ista_nas::search::one_stage::freezing::{Convergence, NodeState, force_freeze};
use ista_nas::search_space::primitives::PRIMITIVES;
use ista_nas::sparse::measurement::node_width;
use ista_nas::storage::model_file::{ModelHeader, Scores, load_model, save_model};

/// Coefficient of op `op` on input `input` (spec §2 order).
fn k(input: usize, op: usize) -> usize {
    input * PRIMITIVES.len() + op
}

/// Supports that put every op kind in both cells: pools, the identity with BN, FactorizedReduce
/// (reduction cell, inputs 0 and 1), both sep and both dil convs.
fn supports() -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let normal = vec![
        vec![k(0, 0), k(1, 1)],
        vec![k(2, 2), k(0, 3)],
        vec![k(1, 4), k(3, 5)],
        vec![k(4, 6), k(0, 2)],
    ];
    let reduce = vec![
        vec![k(0, 2), k(1, 0)],
        vec![k(2, 2), k(1, 1)],
        vec![k(0, 3), k(3, 4)],
        vec![k(4, 5), k(1, 6)],
    ];
    (normal, reduce)
}

/// Fixed nodes with w drawn uniform in [-1.5, 1.5) on the support (negative ones included).
fn fixed(supports: &[Vec<usize>], seed: u64) -> Vec<FixedNode> {
    supports
        .iter()
        .enumerate()
        .map(|(node, support)| {
            let draws = common::uniform(support.len(), seed + node as u64);
            let mut w = vec![0.0f32; node_width(node, PRIMITIVES.len())];
            for (&k, d) in support.iter().zip(draws) {
                w[k] = 1.5 * d;
            }
            FixedNode {
                support: support.clone(),
                w,
            }
        })
        .collect()
}

fn weights(nodes: &[FixedNode], device: &Device) -> Vec<NodeWeights> {
    nodes
        .iter()
        .map(|n| NodeWeights {
            support: n.support.clone(),
            w: Tensor::from_floats(n.w.as_slice(), device),
        })
        .collect()
}

/// A one-stage supernet (C=4, L=3: one normal and two reduction cells, the second after a
/// reduction) trained a few steps with every BN's γ, β trainable, so running statistics, γ and
/// β are no longer 1 / 0.
fn trained_supernet(normal: &[FixedNode], reduce: &[FixedNode]) -> SparseNetwork {
    let device = Device::flex().autodiff();
    device.seed(3);
    let config = NetworkConfig {
        channels: 4,
        layers: 3,
        classes: 10,
        in_channels: 1,
    };
    let mut model = with_affine_trainable(
        SparseNetwork::with_style(&config, OpStyle::ONE_STAGE, true, &device),
        true,
    );
    let (wn, wr) = (weights(normal, &device), weights(reduce, &device));
    let mut optim = sgd(0.9, 3e-4);
    let loss = CrossEntropyLossConfig::new().init(&device);
    for step in 0..4u64 {
        let x = common::random([8, 1, 32, 32], 100 + step, &device);
        let labels: Vec<i64> = (0..8).map(|i| (i * 3 + step as i64) % 10).collect();
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [8]), &device);
        let mut drop = ista_nas::model::drop_path::DropPath::new(0.0, step);
        let (logits, aux) = model
            .forward_train(x, &wn, &wr, Some(&mut drop), &mut 0)
            .unwrap();
        let l = loss.forward(logits, y.clone()) + loss.forward(aux.unwrap(), y) * 0.4;
        let grads = GradientsParams::from_grads(l.backward(), &model);
        model = optim.step(0.5, model, grads, None).0;
    }
    model.valid()
}

/// A real batch: the first 16 embedded test images, normalised as a run normalises them.
fn real_batch(device: &Device) -> Tensor<4> {
    let splits = embedded().unwrap();
    let (mean, std) = splits.train.channel_stats();
    let plan = BatchPlan {
        batch_size: 16,
        shuffle: false,
        augment: Augment::plain(32),
        norm: Normalization { mean, std },
    };
    let batch = EpochLoader::start(Arc::new(splits.test), plan, 0, 0, 0)
        .next()
        .unwrap()
        .unwrap();
    batch.tensors(device).0
}

#[test]
fn folded_network_gives_the_supernets_logits() {
    let (normal_s, reduce_s) = supports();
    let (normal, reduce) = (fixed(&normal_s, 1), fixed(&reduce_s, 11));
    assert!(
        normal
            .iter()
            .chain(&reduce)
            .flat_map(|n| &n.w)
            .any(|&w| w < 0.0),
        "some w must be negative"
    );
    let supernet = trained_supernet(&normal, &reduce);
    let device = Device::flex();
    let (genotype, folded) = fold(&supernet, &normal, &reduce).unwrap();
    let picks: Vec<String> = genotype.normal.iter().map(|(op, _)| op.clone()).collect();
    for op in PRIMITIVES {
        assert!(
            picks.contains(&op.to_string()) || op == "skip_connect",
            "normal cell lacks {op}"
        );
        assert!(
            genotype.reduce.iter().any(|(o, _)| o == op),
            "reduce lacks {op}"
        );
    }
    let (wn, wr) = (weights(&normal, &device), weights(&reduce, &device));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("folded.model");
    let network = ista_nas::model::eval_network::EvalConfig {
        kind: ista_nas::model::heads::NetKind::Cifar,
        genotype: genotype.clone(),
        channels: 4,
        layers: 3,
        classes: 10,
        in_channels: 1,
        auxiliary: true,
        extra_norms: true,
    };
    let header = ModelHeader {
        network,
        augment: Augment::plain(32),
        norm: Normalization {
            mean: vec![0.0],
            std: vec![1.0],
        },
        class_names: (0..10).map(|c| c.to_string()).collect(),
        epoch: 1,
        scores: Scores::default(),
    };
    save_model(&path, &header, &folded).unwrap();
    let (_, reloaded) = load_model(&path, &device).unwrap();
    for (what, x) in [
        ("random inputs", common::random([6, 1, 32, 32], 42, &device)),
        ("a real batch", real_batch(&device)),
    ] {
        let want = common::host(supernet.forward(x.clone(), &wn, &wr, &mut 0).unwrap());
        let got = common::host(folded.forward(x.clone()));
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            scale > 1e-3,
            "{what}: logits too small to compare ({scale})"
        );
        common::close(&got, &want, 1e-5, &format!("folded logits, {what}"));
        let loaded = common::host(reloaded.forward(x));
        common::close(
            &loaded,
            &want,
            1e-5,
            &format!("loaded folded model, {what}"),
        );
    }
    // The same on wgpu (lavapipe in CI), where the mixed op and depthwise convs are WGSL kernels.
    let vulkan = common::vulkan();
    let (supernet, folded) = (supernet.to_device(&vulkan), folded.to_device(&vulkan));
    let (wn, wr) = (weights(&normal, &vulkan), weights(&reduce, &vulkan));
    let x = common::random([2, 1, 32, 32], 43, &vulkan);
    let want = common::host(supernet.forward(x.clone(), &wn, &wr, &mut 0).unwrap());
    let got = common::host(folded.forward(x));
    common::close(&got, &want, 1e-5, "folded logits on wgpu");
}

#[test]
fn fold_refuses_ops_without_a_final_bn_and_bad_shapes() {
    let device = Device::flex();
    let config = NetworkConfig {
        channels: 4,
        layers: 3,
        classes: 10,
        in_channels: 1,
    };
    let (normal_s, reduce_s) = supports();
    let (normal, reduce) = (fixed(&normal_s, 1), fixed(&reduce_s, 11));
    // Two-stage cells: bare identity, no BN after it to fold into.
    let two_stage = SparseNetwork::new(&config, &device);
    let error = fold(&two_stage, &normal, &reduce).unwrap_err().to_string();
    assert!(error.contains("no BN to fold"), "{error}");
    let one_stage = SparseNetwork::with_style(&config, OpStyle::ONE_STAGE, false, &device);
    assert!(fold(&one_stage, &normal[..3], &reduce).is_err());
    let mut bad = normal.clone();
    bad[0].support = vec![k(3, 0), k(0, 1)]; // node 0 cannot read state 3
    assert!(fold(&one_stage, &bad, &reduce).is_err());
}

fn node(z: &[f64]) -> NodeState {
    NodeState::new(z.to_vec())
}

#[test]
fn a_node_freezes_exactly_when_its_z_moves_by_at_most_epsilon() {
    let rule = Convergence {
        epsilon: 1e-3,
        max_params: u64::MAX,
    };
    // Node 0's z moves by 2e-3, then 1e-3 (= ε: freezes), then would move again (ignored).
    // Node 1 moves by 0.5, then 1.5e-3, then 9e-4 (freezes at epoch 3).
    let sequences = [
        vec![[0.0, 0.0], [2e-3, 0.0], [2e-3, 1e-3], [5.0, 5.0]],
        vec![[0.1, 0.0], [0.1, 0.5], [0.1, 0.5015], [0.1009, 0.5015]],
    ];
    let mut nodes: Vec<NodeState> = sequences.iter().map(|s| node(&s[0])).collect();
    let mut frozen_after = vec![];
    for epoch in 1..=3 {
        let candidates: Vec<Vec<f64>> = sequences.iter().map(|s| s[epoch].to_vec()).collect();
        let decision = rule.update(&mut nodes, &candidates, epoch, |_| 0);
        assert!(decision.accepted);
        frozen_after.push(decision.newly_frozen.clone());
        for (i, delta) in decision.delta.iter().enumerate() {
            match delta {
                Some(d) => assert!(!nodes[i].is_frozen() || *d <= 1e-3 + 1e-15),
                None => assert!(nodes[i].frozen_at < Some(epoch)),
            }
        }
    }
    assert_eq!(frozen_after, vec![vec![], vec![0], vec![1]]);
    assert_eq!(nodes[0].frozen_at, Some(2));
    assert_eq!(
        nodes[0].z,
        vec![2e-3, 1e-3],
        "a frozen node ignores later candidates"
    );
    assert_eq!(nodes[1].frozen_at, Some(3));
    assert!(!nodes[0].forced && !nodes[1].forced);
}

#[test]
fn a_candidate_over_the_budget_is_rejected_and_the_previous_z_kept() {
    let rule = Convergence {
        epsilon: 1e-3,
        max_params: 1000,
    };
    let mut nodes = vec![node(&[1.0, 0.0]), node(&[0.0, 1.0])];
    // Candidates whose first node picks coefficient 1: the "network" counts 2000 parameters.
    let params = |zs: &[Vec<f64>]| {
        if zs[0][1].abs() > zs[0][0].abs() {
            2000
        } else {
            500
        }
    };
    let candidates = vec![vec![0.0, 3.0], vec![0.0, 1.0005]];
    let decision = rule.update(&mut nodes, &candidates, 1, params);
    assert!(!decision.accepted);
    assert_eq!(decision.params, 2000);
    assert_eq!(nodes[0].z, vec![1.0, 0.0], "previous z kept");
    // As in the authors' code, the freeze decision of the epoch stands: node 1 moved 5e-4.
    assert_eq!(decision.newly_frozen, vec![1]);
    assert_eq!(nodes[1].z, vec![0.0, 1.0]);
    // Within the budget the candidate is taken.
    let decision = rule.update(&mut nodes, &[vec![2.0, 0.5], vec![9.0, 9.0]], 2, params);
    assert!(decision.accepted);
    assert_eq!(nodes[0].z, vec![2.0, 0.5]);
    assert_eq!(nodes[1].z, vec![0.0, 1.0], "frozen");
    // Out of search epochs: the rest is frozen, marked forced.
    assert_eq!(force_freeze(&mut nodes, 2), vec![0]);
    assert!(nodes[0].forced && nodes[0].frozen_at == Some(2));
    assert_eq!(nodes.len(), 2);
}
