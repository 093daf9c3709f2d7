//! The parts around the cells that every network shares: the stems (CIFAR: one 3×3 conv to 3C;
//! ImageNet: stem0 and stem1, three stride-2 convs) and the auxiliary classifier (docs/method.md §2).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::norm::Norm;
use super::ops::conv;

/// Channels multiplier of the CIFAR stem.
pub const STEM_MULTIPLIER: usize = 3;

/// Which stem and head a network has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NetKind {
    /// CIFAR-style: one stem conv at full resolution (32×32 inputs).
    Cifar,
    /// ImageNet-style: three stride-2 stem convs (224×224 inputs).
    Imagenet,
}

impl NetKind {
    /// Stride of the auxiliary head's 5×5 average pool.
    pub fn aux_pool_stride(self) -> usize {
        match self {
            NetKind::Cifar => 3,
            NetKind::Imagenet => 2,
        }
    }
}

/// Conv 3×3, BN and an optional ReLU before them: a stem stage.
#[derive(Module, Debug)]
pub struct StemStage {
    pre_relu: bool,
    conv: Conv2d,
    norm: Norm,
}

impl StemStage {
    fn new(c: (usize, usize), stride: usize, pre_relu: bool, device: &Device) -> Self {
        Self {
            pre_relu,
            conv: conv(device, c, 3, stride, 1, 1, 1),
            norm: Norm::new(c.1, true, device),
        }
    }

    /// `[B, C_in, H, W]` → `[B, C_out, H/stride, W/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = if self.pre_relu { relu(x) } else { x };
        self.norm.forward(self.conv.forward(x))
    }
}

/// The stem of a `kind` network on `in_channels`-channel images with C = `c`: the stages
/// before the first cell and, for ImageNet, stem1 (which gives the first cell's s1).
pub fn stem(
    kind: NetKind,
    in_channels: usize,
    c: usize,
    device: &Device,
) -> (Vec<StemStage>, Option<StemStage>) {
    match kind {
        NetKind::Cifar => (
            vec![StemStage::new(
                (in_channels, STEM_MULTIPLIER * c),
                1,
                false,
                device,
            )],
            None,
        ),
        NetKind::Imagenet => (
            vec![
                StemStage::new((in_channels, c / 2), 2, false, device),
                StemStage::new((c / 2, c), 2, true, device),
            ],
            Some(StemStage::new((c, c), 2, true, device)),
        ),
    }
}

/// Auxiliary classifier: ReLU, avg pool 5 (stride 3 CIFAR, 2 ImageNet), 1×1 conv → 128, BN,
/// ReLU, 2×2 conv → 768, BN (CIFAR only, as in DARTS), ReLU, linear.
#[derive(Module, Debug)]
pub struct AuxHead {
    pool: AvgPool2d,
    conv1: Conv2d,
    norm1: Norm,
    conv2: Conv2d,
    norm2: Option<Norm>,
    classifier: Linear,
}

impl AuxHead {
    /// The head reading `c` channels, for `classes` classes.
    pub fn new(c: usize, classes: usize, kind: NetKind, device: &Device) -> Self {
        let stride = kind.aux_pool_stride();
        Self {
            pool: AvgPool2dConfig::new([5, 5])
                .with_strides([stride, stride])
                .with_count_include_pad(false)
                .init(),
            conv1: conv(device, (c, 128), 1, 1, 0, 1, 1),
            norm1: Norm::new(128, true, device),
            conv2: conv(device, (128, 768), 2, 1, 0, 1, 1),
            norm2: (kind == NetKind::Cifar).then(|| Norm::new(768, true, device)),
            classifier: LinearConfig::new(768, classes).init(device),
        }
    }

    /// `[B, C, 8, 8]` (CIFAR) or `[B, C, 7, 7]` (ImageNet) → `[B, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(x)); // [B, C, 2, 2]
        let x = relu(self.norm1.forward(self.conv1.forward(x))); // [B, 128, 2, 2]
        let mut x = self.conv2.forward(x); // [B, 768, 1, 1]
        if let Some(norm) = &self.norm2 {
            x = norm.forward(x);
        }
        let [b, c, _, _] = x.dims();
        let x = relu(x).mean_dim(3).mean_dim(2).reshape([b, c]); // [B, 768]
        self.classifier.forward(x)
    }
}
