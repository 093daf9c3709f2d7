//! The launch plans of a step, walked without running it (`bench --shapes`): at the paper's
//! scales every launch fills a GPU, and at a small scale the walk predicts the launches a real
//! forward and backward pass issues on lavapipe, in both kernel shapes.

mod common;

use common::step_case as case;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ista_nas::bench::dispatches::count_dispatches;
use ista_nas::bench::step_shapes::{
    Launches, StepCase, first_unfit, forward_backward_launches, largest_fitting_batch,
    step_launches,
};
use ista_nas::kernels::launch_plan::MAX_BINDING;
use ista_nas::kernels::launch_record::record_launches;
use ista_nas::kernels::variant::{KernelShape, force_on_this_thread};
use ista_nas::model::heads::NetKind;
use ista_nas::model::skeleton::NetworkConfig;
use ista_nas::model::sparse_cell::{NodeWeights, SparseNetwork};
use ista_nas::search_space::genotype::Genotype;
use ista_nas::search_space::primitives::{PRIMITIVES, STEPS};
use ista_nas::sparse::measurement::node_width;

fn total(launches: &[Launches]) -> usize {
    launches.iter().map(|l| l.count).sum()
}

/// Launches by (kernel, grid), counted.
type ByGrid = std::collections::BTreeMap<(&'static str, [usize; 3]), usize>;

/// The walk's launches by kernel and grid.
fn walk_by_grid(launches: &[Launches]) -> ByGrid {
    let mut out = ByGrid::new();
    for l in launches {
        *out.entry((l.plan.kernel, l.plan.groups)).or_default() += l.count;
    }
    out
}

/// The paper's search (C=16, L=8, batch 256, 32×32), one-stage (C=36, L=20, batch 96) and
/// ImageNet (C=48, L=14, 224×224, at the largest batch whose bindings fit: 1024 does not, see
/// tests/binding_limit.rs) scales: every launch reading 2²⁰ values or more runs 2¹⁶ threads or
/// more, no thread loops more than 256 times, no grid dimension passes 65,535, no binding
/// passes 2³¹ − 1 bytes.
#[test]
fn every_launch_fills_a_gpu_at_the_papers_scales() {
    let imagenet = case(NetKind::Imagenet, 48, 14, 1024, 224);
    let fits = largest_fitting_batch(&imagenet, KernelShape::Gpu, MAX_BINDING);
    for case in [
        case(NetKind::Cifar, 16, 8, 256, 32),
        case(NetKind::Cifar, 36, 20, 96, 32),
        StepCase {
            batch: fits,
            ..imagenet
        },
    ] {
        let launches = step_launches(&case, KernelShape::Gpu);
        assert!(total(&launches) > 1000, "{case:?}");
        if let Some(bad) = first_unfit(&launches) {
            panic!("{case:?}: {bad:?}");
        }
    }
}

/// The check can fail: the software shape's one workgroup per channel does not fill a GPU at
/// the paper's scale.
#[test]
fn the_software_shape_would_not_fill_a_gpu() {
    let launches = step_launches(&case(NetKind::Cifar, 16, 8, 256, 32), KernelShape::Software);
    let bad = first_unfit(&launches).expect("an unfit launch");
    assert!(bad.plan.kernel.starts_with("batch_norm") || bad.plan.serial_loop > 256);
}

/// Node weights with every input × op supported (`None`), or the supports of a genotype's
/// cell, w = 1.
fn node_weights(device: &Device, genotype: Option<&Genotype>, reduction: bool) -> Vec<NodeWeights> {
    (0..STEPS)
        .map(|node| {
            let n = node_width(node, PRIMITIVES.len());
            let support = match genotype {
                Some(g) => g.supports(reduction)[node].clone(),
                None => (0..n).collect(),
            };
            NodeWeights {
                support,
                w: Tensor::from_floats(vec![1.0f32; n].as_slice(), device),
            }
        })
        .collect()
}

/// A forward and backward pass of the supernet with every op supported, and with only the
/// ISTA_NAS genotype's supports (the step `bench` times for ISTA-NAS), on lavapipe, issues
/// exactly the WGSL launches the walk predicts, kernel by kernel and grid by grid, under both
/// kernel shapes, with the weights' gradients (the weight step) and without (the architecture
/// step).
#[test]
fn the_walk_predicts_the_launches_of_a_real_pass() {
    walk_matches(2, &[KernelShape::Software, KernelShape::Gpu]);
}

/// The same at a batch of 32, in the GPU shape: several chunks per channel in batch norm and
/// several passes of the column sums.
#[test]
fn the_walk_predicts_the_multi_pass_launches() {
    let walk = forward_backward_launches(&small_case(32), KernelShape::Gpu, true, None);
    let kernels: Vec<_> = walk
        .iter()
        .map(|l| (l.plan.kernel, l.plan.groups))
        .collect();
    let several = |kernel: &str, at: usize| kernels.iter().any(|(k, g)| *k == kernel && g[at] > 1);
    assert!(
        several("batch_norm_partials", 0),
        "several chunks per channel"
    );
    assert!(
        kernels
            .iter()
            .filter(|(k, g)| *k == "column_sums" && g[2] > 1)
            .count()
            > 0,
        "column sums in several passes"
    );
    assert!(several("batch_norm_merge_input_grad", 0));
    walk_matches(32, &[KernelShape::Gpu]);
}

/// The walked step of the test network at `batch` images.
fn small_case(batch: usize) -> StepCase {
    let mut small = case(NetKind::Cifar, 4, 3, batch, 16);
    small.in_channels = 1;
    small
}

/// A real forward and backward pass of a C=4, L=3 network on `batch` images of 16×16, with
/// every op and with the `ISTA_NAS` supports, against the walk, under each of `shapes`.
fn walk_matches(batch: usize, shapes: &[KernelShape]) {
    let _serial = common::serial(); // launches are counted process-wide
    let device = common::vulkan().autodiff();
    let config = NetworkConfig {
        channels: 4,
        layers: 3,
        classes: 10,
        in_channels: 1,
    };
    let network = SparseNetwork::new(&config, &device);
    let ista = Genotype::builtin("ISTA_NAS").unwrap();
    let pixels = common::uniform(batch * 16 * 16, 3);
    for genotype in [None, Some(&ista)] {
        let normal = node_weights(&device, genotype, false);
        let reduce = node_weights(&device, genotype, true);
        let cases = shapes
            .iter()
            .flat_map(|&shape| [(shape, true), (shape, false)]);
        for (shape, weight_grads) in cases {
            // the architecture step's view: the weights constant
            let network = if weight_grads {
                network.clone()
            } else {
                network.clone().no_grad()
            };
            force_on_this_thread(Some(shape));
            let ((_, launches), recorded) = record_launches(|| {
                count_dispatches(|| {
                    let data = TensorData::new(pixels.clone(), [batch, 1, 16, 16]);
                    let x = Tensor::<4>::from_data(data, &device).require_grad();
                    let logits = network.forward(x, &normal, &reduce, &mut 0).unwrap();
                    let grads = logits.powi_scalar(2).mean().backward();
                    drop(grads);
                })
            });
            force_on_this_thread(None);
            let ran: u64 = launches
                .iter()
                .filter(|(name, _)| name.contains("WgslKernel"))
                .map(|(_, n)| n)
                .sum();
            let walk = forward_backward_launches(&small_case(batch), shape, weight_grads, genotype);
            let what = format!(
                "batch {batch}, {shape:?}, weight gradients {weight_grads}, support {}",
                if genotype.is_some() {
                    "ISTA_NAS"
                } else {
                    "all ops"
                }
            );
            assert_eq!(ran as usize, total(&walk), "{what}: {launches:?}");
            // launch by launch: the same kernels on the same grids, as many times each
            let mut real = ByGrid::new();
            for r in &recorded {
                *real.entry((r.kernel, r.groups)).or_default() += 1;
            }
            assert_eq!(
                recorded.len(),
                ran as usize,
                "{what}: every launch recorded"
            );
            assert_eq!(real, walk_by_grid(&walk), "{what}");
        }
    }
}
