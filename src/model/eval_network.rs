//! Evaluation networks built from a genotype (docs/method.md §2, §6): the CIFAR network (stem conv, L
//! cells, auxiliary head after cell 2L/3) and the ImageNet network (stem0 and stem1, the first
//! cell treating its predecessor as reduced), on the shared skeleton. Affine BN throughout.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::drop_path::DropPath;
use super::eval_cell::EvalCell;
use super::ops::OpStyle;
use super::skeleton::{CellPlan, Network, shape_problem};
use crate::search_space::genotype::Genotype;

use super::heads::NetKind;

/// Most classes a network may have.
pub const MAX_CLASSES: usize = 1 << 24;

/// A network that trains a genotype from scratch.
pub type EvalNetwork = Network<EvalCell>;

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
    /// The cells' shapes (each concatenates its genotype's concat list).
    pub fn plan(&self) -> CellPlan {
        let g = &self.genotype;
        CellPlan::new(
            self.kind,
            self.in_channels,
            self.channels,
            self.layers,
            (g.normal_concat.len(), g.reduce_concat.len()),
        )
    }

    /// The op style of the cells.
    pub fn style(&self) -> OpStyle {
        if self.extra_norms {
            OpStyle::ONE_STAGE
        } else {
            OpStyle::EVAL
        }
    }

    /// Why this network cannot be built (a model file's header says what it likes): its
    /// genotype breaks the rule, or its sizes lie outside what a network here may have.
    pub fn problem(&self) -> Option<String> {
        if let Err(e) = self.genotype.validate() {
            return Some(e.to_string());
        }
        if let Some(problem) = shape_problem(self.channels, self.layers, 1) {
            return Some(problem);
        }
        if !(2..=MAX_CLASSES).contains(&self.classes) || !(1..=4).contains(&self.in_channels) {
            return Some(format!(
                "{} classes of {}-channel images (2..={MAX_CLASSES} classes of 1 to 4 channels)",
                self.classes, self.in_channels
            ));
        }
        None
    }

    /// Why square inputs of side `input` do not fit the network, if they do not (see
    /// [`CellPlan::input_problem`]).
    pub fn input_problem(&self, input: usize) -> Option<String> {
        self.plan().input_problem(input, self.auxiliary)
    }
}

impl Network<EvalCell> {
    /// Builds the network described by `config` (its genotype must be valid).
    pub fn new(config: &EvalConfig, device: &Device) -> Self {
        Network::build(
            &config.plan(),
            config.classes,
            config.auxiliary,
            |_, shape| {
                let (picks, concat) = config.genotype.cell(shape.reduction);
                EvalCell::new(picks, concat, shape, config.style(), device)
            },
            device,
        )
    }

    fn run_cells(
        &self,
        images: Tensor<4>,
        mut drop: Option<&mut DropPath>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let training = drop.is_some();
        self.run(images, training, |cell, s0, s1| {
            Ok(cell.forward(s0, s1, drop.as_deref_mut()))
        })
        .expect("evaluation cells do not fail")
    }

    /// Inference: logits `[B, classes]` of images `[B, C_in, H, W]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.run_cells(images, None).0
    }

    /// Training: logits and, with an auxiliary head, its logits; drop path from `drop`.
    pub fn forward_train(
        &self,
        images: Tensor<4>,
        drop: &mut DropPath,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        self.run_cells(images, Some(drop))
    }
}
