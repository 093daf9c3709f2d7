//! Synchronous data parallel equals one device: N SGD steps with the batch split over devices
//! give the losses and weights of one device that runs the same shares (BatchNorm statistics
//! per share, as each replica computes them) and steps once on the gradient of their weighted
//! sum — within f32 tolerance, on two CPU-backend replicas and on two wgpu devices (logical
//! devices on lavapipe in CI).

mod common;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};
use common::{class_labels, max_abs_diff, random, trainable};
use ista_nas::devices::adapter::DeviceChoice;
use ista_nas::devices::list::{DeviceList, select_devices};
use ista_nas::devices::parallel::{DataParallel, ShareLoss, shares};
use ista_nas::model::drop_path::DropPath;
use ista_nas::model::eval_network::{EvalConfig, EvalNetwork};
use ista_nas::model::heads::NetKind;
use ista_nas::model::norm::map_running_stats;
use ista_nas::optim::sgd;
use ista_nas::search_space::genotype::Genotype;
use ista_nas::storage::records::{load_module, module_bytes};

/// Holds the tests of this file one at a time: the CPU backend's threaded reductions split
/// their work differently while another test shares its threads, which moves the f32 results.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Largest weight difference allowed after steps over three shares. With two shares the
/// replicas' gradient sum and the reference graph's add the same two terms, and the weights
/// agree exactly; with three the two sums add them in different orders, whose f32 rounding
/// BatchNorm over 4-image shares and momentum carry to 2.7e-5 in 3 steps (measured alone, as
/// this file's tests run: one at a time). One SGD step at lr 0.1 moves weights by ~1e-3.
const THREE_SHARE_TOLERANCE: f32 = 1e-4;

/// BN running statistics of `model`, in visiting order.
fn running_stats(model: &EvalNetwork) -> Vec<f32> {
    let mut values = Vec::new();
    map_running_stats(model.clone(), &mut |t| {
        values.extend(t.clone().into_data().iter::<f32>());
        t
    });
    values
}

fn network() -> EvalConfig {
    EvalConfig {
        kind: NetKind::Cifar,
        genotype: Genotype::builtin("ISTA_NAS").unwrap(),
        channels: 4,
        layers: 3,
        classes: 10,
        in_channels: 3,
        auxiliary: false,
        extra_norms: false,
    }
}

