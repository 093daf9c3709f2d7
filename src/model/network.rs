//! The search network: stem, L cells with reductions at L/3 and 2L/3, global pool and linear head.

use burn::module::Module;
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
}

/// The supernet whose cells hold every candidate op.
#[derive(Module, Debug)]
pub struct SearchNetwork {
    stem_conv: burn::nn::conv::Conv2d,
    stem_norm: Norm,
    cells: Vec<SearchCell>,
    classifier: Linear,
}

/// Channels multiplier of the stem.
pub const STEM_MULTIPLIER: usize = 3;

impl SearchNetwork {
    /// Builds the network (BN inside cells non-affine, as in two-stage search).
    pub fn new(config: &NetworkConfig, device: &Device) -> Self {
        let c_stem = STEM_MULTIPLIER * config.channels;
        let (mut c_prev_prev, mut c_prev, mut c) = (c_stem, c_stem, config.channels);
        let mut reduction_prev = false;
        let mut cells = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let reduction = config.is_reduction(i);
            if reduction {
                c *= 2;
            }
            cells.push(SearchCell::new(
                (c_prev_prev, c_prev, c),
                reduction,
                reduction_prev,
                false,
                device,
            ));
            reduction_prev = reduction;
            (c_prev_prev, c_prev) = (c_prev, STEPS * c);
        }
        Self {
            stem_conv: conv(device, (config.in_channels, c_stem), 3, 1, 1, 1, 1),
            stem_norm: Norm::new(c_stem, true, device),
            cells,
            classifier: LinearConfig::new(c_prev, config.classes).init(device),
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
        let [b, c, _, _] = s1.dims();
        let pooled = s1.mean_dim(3).mean_dim(2).reshape([b, c]); // [B, C_last]
        Ok(self.classifier.forward(pooled))
    }
}
