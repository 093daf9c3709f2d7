//! The one skeleton every network shares (docs/method.md §2): a stem, L cells with reductions at L/3 and
//! 2L/3 (where C doubles), an optional auxiliary head after cell 2L/3, global average pool and
//! a linear classifier. The ISTA-NAS supernets, the DARTS / PC-DARTS supernets and the
//! evaluation networks differ only in their cell type; [`CellPlan`] is the walk over the cells
//! that they and the parameter counter all use.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::heads::{AuxHead, NetKind, STEM_MULTIPLIER, StemStage, stem};
use crate::error::Result;
use crate::search_space::primitives::STEPS;

/// Most initial channels C a network may have.
pub const MAX_CHANNELS: usize = 4096;
/// Most cells L a network may have.
pub const MAX_LAYERS: usize = 256;
/// Most images per batch.
pub const MAX_BATCH: usize = 65_536;

/// Why C = `channels`, L = `layers` and `batch` images per batch cannot make a run, in the
/// CLI's option names; `None` when they can.
pub fn shape_problem(channels: usize, layers: usize, batch: usize) -> Option<String> {
    if !(2..=MAX_CHANNELS).contains(&channels) || !channels.is_multiple_of(2) {
        return Some(format!(
            "--channels must be even, from 2 to {MAX_CHANNELS} (FactorizedReduce halves it); got {channels}"
        ));
    }
    if !(3..=MAX_LAYERS).contains(&layers) {
        return Some(format!(
            "--layers must lie in 3..={MAX_LAYERS}; got {layers}"
        ));
    }
    if !(1..=MAX_BATCH).contains(&batch) {
        return Some(format!(
            "--batch-size must lie in 1..={MAX_BATCH}; got {batch}"
        ));
    }
    None
}

/// True when cell `i` of a network of `layers` cells is a reduction cell.
pub fn is_reduction(layers: usize, i: usize) -> bool {
    i == layers / 3 || i == 2 * layers / 3
}

/// Index of the cell after which the auxiliary head sits in a network of `layers` cells.
pub fn aux_cell(layers: usize) -> usize {
    2 * layers / 3
}

/// Channels and kind of one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellShape {
    /// (C of the input two back, C of the previous output, C per node).
    pub channels: (usize, usize, usize),
    /// A reduction cell.
    pub reduction: bool,
    /// The cell two back is at twice this cell's input resolution (it reduced, or the stem did).
    pub reduction_prev: bool,
}

/// Every cell's shape in order, with the stem's and the heads' channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellPlan {
    /// Stem and head kind.
    pub kind: NetKind,
    /// Input image channels.
    pub in_channels: usize,
    /// Initial channels C.
    pub channels: usize,
    /// The cells.
    pub cells: Vec<CellShape>,
    /// Channels the auxiliary head reads (the output of cell 2L/3).
    pub aux_channels: usize,
    /// Channels of the last cell's output (the classifier's input).
    pub c_last: usize,
}

impl CellPlan {
    /// The plan of a `kind` network with C = `channels` and `layers` cells whose normal and
    /// reduction cells concatenate `multiplier.0` and `multiplier.1` states.
    pub fn new(
        kind: NetKind,
        in_channels: usize,
        channels: usize,
        layers: usize,
        multiplier: (usize, usize),
    ) -> Self {
        let c_stem = match kind {
            NetKind::Cifar => STEM_MULTIPLIER * channels,
            NetKind::Imagenet => channels,
        };
        let (mut c_prev_prev, mut c_prev, mut c) = (c_stem, c_stem, channels);
        let mut reduction_prev = kind == NetKind::Imagenet;
        let (mut cells, mut aux_channels) = (Vec::with_capacity(layers), 0);
        for i in 0..layers {
            let reduction = is_reduction(layers, i);
            if reduction {
                c *= 2;
            }
            cells.push(CellShape {
                channels: (c_prev_prev, c_prev, c),
                reduction,
                reduction_prev,
            });
            reduction_prev = reduction;
            let out = if reduction {
                multiplier.1
            } else {
                multiplier.0
            } * c;
            (c_prev_prev, c_prev) = (c_prev, out);
            if i == aux_cell(layers) {
                aux_channels = out;
            }
        }
        Self {
            kind,
            in_channels,
            channels,
            cells,
            aux_channels,
            c_last: c_prev,
        }
    }

    /// Index of the cell the auxiliary head reads (2L/3).
    pub fn aux_cell(&self) -> usize {
        aux_cell(self.cells.len())
    }