/// `steps` steps of both ways on `devices` (autodiff); returns the largest relative loss
/// difference and the largest weight difference.
fn compare(devices: Vec<Device>, batch: usize, steps: usize) -> (f64, f32) {
    let main = devices[0].clone();
    let mut parallel_model = EvalNetwork::new(&network(), &main);
    let bytes = module_bytes(&parallel_model, "model").unwrap();
    let mut reference = load_module(EvalNetwork::new(&network(), &main), bytes, "model").unwrap();
    let start = max_abs_diff(&trainable(&parallel_model), &trainable(&reference));
    assert_eq!(start, 0.0, "both start from the same weights");
    assert!(
        trainable(&reference).len() > 1000,
        "the trainable weights are compared"
    );
    let loss = CrossEntropyLossConfig::new().init(&main);
    let mut parallel = DataParallel::new(devices.clone(), |d| EvalNetwork::new(&network(), d));
    let (mut optim_p, mut optim_r) = (sgd(0.9, 3e-4), sgd(0.9, 3e-4));
    let mut worst_loss: f64 = 0.0;
    for step in 0..steps {
        let x = random([batch, 3, 32, 32], 100 + step as u64, &main); // [B, 3, 32, 32]
        let y = class_labels(batch, 7, step as u64, &main); // [B]
        let share = |model: &EvalNetwork, x: Tensor<4>, y: Tensor<1, Int>, _: usize| {
            let (logits, _) = model.forward_train(x, &mut DropPath::new(0.0, 0));
            let l = loss.forward(logits, y);
            let value = l.clone().detach();
            let device = value.device();
            Ok(ShareLoss {
                loss: l,
                value,
                correct: Tensor::zeros([1], &device),
            })
        };
        // device 0's share alone, on a copy of the weights: the statistics device 0 keeps
        let first = x.clone().narrow(0, 0, shares(batch, devices.len())[0]); // [b, 3, 32, 32]
        let bytes = module_bytes(&parallel_model, "model").unwrap();
        let copy = load_module(EvalNetwork::new(&network(), &main), bytes, "model").unwrap();
        let _ = copy.forward_train(first, &mut DropPath::new(0.0, 0));
        let out = parallel
            .gradients(&parallel_model, (x.clone(), y.clone()), &share)
            .unwrap();
        parallel_model = optim_p.step(0.1, parallel_model, out.grads, None).0;
        let (kept, first_only) = (running_stats(&parallel_model), running_stats(&copy));
        assert!(
            !kept.is_empty() && kept == first_only,
            "BN statistics are device 0's"
        );

        // The reference: one device, one graph, the weighted sum of the shares' mean losses.
        let mut total: Option<Tensor<1>> = None;
        let mut start = 0;
        for size in shares(batch, devices.len()) {
            let xs = x.clone().narrow(0, start, size); // [b, 3, 32, 32]
            let ys = y.clone().narrow(0, start, size); // [b]
            let (logits, _) = reference.forward_train(xs, &mut DropPath::new(0.0, 0));
            let l = loss.forward(logits, ys) * (size as f32 / batch as f32);
            total = Some(match total {
                Some(t) => t + l,
                None => l,
            });
            start += size;
        }
        let total = total.unwrap();
        let value = total.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(total.backward(), &reference);
        reference = optim_r.step(0.1, reference, grads, None).0;
        let got = out.loss.into_scalar::<f32>() as f64;
        worst_loss = worst_loss.max((got - value).abs() / value.abs());
    }
    let weight_diff = max_abs_diff(&trainable(&parallel_model), &trainable(&reference));
    (worst_loss, weight_diff)
}

#[test]
fn shares_split_batches_evenly() {
    assert_eq!(shares(12, 2), [6, 6]);
    assert_eq!(shares(13, 3), [5, 4, 4]);
    assert_eq!(shares(2, 3), [1, 1, 0]);
    assert_eq!(shares(7, 1), [7]);
}

#[test]
fn device_lists_parse() {
    assert_eq!("3".parse::<DeviceList>().unwrap().0, [0, 1, 2]);
    assert_eq!("0,2".parse::<DeviceList>().unwrap().0, [0, 2]);
    for bad in ["0", "1,1", "a", "0,,1", "-1"] {
        assert!(bad.parse::<DeviceList>().is_err(), "{bad}");
    }
}

#[test]
fn two_cpu_replicas_step_as_one_device() {
    let _alone = alone();
    let cpu = Device::flex().autodiff();
    let (loss, weights) = compare(vec![cpu.clone(), cpu], 12, 4);
    eprintln!(
        "CPU backend, 2 replicas, 4 steps: loss rel. diff {loss:.2e}, weights max |Δ| {weights:.2e}"
    );
    assert!(loss < 1e-5, "{loss}");
    assert_eq!(weights, 0.0);
}

#[test]
fn three_cpu_replicas_with_an_uneven_batch_step_as_one_device() {
    let _alone = alone();
    let cpu = Device::flex().autodiff();
    let (loss, weights) = compare(vec![cpu.clone(), cpu.clone(), cpu], 13, 3);
    eprintln!(
        "CPU backend, 3 replicas, batch 13, 3 steps: loss rel. diff {loss:.2e}, weights max |Δ| {weights:.2e}"
    );
    assert!(loss < 1e-5, "{loss}");
    assert!(weights < THREE_SHARE_TOLERANCE, "{weights}");
}

