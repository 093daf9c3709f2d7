//! `ista-nas bench --shapes`: the planned launches of the project's kernels in one search step,
//! computed from the shapes without running anything (`ista_nas::bench::step_shapes`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use ista_nas::bench::shapes_table::{
    SHAPES_CSV_HEADER, estimate_ms, shapes_csv_rows, shapes_table, step_totals,
};
use ista_nas::bench::step_shapes::{
    StepCase, first_unfit, largest_binding, largest_fitting_batch, step_launches, step_launches_on,
};
use ista_nas::kernels::launch_plan::MAX_BINDING;
use ista_nas::kernels::variant::{KernelShape, current};
use ista_nas::model::skeleton::CellPlan;
use ista_nas::search_space::genotype::Genotype;
use ista_nas::search_space::primitives::STEPS;
use ista_nas::storage::run_dir::RunDir;

use super::bench_args::BenchArgs;
use super::run_folder;

/// `bench --shapes`: the planned launches of one step per batch size, computed, not run.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let plan = CellPlan::new(args.net, 3, args.channels, args.layers, (STEPS, STEPS));
    if let Some(problem) = plan.input_problem(args.image_size, false) {
        bail!("--image-size: {problem}");
    }
    let shape = current();
    let target = match shape {
        KernelShape::Gpu => "a GPU",
        KernelShape::Software => "a software adapter",
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/shapes-{}", run_folder::unix_time())));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let run = RunDir { path: out.clone() };
    let genotype = Genotype::load(&args.input.genotype)?;
    let (mut csv, mut md) = (format!("{SHAPES_CSV_HEADER}\n"), String::new());
    let mut support_csv = csv.clone();
    for &batch in &args.batch_sizes {
        let case = StepCase {
            kind: args.net,
            channels: args.channels,
            layers: args.layers,
            batch,
            image: args.image_size,
            in_channels: 3,
        };
        let launches = step_launches(&case, shape);
        let title = format!(
            "own kernels of one search step (architecture and weight steps, every op on every edge), planned for {target}: C={} L={} batch {batch}, {s}x{s} {:?} images",
            args.channels,
            args.layers,
            args.net,
            s = args.image_size,
        );
        let largest = largest_binding(&launches).map_or(0, |l| l.plan.largest_binding());
        let verdict = match first_unfit(&launches) {
            None => format!(
                "every launch reading ≥ 2^20 values runs ≥ 2^16 threads; no loop over 256; largest binding {:.3} GB (limit {:.3} GB)",
                largest as f64 / 1e9,
                MAX_BINDING as f64 / 1e9
            ),
            Some(l) if l.plan.largest_binding() > MAX_BINDING => {
                let fits = largest_fitting_batch(&case, shape, MAX_BINDING);
                format!(
                    "does not fit a GPU: a {:.2} GB binding (over {MAX_BINDING} bytes); a run is refused, batch {fits} fits: {:?}",
                    l.plan.largest_binding() as f64 / 1e9,
                    l.plan
                )
            }
            Some(l) => format!("does not fill a GPU: {:?}", l.plan),
        };
        let estimate = format!(
            "estimate: {:.1} ms per step for these launches (bytes / 3 TB/s + launches × 5 µs)",
            estimate_ms(&launches)
        );
        // the step `bench` times for ISTA-NAS: only the genotype's support runs
        let ista = step_launches_on(&case, shape, Some(&genotype));
        let (count, bytes) = step_totals(&ista);
        let support = format!(
            "ISTA-NAS on the support of {}: {count} launches per step, {:.1} GB moved, estimate {:.1} ms",
            args.input.genotype,
            bytes as f64 / 1e9,
            estimate_ms(&ista)
        );
        let section = format!(
            "{title}\n\n{}{verdict}\n{estimate}\n{support}\n\n",
            shapes_table(&launches)
        );
        print!("{section}");
        md.push_str(&section);
        csv.push_str(&shapes_csv_rows(batch, &launches));
        support_csv.push_str(&shapes_csv_rows(batch, &ista));
    }
    run.write("shapes-support.csv", support_csv.as_bytes())?;
    run.write("shapes.csv", csv.as_bytes())?;
    run.write("shapes.md", md.as_bytes())?;
    println!(
        "results in {}: shapes.csv, shapes-support.csv (ISTA-NAS's support), shapes.md",
        out.display()
    );
    Ok(())
}
