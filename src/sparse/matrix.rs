//! A small dense row-major f64 matrix: just what the recovery problems need.

use serde::{Deserialize, Serialize};

/// Dense row-major matrix of f64.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Entries, row after row.
    pub data: Vec<f64>,
}

impl Matrix {
    /// A matrix from row-major entries (`data.len()` must be `rows · cols`).
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "matrix data does not fit {rows}x{cols}"
        );
        Self { rows, cols, data }
    }

    /// Entry (i, j).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// A x.
    pub fn mul_vec(&self, x: &[f64]) -> Vec<f64> {
        self.data
            .chunks_exact(self.cols)
            .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum())
            .collect()
    }

    /// Aᵀ y.
    pub fn t_mul_vec(&self, y: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.cols];
        for (row, &yi) in self.data.chunks_exact(self.cols).zip(y) {
            for (o, a) in out.iter_mut().zip(row) {
                *o += a * yi;
            }
        }
        out
    }

    /// AᵀA (cols × cols).
    pub fn gram(&self) -> Matrix {
        let n = self.cols;
        let mut g = vec![0.0; n * n];
        for row in self.data.chunks_exact(n) {
            for i in 0..n {
                for j in 0..n {
                    g[i * n + j] += row[i] * row[j];
                }
            }
        }
        Matrix::new(n, n, g)
    }

    /// ‖A‖₂², the largest eigenvalue of AᵀA (power iteration, converged to 1e-12).
    pub fn spectral_norm_sq(&self) -> f64 {
        let g = self.gram();
        let mut v = vec![1.0 / (self.cols as f64).sqrt(); self.cols];
        let mut value = 0.0;
        for _ in 0..10_000 {
            let w = g.mul_vec(&v);
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                return 0.0;
            }
            v = w.iter().map(|x| x / norm).collect();
            if (norm - value).abs() <= 1e-12 * norm {
                return norm;
            }
            value = norm;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_gram() {
        let a = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(a.mul_vec(&[1.0, 0.0, -1.0]), vec![-2.0, -2.0]);
        assert_eq!(a.t_mul_vec(&[1.0, 1.0]), vec![5.0, 7.0, 9.0]);
        let g = a.gram();
        assert_eq!(
            g.data,
            vec![17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]
        );
    }

    #[test]
    fn spectral_norm_of_a_diagonal_matrix() {
        let a = Matrix::new(2, 2, vec![3.0, 0.0, 0.0, -2.0]);
        assert!((a.spectral_norm_sq() - 9.0).abs() < 1e-9);
        assert_eq!(Matrix::new(1, 2, vec![0.0, 0.0]).spectral_norm_sq(), 0.0);
    }
}
