//! Sparse recovery: the f64 reference, planted supports, and the batched GPU solver against it.

mod common;

use common::vulkan;
use ista_nas::search_space::primitives::{PRIMITIVES, STEPS};
use ista_nas::sparse::lasso::{FistaOptions, LassoSolution, solve_cpu};
use ista_nas::sparse::lasso_gpu::{GpuFistaOptions, solve_batch_gpu};
use ista_nas::sparse::matrix::Matrix;
use ista_nas::sparse::measurement::{CellMeasurements, MeasurementKind, draw};
use ista_nas::sparse::recovery::{RecoverySolver, recover, resolve_uncertified};
use ista_nas::sparse::support::top_s_sorted;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// Planted problem size: m = 40 Gaussian measurements of n = 100 coefficients, s = 4 non-zeros.
/// δ = m/n = 0.4 and ρ = s/m = 0.1 lie far below the Donoho–Tanner ℓ1 phase transition
/// (ρ ≈ 0.3 at δ = 0.4), where ℓ1 recovery of every such z* is exact with high probability.
const PLANTED: (usize, usize, usize) = (40, 100, 4);
const TRIALS: usize = 200;

fn planted_problems() -> Vec<(Matrix, Vec<f64>, Vec<usize>)> {
    let (m, n, s) = PLANTED;
    let mut rng = StdRng::seed_from_u64(42);
    (0..TRIALS)
        .map(|_| {
            let a = draw(MeasurementKind::Gaussian, m, n, &mut rng);
            let mut support: Vec<usize> = Vec::new();
            while support.len() < s {
                let k = rng.random_range(0..n);
                if !support.contains(&k) {
                    support.push(k);
                }
            }
            let mut z = vec![0.0; n];
            for &k in &support {
                let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
                z[k] = sign * rng.random_range(0.5..1.5);
            }
            support.sort_unstable();
            let b = a.mul_vec(&z);
            (a, b, support)
        })
        .collect()
}

#[test]
fn planted_support_recovered_by_f64_reference() {
    let s = PLANTED.2;
    let exact = planted_problems()
        .iter()
        .filter(|(a, b, support)| {
            let sol = solve_cpu(a, b, &FistaOptions::default()).unwrap();
            assert!(sol.converged, "reference hit the cap");
            top_s_sorted(&sol.z, s) == *support
        })
        .count();
    assert!(
        exact * 100 >= TRIALS * 99,
        "exact support in {exact}/{TRIALS} trials"
    );
}

#[test]
fn planted_support_recovered_by_gpu_batch() {
    let device = vulkan();
    let s = PLANTED.2;
    let problems = planted_problems();
    let refs: Vec<(&Matrix, &[f64])> = problems.iter().map(|(a, b, _)| (a, b.as_slice())).collect();
    let solutions = solve_batch_gpu(&refs, &GpuFistaOptions::default(), &device).unwrap();
    let exact = solutions
        .iter()
        .zip(&problems)
        .filter(|(sol, (_, _, support))| top_s_sorted(&sol.z, s) == *support)
        .count();
    assert!(
        exact * 100 >= TRIALS * 99,
        "exact support in {exact}/{TRIALS} trials"
    );
}

#[test]
fn reference_meets_optimality_conditions() {
    let cells = CellMeasurements::draw(MeasurementKind::Uniform, 7, STEPS, PRIMITIVES.len(), 3);
    let mut rng = StdRng::seed_from_u64(4);
    let lambda = 1e-5;
    for a in cells.all() {
        let b: Vec<f64> = (0..7)
            .map(|_| 1e-3 * rng.sample::<f64, _>(StandardNormal))
            .collect();
        let sol = solve_cpu(a, &b, &FistaOptions::default()).unwrap();
        assert!(sol.converged && sol.relative_gap <= 1e-12, "{sol:?}");
        // KKT: A_kᵀ(b − Az) = λ·sign(z_k) where z_k ≠ 0, |A_kᵀ(b − Az)| ≤ λ elsewhere.
        let r: Vec<f64> = b
            .iter()
            .zip(a.mul_vec(&sol.z))
            .map(|(b, az)| b - az)
            .collect();
        for (k, c) in a.t_mul_vec(&r).iter().enumerate() {
            if sol.z[k] != 0.0 {
                assert!(
                    (c - lambda * sol.z[k].signum()).abs() <= 1e-3 * lambda,
                    "k={k}: {c}"
                );
            } else {
                assert!(c.abs() <= lambda * (1.0 + 1e-3), "k={k}: {c}");
            }
        }
    }
}

#[test]
fn iteration_cap_is_reported() {
    let mut rng = StdRng::seed_from_u64(5);
    let a = draw(MeasurementKind::Uniform, 7, 35, &mut rng);
    let b: Vec<f64> = (0..7)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    let options = FistaOptions {
        max_iter: 5,
        ..FistaOptions::default()
    };
    let sol = solve_cpu(&a, &b, &options).unwrap();
    assert_eq!(sol.iterations, 5);
    assert!(!sol.converged);
    let gpu_options = GpuFistaOptions {
        max_iter: 5,
        ..GpuFistaOptions::default()
    };
    let gpu = solve_batch_gpu(&[(&a, &b)], &gpu_options, &vulkan()).unwrap();
    assert_eq!(gpu[0].iterations, 5);
    assert!(!gpu[0].converged);
}

