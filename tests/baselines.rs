//! The DARTS and PC-DARTS baselines (spec §7): every op on every edge against ISTA-NAS's |S| per
//! node (counted), PC-DARTS's partial channels and shuffle, genotype derivation, and short
//! searches of both on the Vulkan adapter.

mod common;

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use ista_nas::data::embedded;
use ista_nas::model::mixed_cell::MixedNetwork;
use ista_nas::model::mixed_cell::{EDGES, MIXED_OPS, channel_shuffle};
use ista_nas::model::skeleton::NetworkConfig;
use ista_nas::model::sparse_cell::NodeWeights;
use ista_nas::model::sparse_cell::SparseNetwork;
use ista_nas::search::alphas::{ArchAlphas, picks_from_weights};
use ista_nas::search::config::{Method, SearchConfig};
use ista_nas::search::trainer::Searcher;
use ista_nas::search_space::primitives::{PRIMITIVES, STEPS};
use ista_nas::sparse::measurement::node_width;
use ista_nas::step_metrics::StepControl;

fn config(channels: usize) -> NetworkConfig {
    NetworkConfig {
        channels,
        layers: 3,
        classes: 10,
        in_channels: 1,
    }
}

fn images(device: &Device) -> Tensor<4> {
    Tensor::random([2, 1, 16, 16], Distribution::Normal(0.0, 1.0), device) // [B, 1, H, W]
}

/// ISTA-NAS with s = 2 runs 2 ops per node (8 per cell); DARTS and PC-DARTS run all 8 ops
/// (`none` included) on all 14 edges: 112 per cell.
#[test]
fn darts_runs_every_op_on_every_edge_and_ista_only_its_support() {
    let device = Device::flex();
    let ista = SparseNetwork::new(&config(8), &device);
    let weights: Vec<NodeWeights> = (0..STEPS)
        .map(|node| NodeWeights {
            support: vec![3, 7 * (node + 1) + 4],
            w: Tensor::ones([node_width(node, PRIMITIVES.len())], &device),
        })
        .collect();
    let mut ista_ops = 0;
    let logits = ista
        .forward(images(&device), &weights, &weights, &mut ista_ops)
        .unwrap();
    assert_eq!(logits.dims(), [2, 10]);
    assert_eq!(ista_ops, 3 * STEPS * 2);

    for (partial, edge_weights) in [(1, false), (4, true)] {
        let darts = MixedNetwork::new(&config(8), partial, &device);
        let alphas = ArchAlphas::new(edge_weights, 0, &device);
        let (normal, reduce) = alphas.weights(true);
        assert_eq!(normal.edges.is_some(), edge_weights);
        let mut darts_ops = 0;
        let logits = darts
            .forward(images(&device), &normal, &reduce, &mut darts_ops)
            .unwrap();
        assert_eq!(logits.dims(), [2, 10]);
        assert_eq!(EDGES, 14);
        assert_eq!(darts_ops, 3 * EDGES * MIXED_OPS, "K = {partial}");
        assert_eq!(darts_ops / ista_ops, 14);
    }
}

/// Channel shuffle with 4 groups of 2 interleaves them: [0, 2, 4, 6, 1, 3, 5, 7].
#[test]
fn channel_shuffle_interleaves_the_groups() {
    let device = Device::flex();
    let x = Tensor::<4>::from_data(
        TensorData::new((0..8).map(|v| v as f32).collect::<Vec<_>>(), [1, 8, 1, 1]),
        &device,
    );
    let shuffled = common::host(channel_shuffle(x, 4));
    assert_eq!(shuffled, vec![0.0, 2.0, 4.0, 6.0, 1.0, 3.0, 5.0, 7.0]);
}

/// The genotype keeps per node the 2 edges with the strongest non-`none` op, never `none`
/// itself; PC-DARTS's edge weights scale the comparison.
#[test]
fn genotype_ignores_none_and_weighs_edges() {
    let mut ops = vec![0.0f32; EDGES * MIXED_OPS];
    let set = |ops: &mut Vec<f32>, edge: usize, op: usize, v: f32| ops[edge * MIXED_OPS + op] = v;
    // Node 0 (edges 0, 1): edge 0 is mostly `none` (0.9) but its best real op is sep_conv_3x3 (0.05).
    set(&mut ops, 0, 0, 0.9);
    set(&mut ops, 0, 4, 0.05);
    set(&mut ops, 1, 7, 0.3); // dil_conv_5x5 on input 1
    // Node 1 (edges 2, 3, 4): inputs 2 and 0 strongest.
    set(&mut ops, 2, 1, 0.4); // max_pool on input 0
    set(&mut ops, 3, 3, 0.1); // skip on input 1
    set(&mut ops, 4, 6, 0.5); // dil_conv_3x3 on input 2
    let picks = picks_from_weights(&ops, None);
    assert_eq!(picks[0], vec![7 + 6, 3]); // (dil_conv_5x5, 1), then (sep_conv_3x3, 0)
    assert_eq!(picks[1], vec![2 * 7 + 5, 0]); // (dil_conv_3x3, 2), then (max_pool, 0)
    // Edge weights can reorder: weigh input 1 of node 1 up.
    let mut edges = vec![1.0f32; EDGES];
    edges[3] = 10.0;
    edges[2] = 0.1;
    let picks = picks_from_weights(&ops, Some(&edges));
    assert_eq!(picks[1], vec![7 + 2, 2 * 7 + 5]); // (skip, 1), then (dil_conv_3x3, 2)
    for node in &picks {
        assert_eq!(node.len(), 2);
    }
}

fn searcher(method: Method, channels: usize) -> Searcher {
    let mut config = SearchConfig {
        channels,
        layers: 3,
        epochs: 1,
        batch_size: 16,
        ..SearchConfig::preset("quick", method).unwrap()
    };
    config.data.train_images = Some(64);
    config.sgd.lr = 0.05; // the quick preset's rate per image at batch 16
    let (weights, arch) = embedded().unwrap().train.slice(0..64).split_half();
    Searcher::new(config, weights, arch, 10, &common::vulkan()).unwrap()
}

/// An epoch of DARTS and of PC-DARTS steps α (and β) and the weights, evaluates, and derives
/// a valid genotype; b's place in the checkpoint holds α.
#[test]
fn darts_and_pc_darts_searches_step_and_give_valid_genotypes() {
    for (method, channels) in [(Method::Darts, 4), (Method::PcDarts, 8)] {
        let mut search = searcher(method, channels);
        let [model_before, arch_before] = search.net.records().unwrap();
        let record = search
            .run_epoch(&mut |_| StepControl::Continue(()))
            .unwrap()
            .into_record();
        eprintln!("{method:?}: {record:?}");
        let [model_after, arch_after] = search.net.records().unwrap();
        assert_ne!(arch_before, arch_after, "{method:?}: α did not move");
        assert_ne!(
            model_before, model_after,
            "{method:?}: weights did not move"
        );
        assert!(record.train_loss.is_finite() && record.val_loss.is_finite());
        assert!((0.0..=1.0).contains(&record.val_acc));
        record.genotype.validate().unwrap();
        assert_eq!(record.genotype.normal.len(), 2 * STEPS);
        assert!(record.genotype.normal.iter().all(|(op, _)| op != "none"));
        assert_eq!(record.supports.split('|').count(), 2);
    }
}
