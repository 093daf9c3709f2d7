//! The recovery micro-benchmark: all nodes of both cells (one search epoch's recovery) and a
//! batch of many draws, solved by the batched f32 GPU kernel, the f64 CPU solver and the hybrid,
//! with each solver's agreement with the f64 supports.

use std::time::Instant;

use burn::tensor::Device;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::search_space::primitives::{PRIMITIVES, STEPS};
use crate::sparse::matrix::Matrix;
use crate::sparse::measurement::{CellMeasurements, MeasurementKind};
use crate::sparse::recovery::{RecoverySolver, recover};
use crate::sparse::support::top_s_sorted;

/// Columns of recovery.csv.
pub const RECOVERY_CSV_HEADER: &str =
    "solver,problems,repeats,ms,problems_per_s,same_support_as_f64,ms_ratio_to_cpu";

/// One solver on one problem set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecoveryRow {
    /// `cpu-f64`, `gpu-f32` or `hybrid`.
    pub solver: String,
    /// Problems solved together.
    pub problems: usize,
    /// Timed repeats (the fastest is kept).
    pub repeats: usize,
    /// Wall-clock milliseconds of the fastest repeat.
    pub ms: f64,
    /// Problems per second.
    pub problems_per_s: f64,
    /// Problems whose top-s support equals the f64 solver's.
    pub same_support: usize,
    /// ms over the f64 CPU solver's ms on the same set.
    pub ratio_to_cpu: f64,
}

/// b = `scale`·N(0, 1) of length `m`, `count` times, seeded.
pub fn random_bs(m: usize, count: usize, scale: f64, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            (0..m)
                .map(|_| scale * rng.sample::<f64, _>(StandardNormal))
                .collect()
        })
        .collect()
}

/// Times every solver (the GPU ones only when `gpu`) on all 8 nodes at once and on `draws` × 8
/// problems; m, λ and b's scale as in a search (uniform A).
pub fn recovery_bench(
    m: usize,
    draws: usize,
    repeats: usize,
    gpu: bool,
    seed: u64,
    device: &Device,
) -> Result<Vec<RecoveryRow>> {
    let (lambda, sparsity) = (1e-5, 2);
    let cells = CellMeasurements::draw(MeasurementKind::Uniform, m, STEPS, PRIMITIVES.len(), seed);
    let matrices: Vec<&Matrix> = cells.all().collect();
    let mut rows = Vec::new();
    for sets in [1, draws.max(1)] {
        let bs = random_bs(m, sets * matrices.len(), 1e-3, seed.wrapping_add(1));
        let problems: Vec<(&Matrix, &[f64])> = bs
            .iter()
            .enumerate()
            .map(|(i, b)| (matrices[i % matrices.len()], b.as_slice()))
            .collect();
        let mut solvers = vec![("cpu-f64", RecoverySolver::Cpu)];
        if gpu {
            solvers.extend([
                ("gpu-f32", RecoverySolver::Gpu),
                ("hybrid", RecoverySolver::Hybrid),
            ]);
        }
        let mut reference: Option<(Vec<Vec<usize>>, f64)> = None;
        for (name, solver) in solvers {
            let mut best = f64::MAX;
            let mut supports = Vec::new();
            for _ in 0..repeats.max(1) {
                let start = Instant::now();
                let recovery = recover(&problems, solver, lambda, device)?;
                best = best.min(start.elapsed().as_secs_f64() * 1e3);
                supports = recovery
                    .solutions
                    .iter()
                    .map(|s| top_s_sorted(&s.z, sparsity))
                    .collect();
            }
            let (cpu_supports, cpu_ms) = reference.get_or_insert_with(|| (supports.clone(), best));
            rows.push(RecoveryRow {
                solver: name.into(),
                problems: problems.len(),
                repeats: repeats.max(1),
                ms: best,
                problems_per_s: problems.len() as f64 / (best / 1e3),
                same_support: supports
                    .iter()
                    .zip(cpu_supports.iter())
                    .filter(|(a, b)| a == b)
                    .count(),
                ratio_to_cpu: best / *cpu_ms,
            });
        }
    }
    Ok(rows)
}

/// The rows as CSV, header included.
pub fn recovery_csv(rows: &[RecoveryRow]) -> String {
    let mut csv = format!("{RECOVERY_CSV_HEADER}\n");
    for r in rows {
        csv.push_str(&format!(
            "{},{},{},{:.3},{:.1},{},{:.4}\n",
            r.solver, r.problems, r.repeats, r.ms, r.problems_per_s, r.same_support, r.ratio_to_cpu
        ));
    }
    csv
}
