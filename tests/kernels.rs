//! The WGSL kernels against their Burn-ops reference, forward and backward, on the Vulkan adapter.

mod common;

use burn::tensor::Tensor;
use common::{host, max_abs_diff, random, vulkan};
use ista_nas::bench::dispatches::count_dispatches;
use ista_nas::kernels::{masked_mixed_op, reference, soft_threshold};

/// Elements past 65,535 workgroups of 256 threads: forces the folded 2-D dispatch.
const PAST_GROUP_LIMIT: usize = 65_535 * 256 + 1_000;

#[test]
fn adapter_is_vulkan_and_runs_the_wgsl_path() {
    let device = vulkan();
    assert!(ista_nas::devices::adapter::runs_wgsl(&device));
    assert!(ista_nas::devices::adapter::runs_wgsl(
        &device.clone().autodiff()
    ));
}

#[test]
fn soft_threshold_matches_reference() {
    let device = vulkan();
    let x = random([100_003], 1, &device);
    let got = host(soft_threshold(x.clone(), 0.3));
    let want = host(reference::soft_threshold(x, 0.3));
    assert_eq!(max_abs_diff(&got, &want), 0.0);
    assert!(got.contains(&0.0) && got.iter().any(|&v| v != 0.0));
}

#[test]
fn soft_threshold_non_contiguous_input() {
    let device = vulkan();
    let x = random([3, 5, 7, 11], 2, &device).swap_dims(1, 3); // [3, 11, 7, 5], strided
    let got = host(soft_threshold(x.clone(), 0.25));
    let want = host(reference::soft_threshold(x, 0.25));
    assert_eq!(max_abs_diff(&got, &want), 0.0);
}

#[test]
fn soft_threshold_past_workgroup_limit() {
    let device = vulkan();
    let x = random([PAST_GROUP_LIMIT], 3, &device);
    let got = host(soft_threshold(x.clone(), 0.5));
    let want = host(reference::soft_threshold(x, 0.5));
    assert_eq!(max_abs_diff(&got, &want), 0.0);
}

#[test]
fn soft_threshold_backward_matches_reference() {
    let device = vulkan().autodiff();
    let weights = random([4, 300], 5, &device);
    let grad_of = |kernel: bool| {
        let x = random([300, 4], 4, &device).swap_dims(0, 1).require_grad(); // non-contiguous
        let y = if kernel {
            soft_threshold(x.clone(), 0.2)
        } else {
            reference::soft_threshold(x.clone(), 0.2)
        };
        let grads = (y * weights.clone()).sum().backward();
        host(x.grad(&grads).expect("x has a gradient"))
    };
    let (got, want) = (grad_of(true), grad_of(false));
    assert_eq!(max_abs_diff(&got, &want), 0.0);
    assert!(got.contains(&0.0), "shrunk entries get no gradient");
}

fn mix_case(device: &burn::tensor::Device, support: &[usize], width: usize, strided: bool) {
    let n = 14;
    let ops = if strided {
        random([width, support.len()], 7, device).swap_dims(0, 1) // [S, N], strided
    } else {
        random([support.len(), width], 7, device)
    };
    let coeffs = random([n], 8, device);
    let got = host(masked_mixed_op(ops.clone(), coeffs.clone(), support).unwrap());
    let want = host(reference::masked_mixed_op(ops, coeffs, support));
    assert!(
        max_abs_diff(&got, &want) <= 1e-6,
        "support {support:?}, width {width}"
    );
}

#[test]
fn masked_mixed_op_matches_reference() {
    let device = vulkan();
    mix_case(&device, &[1, 4, 6], 10_007, false);
    mix_case(&device, &[13, 0], 4_099, true);
    mix_case(&device, &[5], PAST_GROUP_LIMIT, false);
}

#[test]
fn masked_mixed_op_empty_support_is_zero() {
    let device = vulkan();
    let ops = Tensor::<2>::zeros([0, 513], &device);
    let out = host(masked_mixed_op(ops, random([14], 9, &device), &[]).unwrap());
    assert_eq!(out, vec![0.0; 513]);
}

#[test]
fn masked_mixed_op_rejects_mismatched_support() {
    let device = vulkan();
    let ops = random([2, 10], 1, &device);
    assert!(masked_mixed_op(ops.clone(), random([14], 2, &device), &[3]).is_err());
    assert!(masked_mixed_op(ops, random([14], 2, &device), &[3, 14]).is_err());
}

