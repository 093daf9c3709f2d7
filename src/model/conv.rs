//! How a convolution of the search space runs: depthwise ones through the project's kernels (WGSL
//! on wgpu, Rust on Burn's CPU backend), 1×1 ones through the project's WGSL kernels on wgpu and
//! as a batched matrix product elsewhere, the rest as Burn's `Conv2d`.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

use crate::kernels::depthwise::depthwise_conv2d;
use crate::kernels::depthwise_cpu::Geometry;
use crate::kernels::pointwise::pointwise_conv2d;
use crate::profile::scope;

/// The depthwise geometry of `conv`, when it is one (groups = channels, square, symmetric padding).
fn depthwise_geometry(conv: &Conv2d, channels: usize) -> Option<Geometry> {
    let [k, k2] = conv.kernel_size;
    let [s, s2] = conv.stride;
    let [d, d2] = conv.dilation;
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(a, b, c, e) if a == b && b == c && c == e => a,
        _ => return None,
    };
    (conv.groups == channels && channels > 1 && k == k2 && s == s2 && d == d2).then_some(Geometry {
        kernel: k,
        stride: s,
        padding,
        dilation: d,
        relu: false,
    })
}

/// ReLU, timed as its own scope when profiling.
pub fn timed_relu(x: Tensor<4>) -> Tensor<4> {
    scope("relu", || crate::kernels::relu(x))
}

/// `conv` applied to ReLU(`x`): in one kernel each way where `conv` is depthwise and the
/// project's kernels run (the ReLU read as the input is loaded, its backward folded into the
/// input gradient), else ReLU's kernel and then the convolution's fastest route.
pub fn relu_conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    forward(conv, x, true)
}

/// `conv` applied to `x` `[B, C_in, H, W]` → `[B, C_out, H', W']`, by the fastest route.
pub fn conv_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    forward(conv, x, false)
}

/// `conv` applied to `x`, or to ReLU(`x`) where `relu`, by the fastest route.
fn forward(conv: &Conv2d, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let [b, c_in, h, w] = x.dims();
    let weight = conv.weight.val(); // [C_out, C_in / groups, k, k]
    let [c_out, per_group, kh, kw] = weight.dims();
    let depthwise = conv
        .bias
        .is_none()
        .then(|| depthwise_geometry(conv, c_in))
        .flatten();
    if let Some(g) = depthwise {
        let name = if relu {
            "relu + depthwise conv"
        } else {
            "depthwise conv"
        };
        let g = Geometry { relu, ..g };
        let y = scope(name, || depthwise_conv2d(x.clone(), weight.clone(), g));
        if let Some(y) = y {
            return y;
        }
    }
    let x = if relu { timed_relu(x) } else { x };
    let pointwise = [kh, kw] == [1, 1] && conv.stride == [1, 1] && conv.groups == 1;
    if conv.bias.is_none() && pointwise && per_group == c_in {
        return scope("1x1 conv", || {
            if let Some(y) = pointwise_conv2d(x.clone(), weight.clone()) {
                return y; // [B, C_out, H, W]
            }
            let w2 = weight.reshape([1, c_out, c_in]); // [1, C_out, C_in]
            let y = w2.matmul(x.reshape([b, c_in, h * w])); // [B, C_out, H·W]
            y.reshape([b, c_out, h, w])
        });
    }
    scope("conv", || conv.forward(x))
}
