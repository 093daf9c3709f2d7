//! Eq. 12: a one-stage supernet with its architecture fixed is a plain evaluation network. Each
//! active op's fixed weight w is folded into the BN that ends it (γ̂ = w·γ, β̂ = w·β), so
//! w·op(x) = op̂(x) in eval mode; the folded cells keep only the active ops, and the stem,
//! preprocessing, heads and every other weight are carried over unchanged.

use crate::error::{IstaError, Result};
use crate::model::eval_cell::EvalCell;
use crate::model::eval_network::EvalNetwork;
use crate::model::sparse_cell::{SparseCell, SparseNetwork};
use crate::search_space::genotype::Genotype;
use crate::search_space::primitives::{PRIMITIVES, STEPS, describe};

/// One node of a fixed architecture: its support (largest |z| first) and w on the host (the
/// values the supernet multiplies with, length n, zero off the support).
#[derive(Clone, Debug, PartialEq)]
pub struct FixedNode {
    /// Active coefficients (input k / 7, op k % 7).
    pub support: Vec<usize>,
    /// w, `[n]`.
    pub w: Vec<f32>,
}

fn fold_cell(cell: &SparseCell, nodes: &[FixedNode], concat: &[usize]) -> Result<EvalCell> {
    let (mut ops, mut inputs) = (Vec::new(), Vec::new());
    for (node, fixed) in nodes.iter().enumerate() {
        for &k in &fixed.support {
            let (input, op) = (k / PRIMITIVES.len(), k % PRIMITIVES.len());
            let bad = |why: &str| IstaError::Shape(format!("node {node}, coefficient {k}: {why}"));
            let candidate = cell.edges[node]
                .get(input)
                .and_then(|edge| edge.get(op))
                .ok_or_else(|| bad("no such op"))?;
            let w = *fixed.w.get(k).ok_or_else(|| bad("w is too short"))?;
            let folded = candidate.scaled_output(w).ok_or_else(|| {
                bad(&format!(
                    "{} has no BN to fold w into (not a one-stage supernet)",
                    describe(k).0
                ))
            })?;
            ops.push(folded);
            inputs.push(input);
        }
    }
    Ok(EvalCell::from_parts(
        (cell.preprocess0.clone(), cell.preprocess1.clone()),
        ops,
        inputs,
        concat.to_vec(),
        cell.reduction,
    ))
}

/// The plain network of `model` with the fixed `normal` and `reduce` nodes (4 each, two
/// picks per node), and its genotype. In eval mode its logits equal the supernet's.
pub fn fold(
    model: &SparseNetwork,
    normal: &[FixedNode],
    reduce: &[FixedNode],
) -> Result<(Genotype, EvalNetwork)> {
    if normal.len() != STEPS || reduce.len() != STEPS {
        return Err(IstaError::Shape(format!(
            "{} normal and {} reduction nodes; a cell has {STEPS}",
            normal.len(),
            reduce.len()
        )));
    }
    let supports = |nodes: &[FixedNode]| -> Vec<Vec<usize>> {
        nodes.iter().map(|n| n.support.clone()).collect()
    };
    let genotype = Genotype::from_supports(&supports(normal), &supports(reduce));
    genotype
        .validate()
        .map_err(|e| IstaError::Shape(format!("the fixed architecture: {e}")))?;
    let cells = model
        .cells
        .iter()
        .map(|cell| {
            let (nodes, concat) = if cell.reduction {
                (reduce, &genotype.reduce_concat)
            } else {
                (normal, &genotype.normal_concat)
            };
            fold_cell(cell, nodes, concat)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((genotype, model.with_cells(cells)))
}