/// Gradients of ⟨mix(ops, coeffs), r⟩ w.r.t. ops and coeffs, through the kernel or the reference.
fn mix_grads(
    device: &burn::tensor::Device,
    support: &[usize],
    width: usize,
    kernel: bool,
) -> (Vec<f32>, Vec<f32>) {
    let ops = random([width, support.len()], 11, device)
        .swap_dims(0, 1)
        .require_grad();
    let coeffs = random([14], 12, device).require_grad();
    let target = random([width], 13, device);
    let out = if kernel {
        masked_mixed_op(ops.clone(), coeffs.clone(), support).unwrap()
    } else {
        reference::masked_mixed_op(ops.clone(), coeffs.clone(), support)
    };
    let grads = (out * target).sum().backward();
    let d_coeffs = host(coeffs.grad(&grads).expect("coeffs gradient"));
    let d_ops = ops.grad(&grads).map(host).unwrap_or_default();
    (d_ops, d_coeffs)
}

#[test]
fn masked_mixed_op_backward_matches_reference() {
    let device = vulkan().autodiff();
    let support = [2, 9, 11];
    // one value per thread of the ops' gradient kernel, and four
    for width in [5_003, 4_100] {
        let (ops_k, coeffs_k) = mix_grads(&device, &support, width, true);
        let (ops_r, coeffs_r) = mix_grads(&device, &support, width, false);
        assert!(max_abs_diff(&ops_k, &ops_r) <= 1e-6, "{width}");
        assert!(
            max_abs_diff(&coeffs_k, &coeffs_r)
                <= 1e-3 * coeffs_r.iter().fold(1.0f32, |m, v| m.max(v.abs()))
        );
        for (k, g) in coeffs_k.iter().enumerate() {
            assert_eq!(*g == 0.0, !support.contains(&k), "d coeffs[{k}] = {g}");
        }
    }
}

#[test]
fn masked_mixed_op_backward_empty_support() {
    let device = vulkan().autodiff();
    let ops = Tensor::<2>::zeros([0, 64], &device).require_grad();
    let coeffs = random([14], 3, &device).require_grad();
    let out = masked_mixed_op(ops, coeffs.clone(), &[]).unwrap();
    let grads = (out * random([64], 4, &device)).sum().backward();
    let d_coeffs = coeffs
        .grad(&grads)
        .map(host)
        .unwrap_or_else(|| vec![0.0; 14]);
    assert_eq!(d_coeffs, vec![0.0; 14]);
}

/// On the CPU backend the ops run as plain Burn ops (the reference path); checked here against a
/// hand computation, values and gradients, not against that same reference.
#[test]
fn burn_cpu_backend_runs_the_reference_path() {
    let device = burn::tensor::Device::flex().autodiff();
    assert!(!ista_nas::devices::adapter::runs_wgsl(&device));
    let values = common::uniform(64, 21);
    let x = Tensor::<1>::from_floats(values.as_slice(), &device).require_grad();
    let y = soft_threshold(x.clone(), 0.4);
    let shrunk: Vec<f32> = values
        .iter()
        .map(|&v| v.signum() * (v.abs() - 0.4).max(0.0))
        .collect();
    assert!(max_abs_diff(&host(y.clone()), &shrunk) <= 1e-7);
    let rows = common::uniform(2 * 32, 22);
    let ops = Tensor::<1>::from_floats(rows.as_slice(), &device).reshape([2, 32]);
    let c = common::uniform(14, 23);
    let coeffs = Tensor::<1>::from_floats(c.as_slice(), &device).require_grad();
    let mixed = masked_mixed_op(ops, coeffs.clone(), &[3, 7]).unwrap();
    // row 0 is op 3, row 1 op 7: out[j] = c₃·ops[0, j] + c₇·ops[1, j]
    let want: Vec<f32> = (0..32)
        .map(|j| c[3] * rows[j] + c[7] * rows[32 + j])
        .collect();
    assert!(max_abs_diff(&host(mixed.clone()), &want) <= 1e-6);
    let grads = (mixed.sum() + y.sum()).backward();
    let d_coeffs = host(coeffs.grad(&grads).expect("coeffs gradient"));
    let row_sum = |r: usize| rows[32 * r..32 * (r + 1)].iter().sum::<f32>();
    for (k, g) in d_coeffs.iter().enumerate() {
        let expected = match k {
            3 => row_sum(0),
            7 => row_sum(1),
            _ => 0.0,
        };
        assert!(
            (g - expected).abs() <= 1e-5,
            "d coeffs[{k}] = {g}, expected {expected}"
        );
    }
    // d soft_threshold / dx = 1 where |x| > t, else 0
    let dx = host(x.grad(&grads).expect("x gradient"));
    for (v, g) in values.iter().zip(dx) {
        assert_eq!(g, if v.abs() > 0.4 { 1.0 } else { 0.0 }, "x = {v}");
    }
}

