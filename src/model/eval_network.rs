//! Evaluation networks built from a genotype (spec §2, §6): the CIFAR network (stem conv, L
//! cells, auxiliary head after cell 2L/3) and the ImageNet network (two-conv stem0 and stem1,
//! first cell treating its predecessor as reduced). Affine BN throughout.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::drop_path::DropPath;
use super::eval_cell::EvalCell;
use super::norm::Norm;
use super::ops::{OpStyle, conv};
use crate::genotype::Genotype;

/// Index of the cell after which the auxiliary head sits in a net of `layers` cells.
fn aux_cell(layers: usize) -> usize {
    2 * layers / 3
}

/// Which evaluation network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NetKind {
    /// CIFAR-style: one stem conv at full resolution (32×32 inputs).
    Cifar,
    /// ImageNet-style: three stride-2 stem convs (224×224 inputs).
    Imagenet,
}

/// Everything that fixes an evaluation network's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalConfig {
    /// CIFAR or ImageNet network.
    pub kind: NetKind,
    /// The cells.
    pub genotype: Genotype,
    /// Initial channels C.
    pub channels: usize,
    /// Cells L.
    pub layers: usize,
    /// Output classes.
    pub classes: usize,
    /// Input image channels.
    pub in_channels: usize,
    /// Auxiliary head after cell 2L/3.
    pub auxiliary: bool,
    /// One-stage style: an extra BN after pool and identity ops.
    pub extra_norms: bool,
}

impl EvalConfig {
    /// True when cell `i` is a reduction cell.
    pub fn is_reduction(&self, i: usize) -> bool {
        i == self.layers / 3 || i == 2 * self.layers / 3
    }

    /// Index of the cell the auxiliary head reads (2L/3).
    pub fn aux_cell(&self) -> usize {
        aux_cell(self.layers)
    }

    /// The op style of the cells.
    pub fn style(&self) -> OpStyle {
        if self.extra_norms {
            OpStyle::ONE_STAGE
        } else {
            OpStyle::EVAL
        }
    }

