//! The DARTS and PC-DARTS search cells (docs/method.md §7): every edge a softmax-weighted sum of all 8
//! ops (`none` and the 7 candidates), so every op runs on every edge. PC-DARTS sends only 1/K
//! of the channels through the mixed op, shuffles channels after, and weighs each node's input
//! edges by a softmax over β. Also the supernet of such cells on the shared skeleton.

use burn::module::Module;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::{Device, Tensor};

use super::ops::{Op, OpStyle, Preprocess, ReluConvBn};
use super::skeleton::{CellShape, Network, NetworkConfig};
use crate::error::{IstaError, Result};
use crate::kernels::masked_mixed_op;
use crate::profile::scope;
use crate::search_space::primitives::{PRIMITIVES, STEPS};

/// Ops per edge in DARTS: `none` first, then the 7 candidates in their order.
pub const MIXED_OPS: usize = PRIMITIVES.len() + 1;

/// Edges of a cell: node i reads i + 2 states.
pub const EDGES: usize = STEPS * (STEPS + 3) / 2;

/// Index of the first edge of `node` in the flat edge list.
pub fn first_edge(node: usize) -> usize {
    node * (node + 3) / 2
}

/// Architecture weights of one cell for one step.
#[derive(Clone, Debug)]
pub struct MixedWeights {
    /// Softmax over ops per edge, `[EDGES, MIXED_OPS]`.
    pub ops: Tensor<2>,
    /// PC-DARTS edge weights: per node, a softmax over its input edges, `[EDGES]`.
    pub edges: Option<Tensor<1>>,
}

/// All 8 ops of one edge, on C / K channels.
#[derive(Module, Debug)]
pub struct MixedEdge {
    /// The 7 candidates (`none` has no module).
    ops: Vec<Op>,
    /// Halves the channels that bypass the ops on a stride-2 PC-DARTS edge.
    bypass_pool: Option<MaxPool2d>,
    stride: usize,
    partial: usize,
}

impl MixedEdge {
    /// An edge on C channels whose mixed op sees C / `partial` of them (1: DARTS).
    pub fn new(c: usize, stride: usize, partial: usize, device: &Device) -> Self {
        let style = OpStyle {
            affine: false,
            ..OpStyle::SEARCH
        };
        Self {
            ops: (0..PRIMITIVES.len())
                .map(|k| Op::new(k, c / partial, stride, style, device))
                .collect(),
            bypass_pool: (partial > 1 && stride == 2)
                .then(|| MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init()),
            stride,
            partial,
        }
    }

    /// Σ_k weights[k] · op_k(x) over all 8 ops (`weights` `[MIXED_OPS]`), counting them.
    pub fn forward(
        &self,
        x: Tensor<4>,
        weights: Tensor<1>,
        evaluated: &mut usize,
    ) -> Result<Tensor<4>> {
        let [b, c, h, w] = x.dims();
        let part = c / self.partial;
        let (mixed_in, bypass) = if self.partial > 1 {
            let rest = x.clone().slice([0..b, part..c, 0..h, 0..w]); // [B, C − C/K, H, W]
            (x.slice([0..b, 0..part, 0..h, 0..w]), Some(rest)) // [B, C/K, H, W]
        } else {
            (x, None)
        };
        let out_shape = [b, part, h / self.stride, w / self.stride];
        let device = mixed_in.device();
        // `none` is computed as DARTS computes it: a zero tensor in the weighted sum.
        let mut outputs = vec![Tensor::<4>::zeros(out_shape, &device)];
        for op in &self.ops {
            outputs.push(op.forward(mixed_in.clone())); // [B, C/K, H', W']
        }
        *evaluated += outputs.len();
        let width: usize = out_shape.iter().product();
        let mixed = scope("mixed op", || {
            let stacked = Tensor::stack::<5>(outputs, 0).reshape([MIXED_OPS, width]); // [8, B·C/K·H'·W']
            let all: Vec<usize> = (0..MIXED_OPS).collect();
            masked_mixed_op(stacked, weights, &all)
        })?
        .reshape(out_shape);
        Ok(match bypass {
            None => mixed,
            Some(rest) => {
                let rest = match &self.bypass_pool {
                    Some(pool) => pool.forward(rest),
                    None => rest,
                };
                channel_shuffle(Tensor::cat(vec![mixed, rest], 1), self.partial) // [B, C, H', W']
            }
        })
    }
}

