//! Shared test helpers: the Vulkan adapter (lavapipe in CI), random data, and running the binary.
#![allow(dead_code)]

pub mod state_dicts;

use std::process::{Command, Output};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use ista_nas::devices::adapter::{DeviceChoice, select_device};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The Vulkan adapter the kernel tests run on; fails (never skips) when there is none.
pub fn vulkan() -> Device {
    let selected = select_device(DeviceChoice::Vulkan).unwrap_or_else(|e| {
        panic!("kernel tests need a Vulkan adapter (CI: lavapipe from mesa-vulkan-drivers): {e}")
    });
    assert_eq!(
        selected.info.api, "Vulkan",
        "pinned API must be Vulkan: {}",
        selected.info
    );
    eprintln!("kernel tests on: {}", selected.info);
    selected.device
}

/// `len` values uniform in [-1, 1) from `seed`.
pub fn uniform(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// A tensor of uniform values in [-1, 1).
pub fn random<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let len = shape.iter().product();
    Tensor::from_data(TensorData::new(uniform(len, seed), shape), device)
}

/// Values of a tensor on the host.
pub fn host<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// Largest |a − b| over two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// Runs the `ista-nas` binary with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The command failed with `expected` in its error output, and did not panic.
pub fn assert_clean_failure(out: &Output, expected: &str) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert!(
        stderr.contains(expected),
        "stderr lacks {expected:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
}

/// Asserts |a − b| ≤ tol · max |b| elementwise.
pub fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: {x} vs {y} (scale {scale})"
        );
    }
}

/// `ours` and `theirs`, one function of `inputs` computed two ways, agree within `tol` (relative
/// to the largest value), and so do the gradients of each input under one random upstream
/// gradient from `seed`.
pub fn same_value_and_grads(
    ours: Tensor<4>,
    theirs: Tensor<4>,
    inputs: &[(&Tensor<4>, &str)],
    seed: u64,
    tol: f32,
    what: &str,
) {
    assert_eq!(ours.dims(), theirs.dims(), "{what}");
    close(&host(ours.clone()), &host(theirs.clone()), tol, what);
    let up = random(ours.dims(), seed, &ours.device());
    let (g1, g2) = (
        (ours * up.clone()).sum().backward(),
        (theirs * up).sum().backward(),
    );
    for (input, name) in inputs {
        let (a, b) = (input.grad(&g1).unwrap(), input.grad(&g2).unwrap());
        close(&host(a), &host(b), tol, &format!("{name} {what}"));
    }
}

/// The trainable parameters of `module` (those that take gradients), flattened in visiting
/// order; BN running statistics are left out.
pub fn trainable<M: Module>(module: &M) -> Vec<f32> {
    struct All(Vec<f32>);
    impl ModuleVisitor for All {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.val().is_require_grad() {
                self.0.extend(host(param.val()));
            }
        }
    }
    let mut all = All(Vec::new());
    module.visit(&mut all);
    all.0
}

/// `batch` labels of 10 classes, `(i · step + seed) mod 10`.
pub fn class_labels(batch: usize, step: u64, seed: u64, device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = (0..batch as u64)
        .map(|i| ((i * step + seed) % 10) as i64)
        .collect();
    Tensor::from_data(TensorData::new(values, [batch]), device)
}

/// A record's bytes with its parameter ids (random per process) blanked: the CBOR key
/// `param_id` is followed by a 64-bit integer (0x1b and 8 bytes).
pub fn without_ids(record: &[u8]) -> Vec<u8> {
    let key = b"param_id\x1b";
    let mut out = record.to_vec();
    let mut i = 0;
    while let Some(at) = out[i..].windows(key.len()).position(|w| w == key) {
        let start = i + at + key.len();
        out[start..start + 8].fill(0);
        i = start + 8;
    }
    out
}

/// The checkpoint records hold the same values, parameter ids aside. (Optimiser records key
/// their state by those ids, in an order that follows them; the optimisers' state shows in
/// every step after a resume, which the metrics and final weights compare.)
pub fn same_records(a: &[Vec<u8>], b: &[Vec<u8>], names: &[&str]) {
    for ((x, y), name) in a.iter().zip(b).zip(names) {
        assert_eq!(
            x.len(),
            y.len(),
            "the checkpoints' {name} records differ in size"
        );
        assert!(
            without_ids(x) == without_ids(y),
            "the checkpoints' {name} records differ"
        );
    }
}

