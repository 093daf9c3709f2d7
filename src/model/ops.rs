//! The candidate operations (docs/method.md §2): pools, skip / FactorizedReduce, separable and dilated convs.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::tensor::{Device, Tensor};

use super::conv::{conv_forward, relu_conv_forward, timed_relu};
use super::norm::Norm;
use crate::profile::scope;

/// A bias-free convolution.
pub fn conv(
    device: &Device,
    (c_in, c_out): (usize, usize),
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_dilation([dilation, dilation])
        .with_groups(groups)
        .with_bias(false)
        .init(device)
}

/// ReLU, 1×1 conv, BN: the cell's input preprocessing.
#[derive(Module, Debug)]
pub struct ReluConvBn {
    conv: Conv2d,
    norm: Norm,
}

impl ReluConvBn {
    /// C_in → C_out.
    pub fn new(c_in: usize, c_out: usize, affine: bool, device: &Device) -> Self {
        Self {
            conv: conv(device, (c_in, c_out), 1, 1, 0, 1, 1),
            norm: Norm::new(c_out, affine, device),
        }
    }

    /// `[B, C_in, H, W]` → `[B, C_out, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.norm.forward(conv_forward(&self.conv, timed_relu(x)))
    }
}

/// ReLU, two 1×1 stride-2 convs (the second on the input shifted by one pixel), concat, BN.
#[derive(Module, Debug)]
pub struct FactorizedReduce {
    conv_a: Conv2d,
    conv_b: Conv2d,
    norm: Norm,
}

impl FactorizedReduce {
    /// C_in → C_out (even), halving height and width.
    pub fn new(c_in: usize, c_out: usize, affine: bool, device: &Device) -> Self {
        Self {
            conv_a: conv(device, (c_in, c_out / 2), 1, 2, 0, 1, 1),
            conv_b: conv(device, (c_in, c_out / 2), 1, 2, 0, 1, 1),
            norm: Norm::new(c_out, affine, device),
        }
    }

    /// `[B, C_in, H, W]` → `[B, C_out, H/2, W/2]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = timed_relu(x);
        let [b, c, h, w] = x.dims();
        let shifted = x.clone().slice([0..b, 0..c, 1..h, 1..w]);
        let out = Tensor::cat(
            vec![self.conv_a.forward(x), self.conv_b.forward(shifted)],
            1,
        );
        self.norm.forward(out)
    }
}

/// ReLU, depthwise k×k (dilation d), 1×1 conv, BN: one half of a sep conv, or a dil conv.
#[derive(Module, Debug)]
pub struct DilConv {
    depthwise: Conv2d,
    pointwise: Conv2d,
    norm: Norm,
}

impl DilConv {
    /// `kernel`, `stride`, `padding`, `dilation` of the depthwise conv; C → C.
    pub fn new(
        c: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
        affine: bool,
        device: &Device,
    ) -> Self {
        Self {
            depthwise: conv(device, (c, c), kernel, stride, padding, dilation, c),
            pointwise: conv(device, (c, c), 1, 1, 0, 1, 1),
            norm: Norm::new(c, affine, device),
        }
    }

    /// `[B, C, H, W]` → `[B, C, H/stride, W/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu_conv_forward(&self.depthwise, x); // [B, C, H', W']
        self.norm.forward(conv_forward(&self.pointwise, x))
    }
}

/// Separable conv: two DilConv halves with dilation 1, the first carrying the stride.
#[derive(Module, Debug)]
pub struct SepConv {
    first: DilConv,
    second: DilConv,
}

impl SepConv {
    /// k×k (padding k/2); C → C.
    pub fn new(c: usize, kernel: usize, stride: usize, affine: bool, device: &Device) -> Self {
        Self {
            first: DilConv::new(c, kernel, stride, kernel / 2, 1, affine, device),
            second: DilConv::new(c, kernel, 1, kernel / 2, 1, affine, device),
        }
    }

    /// `[B, C, H, W]` → `[B, C, H/stride, W/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.second.forward(self.first.forward(x))
    }
}

/// How the ops of a cell are built: BN affinity, and where extra BNs go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpStyle {
    /// Learnable γ, β in every BN (evaluation nets) or none (search cells).
    pub affine: bool,
    /// A BN after each pool (search cells and the one-stage net; not in DARTS evaluation nets).
    pub pool_norm: bool,
    /// A BN after the stride-1 identity (the one-stage net only).
    pub identity_norm: bool,
}

impl OpStyle {
    /// Two-stage search cells: non-affine BN, BN after pools.
    pub const SEARCH: OpStyle = OpStyle {
        affine: false,
        pool_norm: true,
        identity_norm: false,
    };
    /// DARTS-style evaluation nets: affine BN, bare pools and identity.
    pub const EVAL: OpStyle = OpStyle {
        affine: true,
        pool_norm: false,
        identity_norm: false,
    };
    /// One-stage evaluation nets: affine BN, also after pools and identity.
    pub const ONE_STAGE: OpStyle = OpStyle {
        affine: true,
        pool_norm: true,
        identity_norm: true,
    };
}

/// Max pool 3×3 (pad 1), then an optional BN.
#[derive(Module, Debug)]
pub struct MaxPoolBn {
    pool: MaxPool2d,
    norm: Option<Norm>,
}

/// Avg pool 3×3 (pad 1, padding not counted), then an optional BN.
#[derive(Module, Debug)]
pub struct AvgPoolBn {
    pool: AvgPool2d,
    norm: Option<Norm>,
}

