//! wgpu's largest storage binding (2³¹ − 1 bytes) in the dry walk and in runs: a step whose
//! kernels would bind more is caught by `first_unfit`, and a search that would need it is
//! refused before any work, naming the batch size that fits.

mod common;

use common::step_case as case;

use common::{assert_clean_failure, run};
use ista_nas::bench::step_shapes::{
    StepCase, first_unfit, largest_binding, largest_fitting_batch, oversized, step_launches,
};
use ista_nas::kernels::launch_plan::MAX_BINDING;
use ista_nas::kernels::variant::KernelShape;
use ista_nas::model::heads::NetKind;

/// The ImageNet supernet at batch 1024 stacks 5.4 GB of op outputs for one mixed op: the walk
/// catches it, and the batch it names fits while one more image does not.
#[test]
fn the_imagenet_walk_is_caught_and_the_fitting_batch_is_exact() {
    let big = case(NetKind::Imagenet, 48, 14, 1024, 224);
    let launches = step_launches(&big, KernelShape::Gpu);
    let bad = first_unfit(&launches).expect("a binding over the limit");
    assert_eq!(bad.plan.kernel, "masked_mixed_op", "{bad:?}");
    assert!(bad.plan.largest_binding() > 5_000_000_000, "{bad:?}");
    let fits = largest_fitting_batch(&big, KernelShape::Gpu, MAX_BINDING);
    assert!(fits > 0 && fits < 1024, "{fits}");
    let at = |batch| StepCase { batch, ..big };
    assert!(oversized(&at(fits), KernelShape::Gpu, MAX_BINDING).is_none());
    assert!(oversized(&at(fits + 1), KernelShape::Gpu, MAX_BINDING).is_some());
    // the largest binding is the stacked ops: S × B·C·H·W values of 4 bytes
    let launches = step_launches(&at(fits), KernelShape::Gpu);
    let largest = largest_binding(&launches).unwrap();
    assert!(largest.plan.largest_binding() <= MAX_BINDING);
    assert!(
        first_unfit(&launches).is_none(),
        "{:?}",
        first_unfit(&launches)
    );
}

/// Bindings grow with the batch, so the bisection agrees with a walk over every batch size.
#[test]
fn the_fitting_batch_matches_a_linear_search() {
    let small = case(NetKind::Cifar, 16, 8, 200, 32);
    for limit in [1 << 24, 50_000_000, 1 << 28] {
        let linear = (1..=200)
            .take_while(|&b| {
                oversized(&StepCase { batch: b, ..small }, KernelShape::Gpu, limit).is_none()
            })
            .last()
            .unwrap_or(0);
        assert_eq!(
            largest_fitting_batch(&small, KernelShape::Gpu, limit),
            linear,
            "limit {limit}"
        );
    }
    assert_eq!(largest_fitting_batch(&small, KernelShape::Gpu, 16), 0);
}

/// A search whose mixed op would bind more than the adapter allows (C=16 on 32×32 images, batch
/// 3,000: 6.9 GB of stacked op outputs, over even wgpu's cap of 2³¹ − 1 bytes) is refused on the
/// Vulkan adapter before its run folder exists, with the batch size that fits its limit.
#[test]
fn a_search_over_the_binding_limit_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let result = run(&[
        "search",
        "--device",
        "vulkan",
        "--channels",
        "16",
        "--layers",
        "8",
        "--train-images",
        "6000",
        "--batch-size",
        "3000",
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&result, "--batch-size 3000 needs a");
    let stderr = common::text(&result.stderr);
    // the adapter's own limit, as the message gives it (lavapipe's is far below wgpu's cap)
    let limit: usize = stderr
        .split(" bytes at most")
        .next()
        .and_then(|head| head.rsplit('(').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no limit in {stderr}"));
    assert!(limit <= MAX_BINDING, "{stderr}");
    let fits = largest_fitting_batch(
        &StepCase {
            in_channels: 1,
            ..case(NetKind::Cifar, 16, 8, 3000, 32)
        },
        KernelShape::Software,
        limit,
    );
    assert!(fits > 0 && fits < 3000, "{fits}");
    assert!(
        stderr.contains(&format!("pass --batch-size {fits} or less")),
        "{stderr}"
    );
    assert!(!out.exists(), "no run folder for a refused run");
}
