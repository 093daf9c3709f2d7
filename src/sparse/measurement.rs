//! Measurement matrices A_i (m × n_i) for every node of both cell types (docs/method.md §3).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::matrix::Matrix;

/// How the entries of A are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MeasurementKind {
    /// Entries uniform in [0, 1), not normalised (the authors' code; the default).
    Uniform,
    /// Entries N(0, 1), each column scaled to unit ℓ2 norm (the paper's RIP analysis).
    Gaussian,
}

/// Draws one m × n measurement matrix.
pub fn draw(kind: MeasurementKind, m: usize, n: usize, rng: &mut StdRng) -> Matrix {
    match kind {
        MeasurementKind::Uniform => {
            Matrix::new(m, n, (0..m * n).map(|_| rng.random::<f64>()).collect())
        }
        MeasurementKind::Gaussian => {
            let mut data: Vec<f64> = (0..m * n).map(|_| rng.sample(StandardNormal)).collect();
            for j in 0..n {
                let norm = (0..m).map(|i| data[i * n + j].powi(2)).sum::<f64>().sqrt();
                if norm > 0.0 {
                    for i in 0..m {
                        data[i * n + j] /= norm;
                    }
                }
            }
            Matrix::new(m, n, data)
        }
    }
}

/// Number of candidate coefficients of node `node` (0-based): (inputs of the node) × ops.
pub fn node_width(node: usize, num_ops: usize) -> usize {
    (node + 2) * num_ops
}

/// The measurement matrices of one search: one per node, for the normal and the reduce cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellMeasurements {
    /// A_i of the normal cell's nodes.
    pub normal: Vec<Matrix>,
    /// A_i of the reduction cell's nodes.
    pub reduce: Vec<Matrix>,
}

impl CellMeasurements {
    /// Draws A for `steps` nodes per cell with `num_ops` candidate ops, m rows, from `seed`.
    pub fn draw(kind: MeasurementKind, m: usize, steps: usize, num_ops: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let cell = |rng: &mut StdRng| -> Vec<Matrix> {
            (0..steps)
                .map(|i| draw(kind, m, node_width(i, num_ops), rng))
                .collect()
        };
        let normal = cell(&mut rng);
        let reduce = cell(&mut rng);
        Self { normal, reduce }
    }

    /// All matrices, normal cell first: the order in which batched recovery solves them.
    pub fn all(&self) -> impl Iterator<Item = &Matrix> {
        self.normal.iter().chain(&self.reduce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_widths_match_the_cell() {
        let widths: Vec<usize> = (0..4).map(|i| node_width(i, 7)).collect();
        assert_eq!(widths, vec![14, 21, 28, 35]);
    }

    #[test]
    fn uniform_entries_lie_in_unit_interval_and_are_seeded() {
        let cells = CellMeasurements::draw(MeasurementKind::Uniform, 7, 4, 7, 11);
        assert_eq!(
            cells,
            CellMeasurements::draw(MeasurementKind::Uniform, 7, 4, 7, 11)
        );
        assert_ne!(
            cells,
            CellMeasurements::draw(MeasurementKind::Uniform, 7, 4, 7, 12)
        );
        assert_ne!(cells.normal, cells.reduce);
        for a in cells.all() {
            assert_eq!(a.rows, 7);
            assert!(a.data.iter().all(|v| (0.0..1.0).contains(v)));
        }
    }

    #[test]
    fn gaussian_columns_have_unit_norm() {
        let a = draw(
            MeasurementKind::Gaussian,
            7,
            35,
            &mut StdRng::seed_from_u64(3),
        );
        for j in 0..35 {
            let norm: f64 = (0..7).map(|i| a.get(i, j).powi(2)).sum();
            assert!((norm - 1.0).abs() < 1e-12);
        }
        assert!(a.data.iter().any(|v| *v < 0.0));
    }
}
