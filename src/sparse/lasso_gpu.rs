//! Batched GPU LASSO: every problem of a search (all nodes, both cell types) in one dispatch of
//! `shaders/lasso_fista.wgsl`, each workgroup running the whole FISTA loop of one problem.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::lasso::{LassoSolution, check_problem, relative_gap};
use super::matrix::Matrix;
use crate::devices::adapter::runs_wgsl;
use crate::error::{IstaError, Result};
use crate::kernels::wgsl::fista_chunk;
use crate::kernels::{FistaLaunch, lasso_fista};

/// Largest padded problem width the workgroup-memory solver takes.
pub const MAX_COLUMNS: usize = 2048;
/// Largest padded problem height the workgroup-memory solver takes.
pub const MAX_ROWS: usize = 1024;
/// Bytes of `A` per dispatch, under wgpu's 128 MiB storage-binding limit.
const MAX_BATCH_BYTES: usize = 96 << 20;
/// Dispatches queued between two reads of the problems' status.
const DISPATCHES_PER_ROUND: u32 = 8;

/// How the GPU solver stopped on a problem (the `status` entry of the kernel's state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GpuStop {
    /// The f32 iterate stopped moving (max|Δz| ≤ step_tol · max|z|) without a certificate.
    Stalled,
    /// The polished solution met the KKT conditions: the optimum, to f32 precision.
    Certified,
    /// The iteration cap was hit.
    Capped,
}

/// Settings of the f32 GPU solver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GpuFistaOptions {
    /// The ℓ1 weight λ.
    pub lambda: f64,
    /// Iteration cap per problem.
    pub max_iter: u32,
    /// Stop when max|Δz| ≤ tol · max|z| (0: only when the iterate stops moving in f32).
    pub step_tol: f32,
    /// A polished solution is accepted when it meets the KKT conditions to this (units of λ).
    pub kkt_tol: f32,
}

impl Default for GpuFistaOptions {
    fn default() -> Self {
        Self {
            lambda: super::lasso::DEFAULT_LAMBDA,
            max_iter: 100_000,
            step_tol: 1e-7,
            kkt_tol: 2e-4,
        }
    }
}

/// Bytes of workgroup memory the solver takes for an M × N problem (`shaders/lasso_fista.wgsl`:
/// y and xs of N, r of M, three reductions of 64 and three flags, 4 bytes each).
pub fn workgroup_memory(m: usize, n: usize) -> usize {
    8 * n + 4 * m + 780
}

/// An error when an M × N problem needs more workgroup memory than `limit` bytes.
pub fn fits_workgroup_memory(m: usize, n: usize, limit: usize) -> Result<()> {
    let needed = workgroup_memory(m, n);
    if needed > limit {
        return Err(IstaError::Lasso(format!(
            "problem of {m}×{n} needs {needed} bytes of workgroup memory, more than this adapter's {limit}; use the CPU solver (--solver cpu)"
        )));
    }
    Ok(())
}

/// The workgroup memory `device`'s adapter allows, where this process opened it.
fn workgroup_memory_limit(device: &Device) -> Option<usize> {
    let (_, setup) = crate::devices::adapter::opened_setup(device)?;
    Some(setup.device.limits().max_compute_workgroup_storage_size as usize)
}

/// Solves all `(A, b)` problems on a wgpu device; results in the same order.
///
/// A solution counts as converged only when it is KKT-certified (m ≤ 16, where the kernel
/// polishes) or, for larger m, when the f32 iterate stalls.
pub fn solve_batch_gpu(
    problems: &[(&Matrix, &[f64])],
    options: &GpuFistaOptions,
    device: &Device,
) -> Result<Vec<LassoSolution>> {
    if !runs_wgsl(device) {
        return Err(IstaError::Lasso(
            "the batched GPU solver needs a wgpu device; use the CPU solver here".into(),
        ));
    }
    for (a, b) in problems {
        check_problem(a, b, options.lambda)?;
    }
    let m = problems
        .iter()
        .map(|(a, _)| a.rows)
        .max()
        .unwrap_or(1)
        .max(1);
    let n = problems
        .iter()
        .map(|(a, _)| a.cols)
        .max()
        .unwrap_or(1)
        .max(1);
    if m > MAX_ROWS || n > MAX_COLUMNS {
        return Err(IstaError::Lasso(format!(
            "problem of {m}×{n} exceeds the GPU solver's {MAX_ROWS}×{MAX_COLUMNS} workgroup-memory limit"
        )));
    }
    if let Some(limit) = workgroup_memory_limit(device) {
        fits_workgroup_memory(m, n, limit)?;
    }
    let per_dispatch = (MAX_BATCH_BYTES / (m * n * 4)).max(1);
    let device = device.clone().inner();
    let mut solutions = Vec::with_capacity(problems.len());
    for chunk in problems.chunks(per_dispatch) {
        solutions.extend(solve_chunk(chunk, m, n, options, &device)?);
    }
    Ok(solutions)
}

