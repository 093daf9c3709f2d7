//! Choosing a LASSO solver for a batch of recovery problems: f64 CPU, f32 GPU, or both.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::lasso::{FistaOptions, LassoSolution, solve_cpu};
use super::lasso_gpu::{GpuFistaOptions, solve_batch_gpu};
use super::matrix::Matrix;
use crate::error::Result;

/// Which solver recovers z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RecoverySolver {
    /// Float64 FISTA on the CPU with active-set polishing (the reference; the default).
    #[default]
    Cpu,
    /// Float32 batched FISTA on the GPU, one workgroup per problem, results as they come.
    Gpu,
    /// The GPU batch, then every problem the GPU could not KKT-certify re-solved in f64 on the CPU.
    Hybrid,
}

/// Solutions of a batch and how they were obtained.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// One solution per problem, in order.
    pub solutions: Vec<LassoSolution>,
    /// Problems the GPU certified (0 for the CPU solver).
    pub gpu_certified: usize,
    /// Problems solved (or re-solved) in f64 on the CPU.
    pub cpu_solved: usize,
}

/// Solves every `(A, b)` with the chosen solver (the GPU solvers need a wgpu `device`).
pub fn recover(
    problems: &[(&Matrix, &[f64])],
    solver: RecoverySolver,
    lambda: f64,
    device: &Device,
) -> Result<Recovery> {
    let cpu_options = FistaOptions {
        lambda,
        ..FistaOptions::default()
    };
    let gpu_options = GpuFistaOptions {
        lambda,
        ..GpuFistaOptions::default()
    };
    match solver {
        RecoverySolver::Cpu => Ok(Recovery {
            solutions: problems
                .iter()
                .map(|(a, b)| solve_cpu(a, b, &cpu_options))
                .collect::<Result<_>>()?,
            gpu_certified: 0,
            cpu_solved: problems.len(),
        }),
        RecoverySolver::Gpu | RecoverySolver::Hybrid => {
            let mut solutions = solve_batch_gpu(problems, &gpu_options, device)?;
            let gpu_certified = solutions.iter().filter(|s| s.converged).count();
            let cpu_solved = if solver == RecoverySolver::Hybrid {
                resolve_uncertified(problems, &mut solutions, lambda)?
            } else {
                0
            };
            Ok(Recovery {
                solutions,
                gpu_certified,
                cpu_solved,
            })
        }
    }
}

/// Re-solves in f64 every solution that is not converged (certified); returns how many.
pub fn resolve_uncertified(
    problems: &[(&Matrix, &[f64])],
    solutions: &mut [LassoSolution],
    lambda: f64,
) -> Result<usize> {
    let options = FistaOptions {
        lambda,
        ..FistaOptions::default()
    };
    let mut count = 0;
    for (solution, (a, b)) in solutions.iter_mut().zip(problems) {
        if !solution.converged {
            *solution = solve_cpu(a, b, &options)?;
            count += 1;
        }
    }
    Ok(count)
}
