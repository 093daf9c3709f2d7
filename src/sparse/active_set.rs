//! Active-set polishing: given the support T and signs σ of an iterate, the LASSO optimum on T
//! solves A_TᵀA_T z_T = A_Tᵀb − λσ exactly. Solved through a Householder QR of A_T (so the
//! error grows with cond(A_T), not its square); the caller certifies the candidate (duality gap
//! on the CPU, KKT conditions in the GPU kernel, which mirrors this code in WGSL).

use super::matrix::Matrix;

/// Candidate support and signs of an iterate: its non-zero entries, at most the `limit` largest
/// (an optimum has at most m non-zeros; an iterate may still carry small spurious ones).
pub fn signed_support(z: &[f64], limit: usize) -> (Vec<usize>, Vec<f64>) {
    let nonzero = z.iter().filter(|v| **v != 0.0).count();
    super::support::top_s(z, nonzero.min(limit))
        .into_iter()
        .map(|k| (k, z[k].signum()))
        .unzip()
}

/// The exact minimiser on support `t` with signs `sign`, or `None` when A_T is rank-deficient,
/// T has more entries than A has rows, or a sign flips (then T is not the optimal support).
pub fn polish(a: &Matrix, b: &[f64], t: &[usize], sign: &[f64], lambda: f64) -> Option<Vec<f64>> {
    let (m, width) = (a.rows, t.len());
    if width == 0 || width > m {
        return None;
    }
    // w = A_T (m × |T|, row-major), qb = b; both get the Householder reflections.
    let mut w: Vec<f64> = (0..m)
        .flat_map(|i| t.iter().map(move |&k| (i, k)))
        .map(|(i, k)| a.get(i, k))
        .collect();
    let mut qb = b.to_vec();
    let scale = w.iter().fold(0.0f64, |s, v| s.max(v.abs()));
    for j in 0..width {
        let norm = (j..m).map(|i| w[i * width + j].powi(2)).sum::<f64>().sqrt();
        if norm <= 1e-12 * scale {
            return None;
        }
        let alpha = if w[j * width + j] >= 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (j..m).map(|i| w[i * width + j]).collect();
        v[0] -= alpha;
        let v_sq: f64 = v.iter().map(|x| x * x).sum();
        for c in j..width {
            let s: f64 = (j..m).map(|i| v[i - j] * w[i * width + c]).sum::<f64>() * 2.0 / v_sq;
            (j..m).for_each(|i| w[i * width + c] -= s * v[i - j]);
        }
        let s: f64 = (j..m).map(|i| v[i - j] * qb[i]).sum::<f64>() * 2.0 / v_sq;
        (j..m).for_each(|i| qb[i] -= s * v[i - j]);
    }
    let r = |i: usize, j: usize| w[i * width + j];
    // Rᵀu = λσ (forward), then R z = (Qᵀb)_T − u (backward).
    let mut u = vec![0.0; width];
    for j in 0..width {
        let acc: f64 = (0..j).map(|i| r(i, j) * u[i]).sum();
        u[j] = (lambda * sign[j] - acc) / r(j, j);
    }
    let mut z_t = vec![0.0; width];
    for j in (0..width).rev() {
        let acc: f64 = (j + 1..width).map(|i| r(j, i) * z_t[i]).sum();
        z_t[j] = (qb[j] - u[j] - acc) / r(j, j);
    }
    if z_t.iter().zip(sign).any(|(z, s)| z * s <= 0.0) {
        return None;
    }
    let mut z = vec![0.0; a.cols];
    for (&k, v) in t.iter().zip(z_t) {
        z[k] = v;
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparse::lasso::{FistaOptions, kkt_violation, solve_cpu};
    use crate::sparse::measurement::{MeasurementKind, draw};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn polishing_the_optimal_support_reproduces_the_optimum() {
        let mut rng = StdRng::seed_from_u64(9);
        let a = draw(MeasurementKind::Gaussian, 10, 30, &mut rng);
        let mut z_true = vec![0.0; 30];
        z_true[4] = 1.0;
        z_true[17] = -0.5;
        let b = a.mul_vec(&z_true);
        let lambda = 1e-3;
        let solution = solve_cpu(
            &a,
            &b,
            &FistaOptions {
                lambda,
                ..FistaOptions::default()
            },
        );
        let z = solution.unwrap().z;
        let (t, sign) = signed_support(&z, a.rows);
        let polished = polish(&a, &b, &t, &sign, lambda).expect("optimal support polishes");
        assert!(kkt_violation(&a, &b, &polished, lambda) < 1e-9);
        for (p, q) in polished.iter().zip(&z) {
            assert!((p - q).abs() < 1e-9);
        }
    }

    #[test]
    fn a_wrong_sign_or_oversized_support_is_refused() {
        let a = Matrix::new(2, 3, vec![1.0, 0.0, 1.0, 0.0, 1.0, 1.0]);
        let b = [1.0, 0.5];
        assert!(polish(&a, &b, &[0], &[-1.0], 1e-3).is_none());
        assert!(polish(&a, &b, &[0, 1, 2], &[1.0, 1.0, 1.0], 1e-3).is_none());
        assert!(polish(&a, &b, &[], &[], 1e-3).is_none());
        assert!(polish(&a, &b, &[0], &[1.0], 1e-3).is_some());
    }
}
