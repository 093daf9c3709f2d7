//! The 1×1-convolution WGSL kernels on lavapipe against Burn's convolution: output and the
//! gradients of input and weight; shapes they do not take fall back (`None`).

mod common;

use burn::tensor::Device;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use ista_nas::kernels::pointwise::pointwise_conv2d;
use ista_nas::kernels::variant::{KernelShape, force_on_this_thread};

use common::{close, host, random, same_value_and_grads, vulkan};

/// Ours and Burn's on `x` `[B, K, H, W]` and a weight `[R, K, 1, 1]`: forward, dx and dw.
fn compare(dims: [usize; 4], rows: usize, seed: u64, device: &Device) {
    let what = format!("{dims:?} → {rows} rows");
    let x = random(dims, seed, device).require_grad();
    let w = random([rows, dims[1], 1, 1], seed + 1, device).require_grad();
    let ours = pointwise_conv2d(x.clone(), w.clone()).expect("the kernels apply");
    let theirs = conv2d(
        x.clone(),
        w.clone(),
        None,
        ConvOptions::new([1; 2], [0; 2], [1; 2], 1),
    );
    same_value_and_grads(
        ours,
        theirs,
        &[(&x, "dx"), (&w, "dw")],
        seed + 2,
        1e-5,
        &what,
    );
}

/// Square and non-square mixes (more rows than inputs and fewer), one image and several,
/// pixel counts of one workgroup's quads and more (32×32 = 256 quads, 36×20 = 180).
#[test]
fn wgsl_pointwise_matches_burns_convolution_on_lavapipe() {
    let device = vulkan().autodiff();
    let cases = [
        ([2, 3, 4, 4], 5),
        ([3, 8, 8, 2], 8),
        ([1, 16, 32, 32], 4),
        ([4, 5, 36, 20], 7),
        ([2, 1, 2, 2], 1),
        // batches past 16 sum the weight gradient in two passes on GPUs
        ([40, 4, 2, 2], 4),
        ([33, 3, 2, 2], 5),
    ];
    for shape in [KernelShape::Software, KernelShape::Gpu] {
        force_on_this_thread(Some(shape));
        for (i, (dims, rows)) in cases.into_iter().enumerate() {
            compare(dims, rows, 10 * i as u64, &device);
        }
    }
    force_on_this_thread(None);
}

/// A strided (transposed) input is read in its logical order.
#[test]
fn wgsl_pointwise_reads_strided_inputs() {
    let device = vulkan();
    let x = random([2, 3, 5, 4], 7, &device).swap_dims(2, 3); // [2, 3, 4, 5], strided
    let w = random([6, 3, 1, 1], 8, &device);
    let ours = pointwise_conv2d(x.clone(), w.clone()).unwrap();
    let theirs = conv2d(x, w, None, ConvOptions::new([1; 2], [0; 2], [1; 2], 1));
    close(&host(ours), &host(theirs), 1e-5, "strided input");
}

/// Pixel counts that are not whole fours, weights that are not 1×1 or do not match the
/// input's channels, and Burn's CPU backend are left to the caller.
#[test]
fn shapes_the_kernels_do_not_take_fall_back() {
    let device = vulkan();
    let w = random([4, 3, 1, 1], 1, &device);
    assert!(pointwise_conv2d(random([2, 3, 3, 3], 2, &device), w.clone()).is_none());
    assert!(pointwise_conv2d(random([2, 5, 4, 4], 3, &device), w.clone()).is_none());
    let w3 = random([4, 3, 3, 3], 4, &device);
    assert!(pointwise_conv2d(random([2, 3, 4, 4], 5, &device), w3).is_none());
    let cpu = Device::flex();
    let w = random([4, 3, 1, 1], 1, &cpu);
    assert!(pointwise_conv2d(random([2, 3, 4, 4], 2, &cpu), w).is_none());
}
