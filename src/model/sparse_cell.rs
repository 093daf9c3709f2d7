//! The sparse ISTA-NAS cell: 4 nodes over 14 edges, each edge holding all 7 candidate ops, of
//! which a node runs only those in its support, weighted by w (docs/method.md §2–3); and the supernet of
//! such cells on the shared skeleton. Two-stage cells have non-affine BN and a BN after pools;
//! one-stage cells (docs/method.md §5) have affine BN everywhere, also after pools and the identity.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::drop_path::DropPath;
use super::ops::{Op, OpStyle, Preprocess, ReluConvBn};
use super::skeleton::{CellShape, Network, NetworkConfig};
use crate::error::{IstaError, Result};
use crate::kernels::masked_mixed_op;
use crate::profile::scope;
use crate::search_space::primitives::{PRIMITIVES, STEPS};

/// The coefficients of one node for one step: its support and w (length n, zero off S).
#[derive(Clone, Debug)]
pub struct NodeWeights {
    /// Active coefficient indices (input k / 7, op k % 7).
    pub support: Vec<usize>,
    /// w = bᵀA_S − bias, `[n]`.
    pub w: Tensor<1>,
}

/// The same node weights on the device without autodiff (for eval-mode forward passes).
pub fn plain_weights(weights: Vec<NodeWeights>) -> Vec<NodeWeights> {
    weights
        .into_iter()
        .map(|n| NodeWeights {
            support: n.support,
            w: n.w.inner(),
        })
        .collect()
}

/// A sparse search cell (normal or reduction).
#[derive(Module, Debug)]
pub struct SparseCell {
    /// Brings s0 to C channels (halving it after a reduction).
    pub preprocess0: Preprocess,
    /// Brings s1 to C channels.
    pub preprocess1: ReluConvBn,
    /// `edges[node][input][op]`.
    pub edges: Vec<Vec<Vec<Op>>>,
    /// True for a reduction cell (stride 2 on the edges from the two inputs).
    pub reduction: bool,
}

impl SparseCell {
    /// A cell of `shape` whose ops are built in `style` (BN in the preprocessing affine when
    /// the style's is).
    pub fn new(shape: &CellShape, style: OpStyle, device: &Device) -> Self {
        let (c_prev_prev, c_prev, c) = shape.channels;
        let reduction = shape.reduction;
        let edges = (0..STEPS)
            .map(|node| {
                (0..node + 2)
                    .map(|input| {
                        let stride = if reduction && input < 2 { 2 } else { 1 };
                        (0..PRIMITIVES.len())
                            .map(|k| Op::new(k, c, stride, style, device))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Self {
            preprocess0: Preprocess::new(
                c_prev_prev,
                c,
                shape.reduction_prev,
                style.affine,
                device,
            ),
            preprocess1: ReluConvBn::new(c_prev, c, style.affine, device),
            edges,
            reduction,
        }
    }

    /// `s0`, `s1` → `[B, 4C, H', W']`; runs only the supported ops, counting them in
    /// `evaluated`, with drop path on each op's output when `drop` is given.
    pub fn forward(
        &self,
        s0: Tensor<4>,
        s1: Tensor<4>,
        weights: &[NodeWeights],
        mut drop: Option<&mut DropPath>,
        evaluated: &mut usize,
    ) -> Result<Tensor<4>> {
        if weights.len() != self.edges.len() {
            return Err(IstaError::Shape(format!(
                "{} node weights for {} nodes",
                weights.len(),
                self.edges.len()
            )));
        }
        let s0 = self.preprocess0.forward(s0);
        let s1 = self.preprocess1.forward(s1);
        let [b, c, h, w] = s1.dims();
        let out_shape = if self.reduction {
            [b, c, h / 2, w / 2]
        } else {
            [b, c, h, w]
        };
        let mut states = vec![s0, s1];
        for (node, weights) in weights.iter().enumerate() {
            let mut outputs = Vec::with_capacity(weights.support.len());
            for &k in &weights.support {
                let (input, op) = (k / PRIMITIVES.len(), k % PRIMITIVES.len());
                let edge = self.edges[node].get(input).ok_or_else(|| {
                    IstaError::Shape(format!(
                        "support index {k} names input {input} of node {node}"
                    ))
                })?;
                let mut out = edge[op].forward(states[input].clone()); // [B, C, H', W']
                if let Some(drop) = drop.as_deref_mut() {
                    out = drop.apply(out);
                }
                outputs.push(out);
                *evaluated += 1;
            }
            let device = states[0].device();
            let width: usize = out_shape.iter().product();
            let mixed = scope("mixed op", || {
                let stacked = if outputs.is_empty() {
                    Tensor::<2>::zeros([0, width], &device)
                } else {
                    let count = outputs.len();
                    Tensor::stack::<5>(outputs, 0).reshape([count, width]) // [S, B·C·H'·W']
                };
                masked_mixed_op(stacked, weights.w.clone(), &weights.support)
            })?;
            states.push(mixed.reshape(out_shape)); // [B, C, H', W']
        }
        Ok(scope("concat", || Tensor::cat(states.split_off(2), 1))) // [B, 4C, H', W']
    }
}

/// The ISTA-NAS supernet: sparse cells on the shared skeleton.
pub type SparseNetwork = Network<SparseCell>;

impl Network<SparseCell> {
    /// The two-stage supernet: non-affine BN inside cells, a BN after pools, no auxiliary head.
    pub fn new(config: &NetworkConfig, device: &Device) -> Self {
        Self::with_style(config, OpStyle::SEARCH, false, device)
    }

    /// A supernet whose cell ops are built in `style`, with an auxiliary head when `auxiliary`.
    pub fn with_style(
        config: &NetworkConfig,
        style: OpStyle,
        auxiliary: bool,
        device: &Device,
    ) -> Self {
        Network::build(
            &config.plan(),
            config.classes,
            auxiliary,
            |_, shape| SparseCell::new(shape, style, device),
            device,
        )
    }

    /// Logits `[B, classes]` of images `[B, C_in, H, W]`; counts evaluated ops in `evaluated`.
    pub fn forward(
        &self,
        images: Tensor<4>,
        normal: &[NodeWeights],
        reduce: &[NodeWeights],
        evaluated: &mut usize,
    ) -> Result<Tensor<2>> {
        Ok(self
            .forward_train(images, normal, reduce, None, evaluated)?
            .0)
    }

    /// Logits and, with `drop` given (training) and an auxiliary head, the head's logits.
    pub fn forward_train(
        &self,
        images: Tensor<4>,
        normal: &[NodeWeights],
        reduce: &[NodeWeights],
        mut drop: Option<&mut DropPath>,
        evaluated: &mut usize,
    ) -> Result<(Tensor<2>, Option<Tensor<2>>)> {
        let training = drop.is_some();
        self.run(images, training, |cell, s0, s1| {
            let weights = if cell.reduction { reduce } else { normal };
            cell.forward(s0, s1, weights, drop.as_deref_mut(), evaluated)
        })
    }
}