/// The WGSL path really runs on the Vulkan adapter: its launches are counted.
#[test]
fn the_wgsl_kernels_launch_on_vulkan() {
    let device = vulkan();
    let x = random([4096], 24, &device);
    let (y, launches) = count_dispatches(|| host(soft_threshold(x, 0.3)));
    assert_eq!(y.len(), 4096);
    let wgsl: u64 = launches
        .iter()
        .filter(|(name, _)| name.contains("WgslKernel"))
        .map(|(_, n)| n)
        .sum();
    assert!(wgsl >= 1, "no WGSL launch counted: {launches:?}");
}

/// Lengths that are not a multiple of 4 (one element per thread) and that are (four per
/// thread), with zeros of both signs, the smallest normal, infinities of both signs and NaN of
/// both signs among the values (the WGSL kernel tests the sign and NaN by the bits).
#[test]
fn relu_matches_burns_forward_and_backward() {
    let device = vulkan().autodiff();
    for len in [5_003, 5_004, 4] {
        let mut values = common::uniform(len, 11);
        values[..4].copy_from_slice(&[0.0, -0.0, f32::MIN_POSITIVE, -1.0]);
        if len > 4 {
            values[4] = f32::NAN;
            values[5] = f32::INFINITY;
            values[6] = f32::NEG_INFINITY;
            values[7] = f32::from_bits(0xFFC0_0000); // a NaN with the sign bit set
        }
        let data = || burn::tensor::TensorData::new(values.clone(), [len]);
        let x1 = Tensor::<1>::from_data(data(), &device).require_grad();
        let x2 = Tensor::<1>::from_data(data(), &device).require_grad();
        let (ours, theirs) = (
            ista_nas::kernels::relu(x1.clone()),
            burn::tensor::activation::relu(x2.clone()),
        );
        let bits = |t: Tensor<1>| host(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(ours.clone()), bits(theirs.clone()), "length {len}");
        let up = random([len], 12, &device);
        let g1 = (ours * up.clone()).sum().backward();
        let g2 = (theirs * up).sum().backward();
        assert_eq!(
            bits(x1.grad(&g1).unwrap()),
            bits(x2.grad(&g2).unwrap()),
            "gradient, length {len}"
        );
    }
}

/// Soft-thresholding by the bits of x: NaN of either sign comes back with its own bits (SPIR-V
/// leaves `max` and `sign` of NaN undefined), infinities keep their sign, a shrunk value takes
/// x's sign (−0 for a negative x), and the rest is |x| − t with x's sign, in both the elementwise
/// kernel and the rule it shares with the solver.
#[test]
fn soft_threshold_keeps_nan_and_signs_by_their_bits() {
    let device = vulkan();
    let t = 0.25f32;
    let mut values = common::uniform(4_099, 13);
    let specials = [
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::from_bits(1), // the smallest subnormal
        t,
        -t,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::from_bits(0xFFC0_0000), // a NaN with the sign bit set
        f32::from_bits(0x7F80_0001), // a signalling-NaN pattern
        f32::from_bits(0x7FC1_2345), // a NaN with a payload
    ];
    values[..specials.len()].copy_from_slice(&specials);
    let x = Tensor::<1>::from_data(
        burn::tensor::TensorData::new(values.clone(), [values.len()]),
        &device,
    );
    let got = host(soft_threshold(x, t));
    for (v, g) in values.iter().zip(&got) {
        if v.is_nan() {
            assert!(g.is_nan(), "x = {v:?} ({:#x}) gave {g}", v.to_bits());
            // quieting a signalling NaN may set the quiet bit; everything else stays
            assert_eq!(
                g.to_bits() | 0x0040_0000,
                v.to_bits() | 0x0040_0000,
                "NaN bits {:#x} → {:#x}",
                v.to_bits(),
                g.to_bits()
            );
        } else {
            let want = (v.abs() - t).max(0.0).copysign(*v);
            assert_eq!(
                g.to_bits(),
                want.to_bits(),
                "x = {v:?}: {g:?}, want {want:?}"
            );
        }
    }
}