    /// Why square inputs of side `input` do not fit the network, if they do not: every
    /// resolution a stride-2 cell or FactorizedReduce halves must be even, and with an
    /// auxiliary head its 5×5 pool must leave at least 2×2 for its 2×2 conv.
    pub fn input_problem(&self, input: usize, auxiliary: bool) -> Option<String> {
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
        for (i, cell) in self.cells.iter().enumerate() {
            if cell.reduction_prev && (s0 % 2 != 0 || s0 / 2 != s1) {
                return odd(s0, i);
            }
            if cell.reduction && s1 % 2 != 0 {
                return odd(s1, i);
            }
            let out = if cell.reduction { s1 / 2 } else { s1 };
            let stride = self.kind.aux_pool_stride();
            if i == self.aux_cell() && auxiliary && (out < 5 || (out - 5) / stride + 1 < 2) {
                return Some(format!(
                    "inputs of {input}x{input} reach the auxiliary head at {out}x{out}, too small \
                     for its 5x5 pool and 2x2 conv; use larger inputs or no auxiliary head"
                ));
            }
            (s0, s1) = (s1, out);
        }
        None
    }
}

/// Shape of a search supernet (CIFAR stem, every cell concatenating its 4 nodes).
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

    /// The cells' shapes.
    pub fn plan(&self) -> CellPlan {
        CellPlan::new(
            NetKind::Cifar,
            self.in_channels,
            self.channels,
            self.layers,
            (STEPS, STEPS),
        )
    }
}

/// Global average pool: `[B, C, H, W]` → `[B, C]`.
pub fn global_pool(x: Tensor<4>) -> Tensor<2> {
    let [b, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([b, c])
}

/// A network of cells of type `C` on the shared skeleton.
#[derive(Module, Debug)]
pub struct Network<C: Module> {
    /// CIFAR: the stem. ImageNet: stem0 (two stride-2 stages).
    stem: Vec<StemStage>,
    /// ImageNet only: stem1.
    stem1: Option<StemStage>,
    /// The cells, in order.
    pub cells: Vec<C>,
    /// Auxiliary classifier after cell 2L/3.
    aux: Option<AuxHead>,
    classifier: Linear,
}

impl<C: Module> Network<C> {
    /// The skeleton of `plan` for `classes` classes, with an auxiliary head when `auxiliary`;
    /// `cell(i, shape)` builds cell i.
    pub fn build(
        plan: &CellPlan,
        classes: usize,
        auxiliary: bool,
        mut cell: impl FnMut(usize, &CellShape) -> C,
        device: &Device,
    ) -> Self {
        let (stem, stem1) = stem(plan.kind, plan.in_channels, plan.channels, device);
        Self {
            stem,
            stem1,
            cells: (plan.cells.iter().enumerate())
                .map(|(i, shape)| cell(i, shape))
                .collect(),
            aux: auxiliary.then(|| AuxHead::new(plan.aux_channels, classes, plan.kind, device)),
            classifier: LinearConfig::new(plan.c_last, classes).init(device),
        }
    }

    /// The same stem, heads and weights around other cells (how a supernet becomes a plain network).
    pub fn with_cells<D: Module>(&self, cells: Vec<D>) -> Network<D> {
        Network {
            stem: self.stem.clone(),
            stem1: self.stem1.clone(),
            cells,
            aux: self.aux.clone(),
            classifier: self.classifier.clone(),
        }
    }

    /// True when the network has an auxiliary head.
    pub fn has_aux(&self) -> bool {
        self.aux.is_some()
    }

    /// Logits `[B, classes]` of images `[B, C_in, H, W]` and, when `with_aux` and the network
    /// has one, the auxiliary head's; `cell(c, s0, s1)` runs one cell.
    pub fn run(
        &self,
        images: Tensor<4>,
        with_aux: bool,
        mut cell: impl FnMut(&C, Tensor<4>, Tensor<4>) -> Result<Tensor<4>>,
    ) -> Result<(Tensor<2>, Option<Tensor<2>>)> {
        let mut x = images;
        for stage in &self.stem {
            x = stage.forward(x); // CIFAR: [B, 3C, H, W]; ImageNet: [B, C, H/4, W/4]
        }
        let (mut s0, mut s1) = match &self.stem1 {
            Some(stem1) => (x.clone(), stem1.forward(x)),
            None => (x.clone(), x),
        };
        let mut aux_logits = None;
        let aux_at = aux_cell(self.cells.len());
        for (i, c) in self.cells.iter().enumerate() {
            let next = cell(c, s0, s1.clone())?; // [B, C_i, H_i, W_i]
            (s0, s1) = (s1, next);
            if i == aux_at
                && with_aux
                && let Some(aux) = &self.aux
            {
                aux_logits = Some(aux.forward(s1.clone())); // [B, classes]
            }
        }
        Ok((self.classifier.forward(global_pool(s1)), aux_logits)) // [B, classes]
    }
}
