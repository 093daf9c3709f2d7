//! The search network: stem, L cells with reductions at L/3 and 2L/3, global pool and linear head.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::cell::{NodeWeights, SearchCell};
use super::norm::Norm;
use super::ops::conv;
use crate::error::Result;
use crate::primitives::STEPS;

/// Shape of a search network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// Initial channels C.
    pub channels: usize,
    /// Cells L.
    pub layers: usize,
    /// Output classes.
    pub classes: usize,
    /// Input image channels (1 or 3).
    pub in_channels: usize,
}

impl NetworkConfig {
    /// The paper's search network for `classes` classes of `in_channels`-channel images.
    pub fn paper(classes: usize, in_channels: usize) -> Self {
        Self {
            channels: 16,
            layers: 8,
            classes,
            in_channels,
        }
    }

    /// True when cell `i` is a reduction cell.
    pub fn is_reduction(&self, i: usize) -> bool {
        i == self.layers / 3 || i == 2 * self.layers / 3
    }

    /// Every cell's shape in order, and the channels of the last cell's output.
    pub fn cell_plan(&self) -> (Vec<CellShape>, usize) {
        let c_stem = STEM_MULTIPLIER * self.channels;
        let (mut c_prev_prev, mut c_prev, mut c) = (c_stem, c_stem, self.channels);
        let mut reduction_prev = false;
        let mut cells = Vec::with_capacity(self.layers);
        for i in 0..self.layers {
            let reduction = self.is_reduction(i);
            if reduction {
                c *= 2;
            }
            cells.push(CellShape {
                channels: (c_prev_prev, c_prev, c),
                reduction,
                reduction_prev,
            });
            reduction_prev = reduction;
            (c_prev_prev, c_prev) = (c_prev, STEPS * c);
        }
        (cells, c_prev)
    }
}

/// Channels and kind of one cell of a supernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellShape {
    /// (C of the input two back, C of the previous output, C per node).
    pub channels: (usize, usize, usize),
    /// A reduction cell.
    pub reduction: bool,
    /// The previous cell reduced.
    pub reduction_prev: bool,
}

/// The stem: a 3×3 conv from C_in to 3C channels and an affine BN.
pub fn stem_layers(config: &NetworkConfig, device: &Device) -> (Conv2d, Norm) {
    let c_stem = STEM_MULTIPLIER * config.channels;
    (
        conv(device, (config.in_channels, c_stem), 3, 1, 1, 1, 1),
        Norm::new(c_stem, true, device),
    )
}

/// Global average pool: `[B, C, H, W]` → `[B, C]`.
pub fn global_pool(x: Tensor<4>) -> Tensor<2> {
    let [b, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([b, c])
}

/// The supernet whose cells hold every candidate op.
#[derive(Module, Debug)]
pub struct SearchNetwork {
    stem_conv: Conv2d,
    stem_norm: Norm,
    cells: Vec<SearchCell>,
    classifier: Linear,
}

/// Channels multiplier of the stem.
pub const STEM_MULTIPLIER: usize = 3;

impl SearchNetwork {
    /// Builds the network (BN inside cells non-affine, as in two-stage search).
    pub fn new(config: &NetworkConfig, device: &Device) -> Self {
        let (plan, c_last) = config.cell_plan();
        let cells = plan
            .into_iter()
            .map(|cell| {
                SearchCell::new(
                    cell.channels,
                    cell.reduction,
                    cell.reduction_prev,
                    false,
                    device,
                )
            })
            .collect();
        let (stem_conv, stem_norm) = stem_layers(config, device);
        Self {
            stem_conv,
            stem_norm,
            cells,
            classifier: LinearConfig::new(c_last, config.classes).init(device),
        }
    }

    /// Logits `[B, classes]` of images `[B, C_in, H, W]`; counts evaluated ops in `evaluated`.
    pub fn forward(
        &self,
        images: Tensor<4>,
        normal: &[NodeWeights],
        reduce: &[NodeWeights],
        evaluated: &mut usize,
    ) -> Result<Tensor<2>> {
        let stem = self.stem_norm.forward(self.stem_conv.forward(images)); // [B, 3C, H, W]
        let (mut s0, mut s1) = (stem.clone(), stem);
        for cell in &self.cells {
            let weights = if cell.reduction { reduce } else { normal };
            let next = cell.forward(s0, s1.clone(), weights, evaluated)?;
            (s0, s1) = (s1, next);
        }
        Ok(self.classifier.forward(global_pool(s1))) // [B, classes]
    }
}