/// Interleaves `groups` channel groups: `[B, g·c, H, W]` → `[B, c·g, H, W]` (PC-DARTS).
pub fn channel_shuffle(x: Tensor<4>, groups: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, groups, c / groups, h, w]) // [B, g, C/g, H, W]
        .swap_dims(1, 2)
        .reshape([b, c, h, w])
}

/// A DARTS / PC-DARTS search cell (normal or reduction).
#[derive(Module, Debug)]
pub struct MixedCell {
    preprocess0: Preprocess,
    preprocess1: ReluConvBn,
    /// Flat edge list: node i's inputs at `first_edge(i)..first_edge(i) + i + 2`.
    edges: Vec<MixedEdge>,
    /// True for a reduction cell.
    pub reduction: bool,
}

impl MixedCell {
    /// A cell of `shape` whose mixed ops see C / `partial` channels.
    pub fn new(shape: &CellShape, partial: usize, device: &Device) -> Self {
        let (c_prev_prev, c_prev, c) = shape.channels;
        let (reduction, reduction_prev) = (shape.reduction, shape.reduction_prev);
        let edges = (0..STEPS)
            .flat_map(|node| 0..node + 2)
            .map(|input| {
                let stride = if reduction && input < 2 { 2 } else { 1 };
                MixedEdge::new(c, stride, partial, device)
            })
            .collect();
        Self {
            preprocess0: Preprocess::new(c_prev_prev, c, reduction_prev, false, device),
            preprocess1: ReluConvBn::new(c_prev, c, false, device),
            edges,
            reduction,
        }
    }

    /// `s0`, `s1` → `[B, 4C, H', W']`, running all 8 ops on all 14 edges.
    pub fn forward(
        &self,
        s0: Tensor<4>,
        s1: Tensor<4>,
        weights: &MixedWeights,
        evaluated: &mut usize,
    ) -> Result<Tensor<4>> {
        if weights.ops.dims() != [self.edges.len(), MIXED_OPS] {
            return Err(IstaError::Shape(format!(
                "op weights {:?} for {} edges of {MIXED_OPS} ops",
                weights.ops.dims(),
                self.edges.len()
            )));
        }
        let mut states = vec![self.preprocess0.forward(s0), self.preprocess1.forward(s1)];
        for node in 0..STEPS {
            let first = first_edge(node);
            let mut outputs = Vec::with_capacity(node + 2);
            for (input, state) in states.iter().enumerate() {
                let edge = first + input;
                let w = weights.ops.clone().slice([edge..edge + 1, 0..MIXED_OPS]);
                let out =
                    self.edges[edge].forward(state.clone(), w.reshape([MIXED_OPS]), evaluated)?;
                outputs.push(out); // [B, C, H', W']
            }
            let shape = outputs[0].dims();
            let node_out = match &weights.edges {
                None => outputs
                    .into_iter()
                    .reduce(|a, b| a + b)
                    .expect("two inputs or more"),
                Some(beta) => {
                    let n = outputs.len();
                    let width: usize = shape.iter().product();
                    let stacked = Tensor::stack::<5>(outputs, 0).reshape([n, width]); // [n, B·C·H'·W']
                    let w = beta.clone().narrow(0, first, n);
                    let all: Vec<usize> = (0..n).collect();
                    masked_mixed_op(stacked, w, &all)?.reshape(shape)
                }
            };
            states.push(node_out);
        }
        Ok(scope("concat", || Tensor::cat(states.split_off(2), 1))) // [B, 4C, H', W']
    }
}

/// The DARTS / PC-DARTS supernet: mixed cells on the shared skeleton.
pub type MixedNetwork = Network<MixedCell>;

impl Network<MixedCell> {
    /// Builds the supernet; `partial` is PC-DARTS's K (1 for DARTS).
    pub fn new(config: &NetworkConfig, partial: usize, device: &Device) -> Self {
        Network::build(
            &config.plan(),
            config.classes,
            false,
            |_, shape| MixedCell::new(shape, partial, device),
            device,
        )
    }

    /// Logits `[B, classes]` of images `[B, C_in, H, W]`; counts evaluated ops in `evaluated`.
    pub fn forward(
        &self,
        images: Tensor<4>,
        normal: &MixedWeights,
        reduce: &MixedWeights,
        evaluated: &mut usize,
    ) -> Result<Tensor<2>> {
        let run = self.run(images, false, |cell, s0, s1| {
            let weights = if cell.reduction { reduce } else { normal };
            cell.forward(s0, s1, weights, evaluated)
        })?;
        Ok(run.0) // [B, classes]
    }
}
