//! DARTS / PC-DARTS architecture parameters: α per edge and op, β per edge (PC-DARTS), and the
//! genotype they derive (docs/method.md §7).

use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::model::mixed_cell::{EDGES, MIXED_OPS, MixedWeights, first_edge};
use crate::search_space::genotype::Genotype;
use crate::search_space::primitives::{PRIMITIVES, STEPS};

/// α of both cells, `[EDGES, MIXED_OPS]`, and β (`[EDGES]`) when edges are normalised.
#[derive(Module, Debug)]
pub struct ArchAlphas {
    /// α of the normal cell.
    pub normal: Param<Tensor<2>>,
    /// α of the reduction cell.
    pub reduce: Param<Tensor<2>>,
    /// β of the normal cell (PC-DARTS).
    pub normal_beta: Option<Param<Tensor<1>>>,
    /// β of the reduction cell (PC-DARTS).
    pub reduce_beta: Option<Param<Tensor<1>>>,
}

fn draw<const D: usize>(rng: &mut StdRng, shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    let count = shape.iter().product();
    let values: Vec<f32> = (0..count)
        .map(|_| 1e-3 * Distribution::<f64>::sample(&StandardNormal, rng) as f32)
        .collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

impl ArchAlphas {
    /// α (and β when `edge_weights`) = 1e-3 · N(0, 1), seeded, as DARTS initialises them.
    pub fn new(edge_weights: bool, seed: u64, device: &Device) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = draw(&mut rng, [EDGES, MIXED_OPS], device);
        let reduce = draw(&mut rng, [EDGES, MIXED_OPS], device);
        let (normal_beta, reduce_beta) = if edge_weights {
            (
                Some(draw(&mut rng, [EDGES], device)),
                Some(draw(&mut rng, [EDGES], device)),
            )
        } else {
            (None, None)
        };
        Self {
            normal,
            reduce,
            normal_beta,
            reduce_beta,
        }
    }

    /// Softmaxed weights of both cells (gradient reaches α and β unless `detach`).
    pub fn weights(&self, detach: bool) -> (MixedWeights, MixedWeights) {
        let cell = |alpha: &Param<Tensor<2>>, beta: &Option<Param<Tensor<1>>>| {
            let alpha = if detach {
                alpha.val().detach()
            } else {
                alpha.val()
            };
            MixedWeights {
                ops: softmax(alpha, 1), // [EDGES, MIXED_OPS]
                edges: beta.as_ref().map(|beta| {
                    let beta = if detach {
                        beta.val().detach()
                    } else {
                        beta.val()
                    };
                    edge_softmax(beta)
                }),
            }
        };
        (
            cell(&self.normal, &self.normal_beta),
            cell(&self.reduce, &self.reduce_beta),
        )
    }

    /// Per node of the normal and the reduction cell, the support indices of the 2 input edges
    /// with the strongest non-`none` op (weighted by the edge weight in PC-DARTS), each with
    /// that op; [`Genotype::from_supports`] turns them into the genotype.
    pub fn picks(&self) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
        let (normal, reduce) = self.weights(true);
        (cell_picks(&normal), cell_picks(&reduce))
    }

    /// The genotype of [`ArchAlphas::picks`].
    pub fn genotype(&self) -> Genotype {
        let (normal, reduce) = self.picks();
        Genotype::from_supports(&normal, &reduce)
    }
}

/// Per node, a softmax over β of its input edges, `[EDGES]` → `[EDGES]`.
fn edge_softmax(beta: Tensor<1>) -> Tensor<1> {
    let parts = (0..STEPS)
        .map(|node| {
            let first = first_edge(node);
            softmax(beta.clone().narrow(0, first, node + 2), 0)
        })
        .collect();
    Tensor::cat(parts, 0)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// Support indices (input · 7 + op) of the two picks of every node.
fn cell_picks(weights: &MixedWeights) -> Vec<Vec<usize>> {
    let ops = host(weights.ops.clone());
    let edges = weights.edges.clone().map(host);
    picks_from_weights(&ops, edges.as_deref())
}

/// DARTS's `parse`: per node the 2 edges whose strongest non-`none` op weight (times the edge
/// weight, when given) is largest, earlier edges first on ties; returns support indices.
pub fn picks_from_weights(ops: &[f32], edges: Option<&[f32]>) -> Vec<Vec<usize>> {
    (0..STEPS)
        .map(|node| {
            let first = first_edge(node);
            let mut candidates: Vec<(usize, usize, f32)> = (0..node + 2)
                .map(|input| {
                    let edge = first + input;
                    let scale = edges.map_or(1.0, |e| e[edge]);
                    let row = &ops[edge * MIXED_OPS..(edge + 1) * MIXED_OPS];
                    // Op 0 is `none`; the strongest other op, lowest index on ties.
                    let (op, weight) = (1..MIXED_OPS).fold((1, f32::MIN), |best, k| {
                        if row[k] > best.1 { (k, row[k]) } else { best }
                    });
                    (input, op - 1, weight * scale)
                })
                .collect();
            candidates.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
            candidates
                .iter()
                .take(2)
                .map(|&(input, op, _)| input * PRIMITIVES.len() + op)
                .collect()
        })
        .collect()
}