#[test]
fn two_wgpu_devices_step_as_one_device() {
    let _alone = alone();
    let selected = select_devices(DeviceChoice::Vulkan, &"2".parse().unwrap())
        .expect("data-parallel tests need a Vulkan adapter (CI: lavapipe)");
    assert_eq!(selected.len(), 2);
    assert_ne!(
        selected[0].device, selected[1].device,
        "two distinct devices"
    );
    let devices = selected
        .iter()
        .map(|s| s.device.clone().autodiff())
        .collect();
    let (loss, weights) = compare(devices, 8, 2);
    eprintln!("wgpu, 2 devices, 2 steps: loss rel. diff {loss:.2e}, weights max |Δ| {weights:.2e}");
    assert!(loss < 1e-5, "{loss}");
    assert_eq!(weights, 0.0);
}

#[test]
fn train_runs_on_two_devices_and_lists_them() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = [
        "train",
        "--device",
        "cpu",
        "--devices",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--layers",
        "3",
        "--train-images",
        "64",
        "--test-images",
        "50",
        "--out",
        out.to_str().unwrap(),
    ];
    let output = common::run(&args);
    let stdout = common::text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        common::text(&output.stderr)
    );
    assert!(
        stdout.contains("devices: 2 (synchronous data parallel"),
        "{stdout}"
    );
    assert!(stdout.contains("device 1: Burn CPU backend"), "{stdout}");
    assert!(out.join("checkpoint.bin").exists());
    let bad = common::run(&["train", "--devices", "0,0"]);
    common::assert_clean_failure(&bad, "a device is listed twice");
}

#[test]
fn searches_run_on_two_devices_across_an_epoch() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    for method in ["ista", "darts"] {
        let out = dir.path().join(method);
        let output = common::run(&[
            "search",
            "--device",
            "cpu",
            "--devices",
            "2",
            "--method",
            method,
            "--epochs",
            "2",
            "--layers",
            "3",
            "--train-images",
            "96",
            "--out",
            out.to_str().unwrap(),
        ]);
        let stdout = common::text(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            common::text(&output.stderr)
        );
        assert!(stdout.contains("devices: 2"), "{stdout}");
        assert!(stdout.contains("epoch 2/2"), "{stdout}");
        assert!(out.join("genotype.json").exists());
    }
    let out = dir.path().join("one-stage");
    let output = common::run(&[
        "search",
        "--one-stage",
        "--device",
        "cpu",
        "--devices",
        "2",
        "--search-epochs",
        "1",
        "--epochs",
        "1",
        "--layers",
        "3",
        "--train-images",
        "64",
        "--test-images",
        "50",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = common::text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        common::text(&output.stderr)
    );
    assert!(stdout.contains("devices: 2"), "{stdout}");
    assert!(out.join("folded.model").exists(), "{stdout}");
}

#[test]
fn bench_reports_images_per_second_per_device_count() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let output = common::run(&[
        "bench",
        "--device",
        "cpu",
        "--methods",
        "ista",
        "--batch-sizes",
        "4",
        "--channels",
        "4",
        "--layers",
        "3",
        "--warmup",
        "0",
        "--steps",
        "1",
        "--device-counts",
        "1,2",
        "--recovery-draws",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = common::text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        common::text(&output.stderr)
    );
    let csv = std::fs::read_to_string(out.join("bench.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    assert_eq!(rows.len(), 3, "{csv}");
    assert_eq!(rows[1][col("devices")], "1");
    assert_eq!(rows[2][col("devices")], "2");
    assert_eq!(rows[1][col("images_per_s_vs_one_device")], "1.0000");
    let scaling: f64 = rows[2][col("images_per_s_vs_one_device")].parse().unwrap();
    assert!(scaling > 0.0, "{csv}");
    assert!(stdout.contains("ista batch 4 on 2 device(s)"), "{stdout}");
    let zero = common::run(&["bench", "--device", "cpu", "--device-counts", "1,0"]);
    common::assert_clean_failure(&zero, "--device-counts lists device counts of at least 1");
}