fn maybe_norm(norm: &Option<Norm>, x: Tensor<4>) -> Tensor<4> {
    match norm {
        Some(norm) => norm.forward(x),
        None => x,
    }
}

/// One candidate operation on one edge.
#[derive(Module, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per edge; Burn's Module derive does not take boxed fields"
)]
pub enum Op {
    /// Max pool 3×3 (pad 1), then an optional BN.
    MaxPool(MaxPoolBn),
    /// Avg pool 3×3 (pad 1, padding not counted), then an optional BN.
    AvgPool(AvgPoolBn),
    /// Identity (skip at stride 1).
    Identity(Identity),
    /// Identity followed by BN (skip at stride 1 in the one-stage net).
    IdentityNorm(Norm),
    /// FactorizedReduce (skip at stride 2).
    Reduce(FactorizedReduce),
    /// sep_conv_3x3 / sep_conv_5x5.
    Sep(SepConv),
    /// dil_conv_3x3 / dil_conv_5x5.
    Dil(DilConv),
}

/// Stateless identity module.
#[derive(Module, Debug, Default)]
pub struct Identity;

impl Op {
    /// Op `index` of the search space (docs/method.md §2 order) on C channels at `stride`.
    pub fn new(index: usize, c: usize, stride: usize, style: OpStyle, device: &Device) -> Self {
        let affine = style.affine;
        let pool_norm = || style.pool_norm.then(|| Norm::new(c, affine, device));
        let pad = PaddingConfig2d::Explicit(1, 1, 1, 1);
        match index {
            0 => Op::MaxPool(MaxPoolBn {
                pool: MaxPool2dConfig::new([3, 3])
                    .with_strides([stride, stride])
                    .with_padding(pad)
                    .init(),
                norm: pool_norm(),
            }),
            1 => Op::AvgPool(AvgPoolBn {
                pool: AvgPool2dConfig::new([3, 3])
                    .with_strides([stride, stride])
                    .with_padding(pad)
                    .with_count_include_pad(false)
                    .init(),
                norm: pool_norm(),
            }),
            2 if stride == 1 && style.identity_norm => {
                Op::IdentityNorm(Norm::new(c, affine, device))
            }
            2 if stride == 1 => Op::Identity(Identity),
            2 => Op::Reduce(FactorizedReduce::new(c, c, affine, device)),
            3 => Op::Sep(SepConv::new(c, 3, stride, affine, device)),
            4 => Op::Sep(SepConv::new(c, 5, stride, affine, device)),
            5 => Op::Dil(DilConv::new(c, 3, stride, 2, 2, affine, device)),
            6 => Op::Dil(DilConv::new(c, 5, stride, 4, 2, affine, device)),
            _ => panic!("op index {index} outside the 7 candidate ops"),
        }
    }

    /// `[B, C, H, W]` → `[B, C, H/stride, W/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Op::MaxPool(op) => maybe_norm(&op.norm, scope("max pool", || op.pool.forward(x))),
            Op::AvgPool(op) => maybe_norm(&op.norm, scope("avg pool", || op.pool.forward(x))),
            Op::Identity(_) => x,
            Op::IdentityNorm(norm) => norm.forward(x),
            Op::Reduce(op) => op.forward(x),
            Op::Sep(op) => op.forward(x),
            Op::Dil(op) => op.forward(x),
        }
    }
}

impl Op {
    /// This op with its output scaled by `w`, folded into the BN that ends it (Eq. 12); `None`
    /// for an op without a final BN (a bare pool or identity, outside the one-stage style).
    pub fn scaled_output(&self, w: f32) -> Option<Op> {
        let mut op = self.clone();
        let norm = match &mut op {
            Op::MaxPool(MaxPoolBn { norm, .. }) | Op::AvgPool(AvgPoolBn { norm, .. }) => {
                norm.as_mut()?
            }
            Op::Identity(_) => return None,
            Op::IdentityNorm(norm) => norm,
            Op::Reduce(op) => &mut op.norm,
            Op::Sep(op) => &mut op.second.norm,
            Op::Dil(op) => &mut op.norm,
        };
        *norm = norm.scaled(w);
        Some(op)
    }

    /// True for the bare stride-1 identity, which drop path never touches (DARTS).
    pub fn is_bare_identity(&self) -> bool {
        matches!(self, Op::Identity(_))
    }
}

/// How a cell's first input is brought to C channels.
#[derive(Module, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per cell; Burn's Module derive does not take boxed fields"
)]
pub enum Preprocess {
    /// The cell two back is at twice the resolution: halve it.
    Reduce(FactorizedReduce),
    /// Same resolution: ReLU, 1×1 conv, BN.
    Conv(ReluConvBn),
}

impl Preprocess {
    /// FactorizedReduce when the cell two back reduced, else ReLU-conv-BN; C_in → C.
    pub fn new(c_in: usize, c: usize, reduction_prev: bool, affine: bool, device: &Device) -> Self {
        if reduction_prev {
            Preprocess::Reduce(FactorizedReduce::new(c_in, c, affine, device))
        } else {
            Preprocess::Conv(ReluConvBn::new(c_in, c, affine, device))
        }
    }

    /// `[B, C_in, H, W]` → `[B, C, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Preprocess::Reduce(op) => op.forward(x),
            Preprocess::Conv(op) => op.forward(x),
        }
    }
}