fn solve_chunk(
    problems: &[(&Matrix, &[f64])],
    m: usize,
    n: usize,
    options: &GpuFistaOptions,
    device: &Device,
) -> Result<Vec<LassoSolution>> {
    let p = problems.len();
    let mut a_pad = vec![0.0f32; p * m * n];
    let mut b_pad = vec![0.0f32; p * m];
    let mut lipschitz = Vec::with_capacity(p);
    for (idx, (a, b)) in problems.iter().enumerate() {
        for i in 0..a.rows {
            for j in 0..a.cols {
                a_pad[(idx * m + i) * n + j] = a.get(i, j) as f32;
            }
            b_pad[idx * m + i] = b[i] as f32;
        }
        // A zero matrix has nothing to recover; any positive step leaves z = 0.
        lipschitz.push((a.spectral_norm_sq() as f32).max(f32::MIN_POSITIVE));
    }
    let a_t = Tensor::<3>::from_data(TensorData::new(a_pad, [p, m, n]), device); // [P, M, N]
    let b_t = Tensor::<2>::from_data(TensorData::new(b_pad, [p, m]), device); // [P, M]
    let stride = 2 * n + 3;
    let mut init = vec![0.0f32; p * stride];
    init.iter_mut()
        .skip(2 * n)
        .step_by(stride)
        .for_each(|t| *t = 1.0);
    let mut state = Tensor::<2>::from_data(TensorData::new(init, [p, stride]), device); // [P, 2N + 3]
    let chunk = fista_chunk(m, n);
    let launch = FistaLaunch {
        m,
        n,
        lipschitz,
        lambda: options.lambda as f32,
        max_iter: options.max_iter,
        tol: options.step_tol,
        kkt_tol: options.kkt_tol,
        chunk,
        dispatches: DISPATCHES_PER_ROUND,
    };
    let rounds = options.max_iter.div_ceil(chunk * DISPATCHES_PER_ROUND) + 1;
    let mut host = Vec::new();
    for _ in 0..rounds {
        state = lasso_fista(a_t.clone(), b_t.clone(), state, launch.clone());
        host = state
            .clone()
            .try_into_data()
            .map_err(|e| IstaError::Kernel {
                kernel: "lasso_fista",
                message: e.to_string(),
            })?
            .try_to_vec::<f32>()
            .map_err(|e| IstaError::Kernel {
                kernel: "lasso_fista",
                message: format!("{e:?}"),
            })?;
        if host.chunks_exact(stride).all(|row| row[2 * n + 2] != 0.0) {
            break;
        }
    }
    problems
        .iter()
        .zip(host.chunks_exact(stride))
        .map(|((a, b), row)| {
            let z: Vec<f64> = row[..a.cols].iter().map(|&v| v as f64).collect();
            let stop = match row[2 * n + 2] as u32 {
                1 => GpuStop::Stalled,
                2 => GpuStop::Certified,
                3 => GpuStop::Capped,
                other => {
                    return Err(IstaError::Kernel {
                        kernel: "lasso_fista",
                        message: format!("problem left in status {other}"),
                    });
                }
            };
            let polishes = m <= crate::kernels::wgsl::MAX_POLISH_ROWS as usize;
            Ok(LassoSolution {
                relative_gap: relative_gap(a, b, &z, options.lambda),
                converged: stop == GpuStop::Certified || (!polishes && stop == GpuStop::Stalled),
                iterations: row[2 * n + 1] as usize,
                z,
            })
        })
        .collect()
}
