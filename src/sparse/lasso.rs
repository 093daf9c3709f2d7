//! LASSO recovery z = argmin ½‖Az − b‖² + λ‖z‖₁: the float64 CPU FISTA that is the reference.

use serde::{Deserialize, Serialize};

use super::active_set::{polish, signed_support};
use super::matrix::Matrix;
use crate::error::{IstaError, Result};

/// Default ℓ1 weight λ (docs/method.md §3).
pub const DEFAULT_LAMBDA: f64 = 1e-5;
/// Iterations between two active-set polishing attempts.
pub const POLISH_EVERY: usize = 32;

/// Solver settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FistaOptions {
    /// The ℓ1 weight λ.
    pub lambda: f64,
    /// Iteration cap; hitting it is reported in [`LassoSolution::converged`].
    pub max_iter: usize,
    /// Stop when the duality gap is at most this fraction of the objective.
    pub gap_tol: f64,
    /// Accept a polished candidate when its KKT violation (in units of λ) is at most this.
    pub kkt_tol: f64,
    /// Stop when max|Δz| is at most this fraction of max|z| (a floating-point fixed point).
    pub step_tol: f64,
}

impl Default for FistaOptions {
    fn default() -> Self {
        Self {
            lambda: DEFAULT_LAMBDA,
            max_iter: 200_000,
            gap_tol: 1e-12,
            kkt_tol: 1e-9,
            step_tol: 1e-15,
        }
    }
}

/// A recovered code and how the solver got there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LassoSolution {
    /// The recovered z (length n).
    pub z: Vec<f64>,
    /// Iterations run.
    pub iterations: usize,
    /// False when the iteration cap was hit before the tolerance.
    pub converged: bool,
    /// Duality gap over objective at the end (f64, recomputed on the host).
    pub relative_gap: f64,
}

/// Checks that `a` and `b` form a LASSO problem.
pub fn check_problem(a: &Matrix, b: &[f64], lambda: f64) -> Result<()> {
    if b.len() != a.rows {
        return Err(IstaError::Lasso(format!(
            "b has {} entries for a matrix with {} rows",
            b.len(),
            a.rows
        )));
    }
    if !(lambda >= 0.0 && lambda.is_finite()) {
        return Err(IstaError::Lasso(format!(
            "λ must be finite and ≥ 0, got {lambda}"
        )));
    }
    if a.data.iter().chain(b).any(|v| !v.is_finite()) {
        return Err(IstaError::Lasso("A or b holds a non-finite value".into()));
    }
    Ok(())
}

/// Objective value and duality gap of z (Lagrange dual with a scaled residual as dual point).
///
/// With r = b − Az and θ = s·r, s = min(1, λ/‖Aᵀr‖∞), the gap P − D expands to
/// ½(1 + s²)‖r‖² + λ‖z‖₁ − s·bᵀr: no term of size ‖b‖² cancels, so it resolves gaps far
/// below the objective.
pub fn objective_and_gap(a: &Matrix, b: &[f64], z: &[f64], lambda: f64) -> (f64, f64) {
    let az = a.mul_vec(z);
    let r: Vec<f64> = b.iter().zip(&az).map(|(bi, ai)| bi - ai).collect();
    let r_sq: f64 = r.iter().map(|x| x * x).sum();
    let l1 = lambda * z.iter().map(|x| x.abs()).sum::<f64>();
    let corr = a.t_mul_vec(&r).iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let s = if corr > lambda { lambda / corr } else { 1.0 };
    let b_r: f64 = b.iter().zip(&r).map(|(x, y)| x * y).sum();
    let gap = 0.5 * (1.0 + s * s) * r_sq + l1 - s * b_r;
    (0.5 * r_sq + l1, gap.max(0.0))
}

