//! Support selection and the node weights w = bᵀA_S − bias, differentiable in b (docs/method.md §3).

use burn::tensor::{Device, Tensor, TensorData};

use super::matrix::Matrix;

/// Indices of the `s` largest |z|, largest first (ties: lower index first).
pub fn top_s(z: &[f64], s: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..z.len()).collect();
    order.sort_by(|&i, &j| z[j].abs().total_cmp(&z[i].abs()).then(i.cmp(&j)));
    order.truncate(s);
    order
}

/// The `s` largest |z| as a set: indices in increasing order (to compare supports).
pub fn top_s_sorted(z: &[f64], s: usize) -> Vec<usize> {
    let mut top = top_s(z, s);
    top.sort_unstable();
    top
}

/// What stays fixed for an epoch at one node: S, A_S, E restricted to S, and the bias.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSupport {
    /// Active coefficient indices, largest |z| first; entry k means input k / K, op k % K.
    pub support: Vec<usize>,
    /// A with the columns outside S zeroed (m × n).
    pub a_s: Matrix,
    /// E = AᵀA − I with the columns outside S zeroed (n × n).
    pub e_s: Matrix,
    /// bias = Eᵀ z_S (length n, zero off S).
    pub bias: Vec<f64>,
    /// z restricted to S (length n, zero off S).
    pub z_s: Vec<f64>,
    /// z as recovered (length n).
    pub z: Vec<f64>,
}

impl NodeSupport {
    /// Fixes the support of the `s` largest |z| for measurement matrix `a`.
    pub fn new(a: &Matrix, z: &[f64], s: usize) -> Self {
        let (m, n) = (a.rows, a.cols);
        let support = top_s(z, s);
        let in_s = |k: usize| support.contains(&k);
        let a_s = Matrix::new(
            m,
            n,
            (0..m * n)
                .map(|idx| if in_s(idx % n) { a.data[idx] } else { 0.0 })
                .collect(),
        );
        let gram = a.gram();
        let e_s = Matrix::new(
            n,
            n,
            (0..n * n)
                .map(|idx| {
                    let (i, j) = (idx / n, idx % n);
                    if in_s(j) {
                        gram.data[idx] - if i == j { 1.0 } else { 0.0 }
                    } else {
                        0.0
                    }
                })
                .collect(),
        );
        let z_s: Vec<f64> = (0..n).map(|k| if in_s(k) { z[k] } else { 0.0 }).collect();
        let bias = e_s.t_mul_vec(&z_s);
        Self {
            support,
            a_s,
            e_s,
            bias,
            z_s,
            z: z.to_vec(),
        }
    }

    /// w = bᵀA_S − bias on the host (f64), for checks and reports.
    pub fn weights_f64(&self, b: &[f64]) -> Vec<f64> {
        self.a_s
            .t_mul_vec(b)
            .iter()
            .zip(&self.bias)
            .map(|(w, bias)| w - bias)
            .collect()
    }

    /// The constants on `device`, ready for [`SupportTensors::weights`].
    pub fn to_tensors(&self, device: &Device) -> SupportTensors {
        let (m, n) = (self.a_s.rows, self.a_s.cols);
        let a_s: Vec<f32> = self.a_s.data.iter().map(|&v| v as f32).collect();
        let bias: Vec<f32> = self.bias.iter().map(|&v| v as f32).collect();
        SupportTensors {
            a_s: Tensor::from_data(TensorData::new(a_s, [m, n]), device),
            bias: Tensor::from_data(TensorData::new(bias, [n]), device),
        }
    }
}

/// A_S and the bias as tensors (constants: no gradient flows into them).
#[derive(Clone, Debug)]
pub struct SupportTensors {
    /// A_S, `[m, n]`.
    pub a_s: Tensor<2>,
    /// bias, `[n]`.
    pub bias: Tensor<1>,
}

impl SupportTensors {
    /// w = bᵀA_S − bias: `b` `[m]` → `[n]`; the gradient reaching b is A_S · ∂L/∂w.
    pub fn weights(&self, b: Tensor<1>) -> Tensor<1> {
        let [m, n] = self.a_s.dims();
        let w = b.reshape([1, m]).matmul(self.a_s.clone()); // [1, n]
        w.reshape([n]) - self.bias.clone() // [n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_s_orders_by_magnitude_and_breaks_ties_by_index() {
        assert_eq!(top_s(&[0.1, -0.5, 0.3, 0.5], 2), vec![1, 3]);
        assert_eq!(top_s(&[0.0, 0.0, 0.0], 2), vec![0, 1]);
        assert_eq!(top_s(&[1.0], 3), vec![0]);
        assert_eq!(top_s_sorted(&[0.1, -0.5, 0.3, 0.5], 3), vec![1, 2, 3]);
    }

    #[test]
    fn bias_and_masks_follow_the_support() {
        let a = Matrix::new(2, 3, vec![1.0, 2.0, 0.5, 0.0, 1.0, 3.0]);
        let z = [0.2, 0.0, -0.7];
        let node = NodeSupport::new(&a, &z, 2);
        assert_eq!(node.support, vec![2, 0]);
        assert_eq!(node.a_s.data, vec![1.0, 0.0, 0.5, 0.0, 0.0, 3.0]);
        assert_eq!(node.z_s, vec![0.2, 0.0, -0.7]);
        // E = AᵀA − I on columns {0, 2}: bias_k = Σ_j E_jk z_j.
        let gram = a.gram();
        let e = |j: usize, k: usize| gram.get(j, k) - if j == k { 1.0 } else { 0.0 };
        for k in [0, 2] {
            let want = e(0, k) * 0.2 + e(2, k) * -0.7;
            assert!((node.bias[k] - want).abs() < 1e-12);
        }
        assert_eq!(node.bias[1], 0.0);
    }
}
