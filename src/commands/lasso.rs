//! `ista-nas lasso`: the LASSO sparse-recovery demo on the real problem sizes of a search.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use ista_nas::bench::recovery::random_bs;
use ista_nas::devices::adapter::DeviceChoice;
use ista_nas::search_space::primitives::{PRIMITIVES, STEPS, describe};
use ista_nas::sparse::lasso::LassoSolution;
use ista_nas::sparse::matrix::Matrix;
use ista_nas::sparse::measurement::{CellMeasurements, MeasurementKind};
use ista_nas::sparse::recovery::{Recovery, RecoverySolver, recover, resolve_uncertified};
use ista_nas::sparse::support::{top_s, top_s_sorted};

/// Options of `ista-nas lasso`.
#[derive(Args, Debug)]
pub struct LassoArgs {
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, help = super::DEVICE_HELP)]
    pub device: DeviceChoice,
    /// Seed of the measurement matrices and of b.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How A is drawn.
    #[arg(long, value_enum, default_value_t = MeasurementKind::Uniform)]
    pub measurement: MeasurementKind,
    /// Rows m of every A_i (the compressed dimension).
    #[arg(long, default_value_t = 7)]
    pub m: usize,
    /// Active ops per node s (size of the support).
    #[arg(long, default_value_t = 2)]
    pub sparsity: usize,
    /// The ℓ1 weight λ of the LASSO.
    #[arg(long, default_value_t = 1e-5)]
    pub lambda: f64,
    /// Scale of b: b = scale · N(0, 1), as b is initialised in a search.
    #[arg(long, default_value_t = 1e-3)]
    pub b_scale: f64,
    /// Random b per node; more draws measure the GPU/CPU support agreement on more problems.
    #[arg(long, default_value_t = 100)]
    pub draws: usize,
}

/// The first draw's picks, every node (top-s of |z| of the f64 reference).
fn print_picks(solutions: &[LassoSolution], nodes: usize, sparsity: usize) {
    println!("\nfirst draw, every node (top-{sparsity} of |z|, f64 CPU reference):");
    for (i, solution) in solutions.iter().take(nodes).enumerate() {
        let cell = if i < STEPS { "normal" } else { "reduce" };
        let picks: Vec<String> = top_s(&solution.z, sparsity)
            .into_iter()
            .map(|k| {
                let (op, input) = describe(k);
                format!("{op} ← state {input} (z = {:+.3e})", solution.z[k])
            })
            .collect();
        println!("  {cell} node {}: {}", i % STEPS, picks.join(", "));
    }
}

/// How the GPU's f32 solutions (taking `gpu_ms`) agree with the f64 reference `cpu`: raw,
/// KKT-certified, and hybrid (the uncertified ones solved again in f64).
fn compare_gpu(
    args: &LassoArgs,
    problems: &[(&Matrix, &[f64])],
    cpu: &[LassoSolution],
    (gpu, gpu_ms): (Recovery, f64),
) -> anyhow::Result<()> {
    let same = |x: &LassoSolution, y: &LassoSolution| {
        top_s_sorted(&x.z, args.sparsity) == top_s_sorted(&y.z, args.sparsity)
    };
    let total = cpu.len();
    let pairs = || cpu.iter().zip(&gpu.solutions);
    let raw = pairs().filter(|(c, g)| same(c, g)).count();
    let certified_agree = pairs().filter(|(c, g)| g.converged && same(c, g)).count();
    let mut hybrid = gpu.solutions.clone();
    let start = Instant::now();
    let resolved = resolve_uncertified(problems, &mut hybrid, args.lambda)?;
    let fallback_ms = start.elapsed().as_secs_f64() * 1e3;
    let hybrid_agree = cpu.iter().zip(&hybrid).filter(|(c, h)| same(c, h)).count();
    let iters = gpu
        .solutions
        .iter()
        .map(|s| s.iterations)
        .max()
        .unwrap_or(0);
    let pct = |k: usize| 100.0 * k as f64 / total as f64;
    println!(
        "GPU f32 batched FISTA: {gpu_ms:.1} ms for all, max {iters} iterations, {} of {total} KKT-certified",
        gpu.gpu_certified
    );
    println!("same top-{} support as the f64 reference:", args.sparsity);
    println!("  raw f32 GPU            {raw}/{total} ({:.2} %)", pct(raw));
    println!(
        "  KKT-certified GPU      {certified_agree}/{} agree",
        gpu.gpu_certified
    );
    println!(
        "  hybrid (GPU, then f64 for the {resolved} uncertified, {fallback_ms:.1} ms) {hybrid_agree}/{total} ({:.2} %)",
        pct(hybrid_agree)
    );
    Ok(())
}

/// Runs the demo.
pub fn run(args: LassoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.m > 0, "--m must be at least 1");
    anyhow::ensure!(args.draws > 0, "--draws must be at least 1");
    let selected = super::device::open(args.device)?;
    let cells =
        CellMeasurements::draw(args.measurement, args.m, STEPS, PRIMITIVES.len(), args.seed);
    let matrices: Vec<&Matrix> = cells.all().collect();
    let bs = random_bs(
        args.m,
        args.draws * matrices.len(),
        args.b_scale,
        args.seed.wrapping_add(1),
    );
    let problems: Vec<(&Matrix, &[f64])> = bs
        .iter()
        .enumerate()
        .map(|(i, b)| (matrices[i % matrices.len()], b.as_slice()))
        .collect();
    println!(
        "{} problems: {} draws × {} nodes (normal + reduce), m = {}, n = {:?}, λ = {:e}, A {:?}",
        problems.len(),
        args.draws,
        matrices.len(),
        args.m,
        matrices.iter().map(|a| a.cols).collect::<Vec<_>>(),
        args.lambda,
        args.measurement
    );
    let time = |solver| -> anyhow::Result<(Recovery, f64)> {
        let start = Instant::now();
        let recovery = recover(&problems, solver, args.lambda, &selected.device)
            .with_context(|| format!("{solver:?} recovery"))?;
        Ok((recovery, start.elapsed().as_secs_f64() * 1e3))
    };
    let (cpu, cpu_ms) = time(RecoverySolver::Cpu)?;
    let gpu = if selected.info.wgsl_kernels {
        Some(time(RecoverySolver::Gpu)?)
    } else {
        println!("(not a wgpu adapter: the batched GPU solver is skipped)");
        None
    };
    let cpu = cpu.solutions;
    print_picks(&cpu, matrices.len(), args.sparsity);
    let capped = cpu.iter().filter(|s| !s.converged).count();
    let cpu_iters = cpu.iter().map(|s| s.iterations).max().unwrap_or(0);
    println!(
        "\nCPU f64 FISTA + active-set polish: {cpu_ms:.1} ms for all, max {cpu_iters} iterations, {capped} hit the cap"
    );
    if let Some(gpu) = gpu {
        compare_gpu(&args, &problems, &cpu, gpu)?;
    }
    println!("\n(recovery demo on random b; `ista-nas search` recovers from the trained b)");
    Ok(())
}