/// Largest violation of the LASSO optimality (KKT) conditions, in units of λ: with
/// c = Aᵀ(b − Az), c_k must equal λ·sign(z_k) where z_k ≠ 0 and satisfy |c_k| ≤ λ elsewhere.
pub fn kkt_violation(a: &Matrix, b: &[f64], z: &[f64], lambda: f64) -> f64 {
    let r: Vec<f64> = b.iter().zip(a.mul_vec(z)).map(|(bi, ai)| bi - ai).collect();
    let worst = a
        .t_mul_vec(&r)
        .iter()
        .zip(z)
        .map(|(c, zk)| {
            if *zk != 0.0 {
                (c - lambda * zk.signum()).abs()
            } else {
                (c.abs() - lambda).max(0.0)
            }
        })
        .fold(0.0f64, f64::max);
    if lambda > 0.0 { worst / lambda } else { worst }
}

/// Relative duality gap (gap / objective; 0 when both are 0).
pub fn relative_gap(a: &Matrix, b: &[f64], z: &[f64], lambda: f64) -> f64 {
    let (primal, gap) = objective_and_gap(a, b, z, lambda);
    if primal > 0.0 { gap / primal } else { gap }
}

fn soft(x: f64, t: f64) -> f64 {
    x.signum() * (x.abs() - t).max(0.0)
}

/// FISTA with adaptive restart in float64, polished on its active set: the reference solver.
///
/// Every [`POLISH_EVERY`] iterations the exact minimiser on the iterate's support is tried and
/// accepted when it meets the KKT conditions to `kkt_tol`; otherwise FISTA goes on until the
/// duality gap meets `gap_tol` (slow on the ill-conditioned uniform matrices) or the cap.
pub fn solve_cpu(a: &Matrix, b: &[f64], options: &FistaOptions) -> Result<LassoSolution> {
    check_problem(a, b, options.lambda)?;
    let n = a.cols;
    let lip = a.spectral_norm_sq();
    let mut x = vec![0.0; n];
    if lip == 0.0 {
        return Ok(LassoSolution {
            z: x,
            iterations: 0,
            converged: true,
            relative_gap: 0.0,
        });
    }
    let step = 1.0 / lip;
    let mut y = x.clone();
    let mut t = 1.0f64;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < options.max_iter {
        iterations += 1;
        let r: Vec<f64> = a
            .mul_vec(&y)
            .iter()
            .zip(b)
            .map(|(ay, bi)| ay - bi)
            .collect();
        let g = a.t_mul_vec(&r);
        let x_new: Vec<f64> = (0..n)
            .map(|k| soft(y[k] - step * g[k], step * options.lambda))
            .collect();
        let mut d_step = 0.0f64;
        let mut d_size = 0.0f64;
        let mut dot = 0.0;
        for k in 0..n {
            d_step = d_step.max((x_new[k] - x[k]).abs());
            d_size = d_size.max(x_new[k].abs());
            dot += (y[k] - x_new[k]) * (x_new[k] - x[k]);
        }
        let beta = if dot > 0.0 {
            t = 1.0;
            0.0
        } else {
            let t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t).sqrt());
            let beta = (t - 1.0) / t_next;
            t = t_next;
            beta
        };
        for k in 0..n {
            y[k] = x_new[k] + beta * (x_new[k] - x[k]);
        }
        x = x_new;
        if iterations % POLISH_EVERY == 0 {
            let (t, sign) = signed_support(&x, a.rows);
            if let Some(z) = polish(a, b, &t, &sign, options.lambda)
                && kkt_violation(a, b, &z, options.lambda) <= options.kkt_tol
            {
                x = z;
                converged = true;
                break;
            }
        }
        if d_step <= options.step_tol * d_size
            || (iterations % 10 == 0 && relative_gap(a, b, &x, options.lambda) <= options.gap_tol)
        {
            converged = true;
            break;
        }
    }
    let relative_gap = relative_gap(a, b, &x, options.lambda);
    Ok(LassoSolution {
        z: x,
        iterations,
        converged,
        relative_gap,
    })
}