#[test]
fn malformed_problems_are_errors() {
    let a = Matrix::new(2, 3, vec![1.0; 6]);
    assert!(solve_cpu(&a, &[1.0], &FistaOptions::default()).is_err());
    let bad_lambda = FistaOptions {
        lambda: -1.0,
        ..FistaOptions::default()
    };
    assert!(solve_cpu(&a, &[1.0, 2.0], &bad_lambda).is_err());
    assert!(solve_cpu(&a, &[f64::NAN, 2.0], &FistaOptions::default()).is_err());
    let cpu = burn::tensor::Device::flex();
    assert!(solve_batch_gpu(&[(&a, &[1.0, 2.0])], &GpuFistaOptions::default(), &cpu).is_err());
}

/// The real problem sizes of a search: m = 7, n = 14, 21, 28, 35 (both cells), λ = 1e-5,
/// uniform A, b = 1e-3·N(0, 1), 2,000 problems. Measured on lavapipe: the raw f32 GPU result
/// picks the f64 reference's top-2 support on 99.8 % (too few: near-degenerate vertices lie
/// within f32 noise of the optimum), every KKT-certified GPU result agrees, and the hybrid
/// (uncertified problems re-solved in f64) agrees everywhere.
#[test]
fn gpu_matches_f64_support_on_search_sizes() {
    const DRAWS: usize = 250; // × 8 nodes = 2,000 problems
    let cells = CellMeasurements::draw(MeasurementKind::Uniform, 7, STEPS, PRIMITIVES.len(), 7);
    let matrices: Vec<&Matrix> = cells.all().collect();
    let mut rng = StdRng::seed_from_u64(8);
    let bs: Vec<Vec<f64>> = (0..DRAWS * matrices.len())
        .map(|_| {
            (0..7)
                .map(|_| 1e-3 * rng.sample::<f64, _>(StandardNormal))
                .collect()
        })
        .collect();
    let problems: Vec<(&Matrix, &[f64])> = bs
        .iter()
        .enumerate()
        .map(|(i, b)| (matrices[i % 8], b.as_slice()))
        .collect();
    let device = vulkan();
    let reference = recover(&problems, RecoverySolver::Cpu, 1e-5, &device).unwrap();
    let gpu = recover(&problems, RecoverySolver::Gpu, 1e-5, &device).unwrap();
    let mut hybrid = gpu.solutions.clone();
    let resolved = resolve_uncertified(&problems, &mut hybrid, 1e-5).unwrap();
    let same =
        |x: &LassoSolution, y: &LassoSolution| top_s_sorted(&x.z, 2) == top_s_sorted(&y.z, 2);
    let total = problems.len();
    let raw = reference
        .solutions
        .iter()
        .zip(&gpu.solutions)
        .filter(|(c, g)| same(c, g))
        .count();
    let certified: Vec<bool> = gpu.solutions.iter().map(|s| s.converged).collect();
    let certified_agree = reference
        .solutions
        .iter()
        .zip(&gpu.solutions)
        .filter(|(c, g)| g.converged && same(c, g))
        .count();
    let hybrid_agree = reference
        .solutions
        .iter()
        .zip(&hybrid)
        .filter(|(c, h)| same(c, h))
        .count();
    eprintln!(
        "raw f32 GPU: {raw}/{total}; certified {}/{total}, of which {certified_agree} agree; hybrid: {hybrid_agree}/{total} ({} re-solved in f64)",
        gpu.gpu_certified, resolved
    );
    assert_eq!(gpu.gpu_certified, certified.iter().filter(|c| **c).count());
    assert!(
        gpu.gpu_certified * 100 >= total * 95,
        "certified only {}",
        gpu.gpu_certified
    );
    assert!(
        certified_agree * 1000 >= gpu.gpu_certified * 999,
        "certified but wrong"
    );
    assert!(
        hybrid_agree * 1000 >= total * 999,
        "hybrid {hybrid_agree}/{total}"
    );
    assert_eq!(resolved, total - gpu.gpu_certified);
    assert!(raw * 100 >= total * 99, "raw f32 GPU {raw}/{total}");
}

/// The solver's workgroup memory (8N + 4M + 780 bytes) is checked against the adapter's limit
/// before launch: at WebGPU's default 16,384 bytes the 1,024 × 2,048 cap is refused with a
/// message naming the CPU solver, a search-sized problem fits.
#[test]
fn problems_past_the_workgroup_memory_limit_are_refused() {
    use ista_nas::sparse::lasso_gpu::{fits_workgroup_memory, workgroup_memory};
    assert_eq!(workgroup_memory(1024, 2048), 21_260);
    let error = fits_workgroup_memory(1024, 2048, 16_384)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("needs 21260 bytes of workgroup memory, more than this adapter's 16384")
            && error.contains("--solver cpu"),
        "{error}"
    );
    assert!(fits_workgroup_memory(16, 14, 16_384).is_ok());
}
