//! The DARTS / PC-DARTS supernet: the search network's stem, reductions and head around
//! [`MixedCell`]s.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::mixed_cell::{MixedCell, MixedWeights};
use super::network::{NetworkConfig, global_pool, stem_layers};
use super::norm::Norm;
use crate::error::Result;

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
        let (plan, c_last) = config.cell_plan();
        let cells = plan
            .into_iter()
            .map(|cell| {
                MixedCell::new(
                    cell.channels,
                    cell.reduction,
                    cell.reduction_prev,
                    partial,
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
        Ok(self.classifier.forward(global_pool(s1))) // [B, classes]
    }
}
