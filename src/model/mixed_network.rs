//! The DARTS / PC-DARTS supernet: the search network's stem, reductions and head around
//! [`MixedCell`]s.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::mixed_cell::{MixedCell, MixedWeights};
use super::network::{NetworkConfig, STEM_MULTIPLIER};
use super::norm::Norm;
use super::ops::conv;
use crate::error::Result;
use crate::primitives::STEPS;

/// The supernet whose every edge runs every op.
#[derive(Module, Debug)]
pub struct MixedNetwork {
    stem_conv: Conv2d,
    stem_norm: Norm,
    cells: Vec<MixedCell>,
    classifier: Linear,
}

impl MixedNetwork {
    /// Builds the supernet; `partial` is PC-DARTS's K (1 for DARTS).
    pub fn new(config: &NetworkConfig, partial: usize, device: &Device) -> Self {
        let c_stem = STEM_MULTIPLIER * config.channels;
        let (mut c_prev_prev, mut c_prev, mut c) = (c_stem, c_stem, config.channels);
        let mut reduction_prev = false;
        let mut cells = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let reduction = config.is_reduction(i);
            if reduction {
                c *= 2;
            }
            cells.push(MixedCell::new(
                (c_prev_prev, c_prev, c),
                reduction,
                reduction_prev,
                partial,
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
        normal: &MixedWeights,
        reduce: &MixedWeights,
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
