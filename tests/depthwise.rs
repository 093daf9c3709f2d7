//! The depthwise-convolution kernels (WGSL on lavapipe, Rust on the CPU backend) against Burn's
//! grouped convolution: output and the gradients of input and weight.

mod common;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, activation};
use ista_nas::kernels::depthwise::depthwise_conv2d;
use ista_nas::kernels::depthwise_cpu::Geometry;
use ista_nas::kernels::variant::{KernelShape, force_on_this_thread};

use common::{close, host, random, same_value_and_grads, vulkan};

/// The search space's depthwise geometries (sep 3×3 and 5×5, dil 3×3 and 5×5, stride 1 and 2),
/// plain and with the op's ReLU fused in (against Burn's ReLU then convolution), on inputs of a
/// few shapes, among them more output pixels per weight than a workgroup.
fn all_cases(device: &Device) {
    // a batch of 37 sums the weight gradient in two passes (groups of 16 images, then the groups)
    let shapes = [[3, 4, 9, 8], [4, 5, 17, 13], [1, 2, 3, 3], [37, 3, 4, 4]];
    for (kernel, stride, padding, dilation) in [
        (3, 1, 1, 1),
        (5, 2, 2, 1),
        (3, 1, 2, 2),
        (5, 2, 4, 2),
        (3, 2, 1, 1),
    ] {
        for relu in [false, true] {
            let g = Geometry {
                kernel,
                stride,
                padding,
                dilation,
                relu,
            };
            for (seed, dims) in shapes.into_iter().enumerate() {
                let what = format!("{g:?} {dims:?} on {device:?}");
                let seed = 10 * seed as u64;
                let c = dims[1];
                let x = random(dims, seed + 1, device).require_grad();
                let w = random([c, 1, kernel, kernel], seed + 2, device).require_grad();
                let ours = depthwise_conv2d(x.clone(), w.clone(), g).expect("the kernels apply");
                let options = ConvOptions::new([stride; 2], [padding; 2], [dilation; 2], c);
                // the unfused path: Burn's ReLU, then its grouped convolution
                let input = if relu {
                    activation::relu(x.clone())
                } else {
                    x.clone()
                };
                let theirs = conv2d(input, w.clone(), None, options);
                let inputs = [(&x, "dx"), (&w, "dw")];
                same_value_and_grads(ours, theirs, &inputs, seed + 3, 1e-5, &what);
            }
        }
    }
}

#[test]
fn wgsl_depthwise_matches_burns_grouped_convolution_on_lavapipe() {
    // the weight gradient's batch sum in both shapes: one pass (lavapipe's), row groups (GPUs')
    for shape in [KernelShape::Software, KernelShape::Gpu] {
        force_on_this_thread(Some(shape));
        all_cases(&vulkan().autodiff());
    }
    force_on_this_thread(None);
}

#[test]
fn cpu_depthwise_matches_burns_grouped_convolution_on_the_cpu_backend() {
    all_cases(&Device::flex().autodiff());
}

#[test]
fn wgsl_depthwise_reads_strided_inputs() {
    let device = vulkan();
    let g = Geometry {
        kernel: 3,
        stride: 1,
        padding: 1,
        dilation: 1,
        relu: false,
    };
    let x = random([2, 3, 5, 6], 7, &device).swap_dims(2, 3); // [2, 3, 6, 5], strided
    let w = random([3, 1, 3, 3], 8, &device);
    let ours = depthwise_conv2d(x.clone(), w.clone(), g).unwrap();
    let theirs = conv2d(x, w, None, ConvOptions::new([1; 2], [1; 2], [1; 2], 3));
    close(&host(ours), &host(theirs), 1e-5, "strided input");
}
