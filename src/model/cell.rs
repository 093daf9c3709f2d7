//! The search cell: 4 nodes over 14 edges, each edge holding all 7 candidate ops, of which a
//! node runs only those in its support (spec §2–3).

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::ops::{FactorizedReduce, Op, OpStyle, ReluConvBn};
use crate::error::{IstaError, Result};
use crate::kernels::masked_mixed_op;
use crate::primitives::{PRIMITIVES, STEPS};
use crate::profile::scope;

/// The coefficients of one node for one step: its support and w (length n, zero off S).
#[derive(Clone, Debug)]
pub struct NodeWeights {
    /// Active coefficient indices (input k / 7, op k % 7).
    pub support: Vec<usize>,
    /// w = bᵀA_S − bias, `[n]`.
    pub w: Tensor<1>,
}

/// How the cell's first input is brought to C channels.
#[derive(Module, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per edge; Burn's Module derive does not take boxed fields"
)]
pub enum Preprocess {
    /// The cell two back reduced: halve the resolution.
    Reduce(FactorizedReduce),
    /// Same resolution: ReLU, 1×1 conv, BN.
    Conv(ReluConvBn),
}

impl Preprocess {
    /// FactorizedReduce when the cell two back reduced, else ReLU-conv-BN; C_in → C.
    pub fn new(c_in: usize, c: usize, reduction_prev: bool, affine: bool, device: &Device) -> Self {
        if reduction_prev {
            Preprocess::Reduce(FactorizedReduce::new(c_in, c, affine, device))
        } else {
            Preprocess::Conv(ReluConvBn::new(c_in, c, affine, device))
        }
    }

    /// `[B, C_in, H, W]` → `[B, C, H', W']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Preprocess::Reduce(op) => op.forward(x),
            Preprocess::Conv(op) => op.forward(x),
        }
    }
}

/// A search cell (normal or reduction).
#[derive(Module, Debug)]
pub struct SearchCell {
    preprocess0: Preprocess,
    preprocess1: ReluConvBn,
    /// `edges[node][input][op]`.
    edges: Vec<Vec<Vec<Op>>>,
    /// True for a reduction cell (stride 2 on the edges from the two inputs).
    pub reduction: bool,
}

impl SearchCell {
    /// A cell with inputs of `c_prev_prev` and `c_prev` channels and `c` channels per node.
    pub fn new(
        (c_prev_prev, c_prev, c): (usize, usize, usize),
        reduction: bool,
        reduction_prev: bool,
        affine: bool,
        device: &Device,
    ) -> Self {
        let preprocess0 = Preprocess::new(c_prev_prev, c, reduction_prev, affine, device);
        let edges = (0..STEPS)
            .map(|node| {
                (0..node + 2)
                    .map(|input| {
                        let stride = if reduction && input < 2 { 2 } else { 1 };
                        (0..PRIMITIVES.len())
                            .map(|k| {
                                let style = OpStyle {
                                    affine,
                                    ..OpStyle::SEARCH
                                };
                                Op::new(k, c, stride, style, device)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Self {
            preprocess0,
            preprocess1: ReluConvBn::new(c_prev, c, affine, device),
            edges,
            reduction,
        }
    }

    /// `s0`, `s1` → `[B, 4C, H', W']`; runs only the supported ops, counting them in `evaluated`.
    pub fn forward(
        &self,
        s0: Tensor<4>,
        s1: Tensor<4>,
        weights: &[NodeWeights],
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
                outputs.push(edge[op].forward(states[input].clone())); // [B, C, H', W']
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
