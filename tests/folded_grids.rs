//! Grids folded into a second dimension past WebGPU's 65,535 workgroups per dimension, on
//! lavapipe: ReLU and its backward, the depthwise weight gradient's first pass, and the column
//! sums, each launched with more workgroups than one dimension holds and checked everywhere
//! against a host computation (a wrong fold leaves the tail unwritten or writes it twice).

mod common;

use burn::tensor::{Tensor, TensorData};
use ista_nas::kernels::depthwise::depthwise_conv2d;
use ista_nas::kernels::depthwise_cpu::Geometry;
use ista_nas::kernels::launch_plan::{COLUMN_WORKGROUP, MAX_GROUPS, column_sums};
use ista_nas::kernels::pointwise::pointwise_conv2d;
use ista_nas::kernels::relu;
use ista_nas::kernels::variant::{KernelShape, force_on_this_thread};

use common::{host, uniform, vulkan};

/// Past one dimension of 256-thread workgroups.
const PAST_ONE_DIMENSION: usize = MAX_GROUPS * COLUMN_WORKGROUP;

#[test]
fn relu_and_its_backward_fold_past_65535_workgroups() {
    let device = vulkan().autodiff();
    let n = PAST_ONE_DIMENSION + 4099; // not a multiple of 4: one value per thread
    let values = uniform(n, 7);
    let x = Tensor::<1>::from_data(TensorData::new(values.clone(), [n]), &device).require_grad();
    let y = relu(x.clone());
    let grads = y.clone().sum().backward();
    let (y, dx) = (host(y), host(x.grad(&grads).expect("a gradient")));
    for (i, v) in values.iter().enumerate() {
        let expected = v.max(0.0);
        assert_eq!(y[i], expected, "y[{i}] of {n}");
        assert_eq!(dx[i], if *v > 0.0 { 1.0 } else { 0.0 }, "dx[{i}] of {n}");
    }
}

/// 512 images × 2,048 channels × 25 weights = 26.2 M threads of the weight gradient's first
/// pass (102,400 workgroups), on 2×2 planes; y summed, so dw[c, ty, tx] = Σ over images and
/// output pixels of the input pixel tap (ty, tx) reads.
#[test]
fn depthwise_weight_grad_folds_past_65535_workgroups() {
    let device = vulkan().autodiff();
    let [b, c, h, w] = [512, 2048, 2, 2];
    let g = Geometry {
        kernel: 5,
        stride: 1,
        padding: 2,
        dilation: 1,
        relu: false,
    };
    assert!(b * c * 25 > PAST_ONE_DIMENSION);
    let values = uniform(b * c * h * w, 11);
    let mut expected = vec![0.0f64; c * 25];
    for (i, v) in values.iter().enumerate() {
        let (ch, pixel) = ((i / (h * w)) % c, i % (h * w));
        let (iy, ix) = (pixel / w, pixel % w);
        for oy in 0..h {
            for ox in 0..w {
                // tap t reads input o + t − 2
                let (ty, tx) = (iy + 2 - oy, ix + 2 - ox);
                expected[ch * 25 + ty * 5 + tx] += f64::from(*v);
            }
        }
    }
    for shape in [KernelShape::Software, KernelShape::Gpu] {
        force_on_this_thread(Some(shape));
        let data = TensorData::new(values.clone(), [b, c, h, w]);
        let x = Tensor::<4>::from_data(data, &device);
        let weight = Tensor::<4>::ones([c, 1, 5, 5], &device).require_grad();
        let y = depthwise_conv2d(x, weight.clone(), g).expect("the kernels apply");
        let dw = host(weight.grad(&y.sum().backward()).expect("a gradient"));
        force_on_this_thread(None);
        for (i, (got, want)) in dw.iter().zip(&expected).enumerate() {
            let tol = 1e-3 * (1.0 + want.abs());
            assert!(
                (f64::from(*got) - want).abs() <= tol,
                "{shape:?}: dw[{i}] {got} vs {want}"
            );
        }
    }
}

/// A 1×1 weight [4,096, 4,096]: its gradient's column sums have 16.8 M columns, 65,536
/// workgroups of 256; y summed, so dW[r, k] = Σ over pixels of x[k].
#[test]
fn column_sums_fold_past_65535_workgroups() {
    let device = vulkan().autodiff();
    let (k, r) = (4096, 4096);
    assert!(
        column_sums(1, r * k)
            .iter()
            .any(|(_, plan)| plan.groups[1] > 1)
    );
    let values = uniform(k * 4, 13);
    let x = Tensor::<4>::from_data(TensorData::new(values.clone(), [1, k, 2, 2]), &device);
    let weight = Tensor::<4>::zeros([r, k, 1, 1], &device).require_grad();
    let y = pointwise_conv2d(x, weight.clone()).expect("the kernels apply");
    let dw = host(weight.grad(&y.sum().backward()).expect("a gradient"));
    let per_channel: Vec<f32> = values.chunks(4).map(|p| p.iter().sum()).collect();
    for (i, got) in dw.iter().enumerate() {
        let want = per_channel[i % k];
        assert!(
            (got - want).abs() <= 1e-5,
            "dW[{}, {}]: {got} vs {want}",
            i / k,
            i % k
        );
    }
}