    /// Why square inputs of side `input` do not fit the network, if they do not: every
    /// resolution a stride-2 cell or FactorizedReduce halves must be even, and the auxiliary
    /// head's 5×5 pool must leave at least 2×2 for its 2×2 conv.
    pub fn input_problem(&self, input: usize) -> Option<String> {
        let half = |s: usize| s.div_ceil(2); // 3×3 stride-2 convs with padding 1
        let (mut s0, mut s1) = match self.kind {
            NetKind::Cifar => (input, input),
            NetKind::Imagenet => (half(half(input)), half(half(half(input)))),
        };
        let odd = |side: usize, i: usize| {
            Some(format!(
                "inputs of {input}x{input} reach cell {i} at {side}x{side}, which it must halve; \
                 choose a side that stays even through the reductions"
            ))
        };
        let mut reduction_prev = self.kind == NetKind::Imagenet;
        for i in 0..self.layers {
            if reduction_prev && (s0 % 2 != 0 || s0 / 2 != s1) {
                return odd(s0, i);
            }
            let reduction = self.is_reduction(i);
            if reduction && s1 % 2 != 0 {
                return odd(s1, i);
            }
            let out = if reduction { s1 / 2 } else { s1 };
            let stride = if self.kind == NetKind::Cifar { 3 } else { 2 };
            if i == self.aux_cell() && self.auxiliary && (out < 5 || (out - 5) / stride + 1 < 2) {
                return Some(format!(
                    "inputs of {input}x{input} reach the auxiliary head at {out}x{out}, too small \
                     for its 5x5 pool and 2x2 conv; use larger inputs or no auxiliary head"
                ));
            }
            (s0, s1, reduction_prev) = (s1, out, reduction);
        }
        None
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
    fn new(c: usize, classes: usize, kind: NetKind, device: &Device) -> Self {
        let stride = if kind == NetKind::Cifar { 3 } else { 2 };
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

/// Conv, BN and an optional ReLU before them: a stem stage.
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

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = if self.pre_relu { relu(x) } else { x };
        self.norm.forward(self.conv.forward(x))
    }
}

/// A network that trains a genotype from scratch.
#[derive(Module, Debug)]
pub struct EvalNetwork {
    /// CIFAR: the stem. ImageNet: stem0's first half (stride 2, then ReLU).
    stem: Vec<StemStage>,
    /// ImageNet only: stem1.
    stem1: Option<StemStage>,
    cells: Vec<EvalCell>,
    aux: Option<AuxHead>,
    classifier: Linear,
}

/// Channels multiplier of the CIFAR stem.
const STEM_MULTIPLIER: usize = 3;

impl EvalNetwork {
    /// Builds the network described by `config` (its genotype must be valid).
    pub fn new(config: &EvalConfig, device: &Device) -> Self {
        let c = config.channels;
        let (stem, stem1, c_stem, mut reduction_prev) = match config.kind {
            NetKind::Cifar => {
                let stem =
                    StemStage::new((config.in_channels, STEM_MULTIPLIER * c), 1, false, device);
                (vec![stem], None, STEM_MULTIPLIER * c, false)
            }
            NetKind::Imagenet => {
                let stem0 = vec![
                    StemStage::new((config.in_channels, c / 2), 2, false, device),
                    StemStage::new((c / 2, c), 2, true, device),
                ];
                (
                    stem0,
                    Some(StemStage::new((c, c), 2, true, device)),
                    c,
                    true,
                )
            }
        };
        let (mut c_prev_prev, mut c_prev, mut c_curr) = (c_stem, c_stem, c);
        let (mut cells, mut aux) = (Vec::with_capacity(config.layers), None);
        for i in 0..config.layers {
            let reduction = config.is_reduction(i);
            if reduction {
                c_curr *= 2;
            }
            let (picks, concat) = config.genotype.cell(reduction);
            let channels = (c_prev_prev, c_prev, c_curr);
            let cell = EvalCell::new(
                picks,
                concat,
                channels,
                reduction,
                reduction_prev,
                config.style(),
                device,
            );
            reduction_prev = reduction;
            (c_prev_prev, c_prev) = (c_prev, cell.multiplier() * c_curr);
            cells.push(cell);
            if i == config.aux_cell() && config.auxiliary {
                aux = Some(AuxHead::new(c_prev, config.classes, config.kind, device));
            }
        }
        Self {
            stem,
            stem1,
            cells,
            aux,
            classifier: LinearConfig::new(c_prev, config.classes).init(device),
        }
    }

    fn run(
        &self,
        images: Tensor<4>,
        mut drop: Option<&mut DropPath>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let mut x = images;
        for stage in &self.stem {
            x = stage.forward(x); // CIFAR: [B, 3C, H, W]; ImageNet: [B, C, H/4, W/4]
        }
        let (mut s0, mut s1) = match &self.stem1 {
            Some(stem1) => (x.clone(), stem1.forward(x)),
            None => (x.clone(), x),
        };
        let mut aux_logits = None;
        for (i, cell) in self.cells.iter().enumerate() {
            let next = cell.forward(s0, s1.clone(), drop.as_deref_mut());
            (s0, s1) = (s1, next);
            if i == aux_cell(self.cells.len())
                && drop.is_some()
                && let Some(aux) = &self.aux
            {
                aux_logits = Some(aux.forward(s1.clone()));
            }
        }
        let [b, c, _, _] = s1.dims();
        let pooled = s1.mean_dim(3).mean_dim(2).reshape([b, c]); // [B, C_last]
        (self.classifier.forward(pooled), aux_logits)
    }

    /// Inference: logits `[B, classes]` of images `[B, C_in, H, W]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.run(images, None).0
    }

    /// Training: logits and, with an auxiliary head, its logits; drop path from `drop`.
    pub fn forward_train(
        &self,
        images: Tensor<4>,
        drop: &mut DropPath,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        self.run(images, Some(drop))
    }
}