/// `dir`'s metrics.csv without the columns that time the run.
pub fn metrics_without_timing(dir: &std::path::Path) -> String {
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !["seconds", "peak_memory_bytes"].contains(&header[i]))
        .collect();
    std::iter::once(header.join(","))
        .chain(lines.map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&i| cells[i]).collect::<Vec<_>>().join(",")
        }))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The files `names` are byte for byte the same in folders `a` and `b`.
pub fn same_files(a: &std::path::Path, b: &std::path::Path, names: &[&str]) {
    for name in names {
        let (x, y) = (std::fs::read(a.join(name)), std::fs::read(b.join(name)));
        assert!(x.unwrap() == y.unwrap(), "{name} differs");
    }
}

/// The arguments of `command` (a subcommand and its settings) on the CPU backend into `out`.
pub fn cpu_args(command: &[&str], out: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
    args.extend([
        "--device".into(),
        "cpu".into(),
        "--out".into(),
        out.display().to_string(),
    ]);
    args
}

/// Tests that use what a process shares take turns while they hold this: weights are drawn
/// from the device's seeded RNG, and `host_reads` counts the reads of every thread.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Waits for the other tests of this binary that hold [`SERIAL`].
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Searches a tiny supernet (C=4, L=3, 64 training images at batch 16) on the CPU backend into
/// `out`, with the options `extra`; panics when it fails.
pub fn tiny_search(out: &std::path::Path, extra: &[&str]) {
    let mut args = vec!["search"];
    args.extend(TINY_SUPERNET);
    args.extend([
        "--train-images",
        "64",
        "--batch-size",
        "16",
        "--out",
        out.to_str().unwrap(),
    ]);
    args.extend(extra);
    let done = run(&args);
    assert!(done.status.success(), "{}", text(&done.stderr));
}

/// The tiny supernets' device and size: the CPU backend, C=4, L=3.
const TINY_SUPERNET: [&str; 6] = ["--device", "cpu", "--channels", "4", "--layers", "3"];

/// Trains a tiny network (C=4, 2 epochs of 16 images at batch 8, 8 test images) on the CPU
/// backend into `out`, with the options `extra`; panics when it fails.
pub fn tiny_training(out: &std::path::Path, extra: &[&str]) {
    let done = tiny_training_run(out, 2, extra);
    assert!(done.status.success(), "{}", text(&done.stderr));
}

/// [`tiny_training`] for `epochs` epochs, whatever its outcome.
pub fn tiny_training_run(out: &std::path::Path, epochs: usize, extra: &[&str]) -> Output {
    let epochs = epochs.to_string();
    let mut args = vec![
        "train",
        "--device",
        "cpu",
        "--channels",
        "4",
        "--epochs",
        &epochs,
        "--batch-size",
        "8",
        "--train-images",
        "16",
        "--test-images",
        "8",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    run(&args)
}

/// A tiny one-stage run (C=4, L=3, 96 training and 64 test images at batch 32) on the CPU
/// backend into `out`, `method` naming one-stage ISTA-NAS on the command line, with `extra`.
pub fn tiny_one_stage(method: &[&str], out: &std::path::Path, extra: &[&str]) -> Output {
    let mut args = vec!["search"];
    args.extend_from_slice(method);
    args.extend(TINY_SUPERNET);
    args.extend([
        "--train-images",
        "96",
        "--test-images",
        "64",
        "--batch-size",
        "32",
        "--out",
        out.to_str().unwrap(),
    ]);
    args.extend_from_slice(extra);
    run(&args)
}

/// A step of `kind` at C = `channels`, L = `layers`, `batch` images of `image`² with 3 channels,
/// for the walk of `bench --shapes`.
pub fn step_case(
    kind: ista_nas::model::heads::NetKind,
    channels: usize,
    layers: usize,
    batch: usize,
    image: usize,
) -> ista_nas::bench::step_shapes::StepCase {
    ista_nas::bench::step_shapes::StepCase {
        kind,
        channels,
        layers,
        batch,
        image,
        in_channels: 3,
    }
}
