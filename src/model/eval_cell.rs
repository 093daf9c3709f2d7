//! The evaluation cell: a genotype's picks as fixed ops, summed per node (DARTS's `Cell`).

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::drop_path::DropPath;
use super::ops::{Op, OpStyle, Preprocess, ReluConvBn};
use super::skeleton::CellShape;
use crate::search_space::genotype::Edge;
use crate::search_space::primitives::{STEPS, op_index};

/// A cell built from one half of a genotype.
#[derive(Module, Debug)]
pub struct EvalCell {
    preprocess0: Preprocess,
    preprocess1: ReluConvBn,
    /// The picked ops, in genotype order.
    ops: Vec<Op>,
    /// The state each op reads.
    inputs: Vec<usize>,
    /// States concatenated into the output.
    concat: Vec<usize>,
    /// True for a reduction cell.
    pub reduction: bool,
}

impl EvalCell {
    /// The cell of `picks` (a validated genotype's normal or reduce list) and `concat`.
    pub fn new(
        picks: &[Edge],
        concat: &[usize],
        shape: &CellShape,
        style: OpStyle,
        device: &Device,
    ) -> Self {
        let (c_prev_prev, c_prev, c) = shape.channels;
        let (reduction, reduction_prev) = (shape.reduction, shape.reduction_prev);
        let ops = picks
            .iter()
            .map(|(name, input)| {
                let index = op_index(name).expect("a validated genotype names known ops");
                let stride = if reduction && *input < 2 { 2 } else { 1 };
                Op::new(index, c, stride, style, device)
            })
            .collect();
        Self {
            preprocess0: Preprocess::new(c_prev_prev, c, reduction_prev, style.affine, device),
            preprocess1: ReluConvBn::new(c_prev, c, style.affine, device),
            ops,
            inputs: picks.iter().map(|(_, input)| *input).collect(),
            concat: concat.to_vec(),
            reduction,
        }
    }

    /// A cell from built parts: `ops[j]` reads state `inputs[j]`, two per node in node order.
    pub fn from_parts(
        (preprocess0, preprocess1): (Preprocess, ReluConvBn),
        ops: Vec<Op>,
        inputs: Vec<usize>,
        concat: Vec<usize>,
        reduction: bool,
    ) -> Self {
        Self {
            preprocess0,
            preprocess1,
            ops,
            inputs,
            concat,
            reduction,
        }
    }

    /// Output channels as a multiple of C (the number of concatenated states).
    pub fn multiplier(&self) -> usize {
        self.concat.len()
    }

    /// `s0`, `s1` → `[B, |concat|·C, H', W']`; drop path (training only) on every op but the
    /// bare identity (the one-stage identity with BN gets it, as in the authors' one-stage net).
    pub fn forward(
        &self,
        s0: Tensor<4>,
        s1: Tensor<4>,
        mut drop: Option<&mut DropPath>,
    ) -> Tensor<4> {
        let mut states = vec![self.preprocess0.forward(s0), self.preprocess1.forward(s1)];
        let per_node = self.ops.len() / STEPS;
        for node in 0..STEPS {
            let mut sum: Option<Tensor<4>> = None;
            for j in node * per_node..(node + 1) * per_node {
                let op = &self.ops[j];
                let mut h = op.forward(states[self.inputs[j]].clone()); // [B, C, H', W']
                if let Some(drop) = drop.as_deref_mut()
                    && !op.is_bare_identity()
                {
                    h = drop.apply(h);
                }
                sum = Some(match sum {
                    Some(s) => s + h,
                    None => h,
                });
            }
            states.push(sum.expect("every node has at least one pick"));
        }
        let outputs = self.concat.iter().map(|&i| states[i].clone()).collect();
        Tensor::cat(outputs, 1) // [B, |concat|·C, H', W']
    }
}
