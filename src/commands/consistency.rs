//! `ista-nas consistency`: K searches of one method with different seeds, each found genotype
//! trained stand-alone, and the rank correlation (Kendall τ, Spearman ρ) between supernet and
//! stand-alone accuracy. Each search and training is an ordinary `search` / `train` run in its
//! own folder, so a stopped study continues where it stopped when run again with the same `--out`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ista_nas::devices::adapter::DeviceChoice;
use ista_nas::storage::run_dir::RunDir;
use ista_nas::studies::consistency::consistency_csv;

use super::consistency_args::{ConsistencyArgs, training};
use super::study_runs::{recalibrated_result, score_recalibrated, search_result, train_result};
use super::study_summary::{merge, open_study, seed_row, summarise};
use super::{child, run_folder};

/// Runs `ista-nas <args>` with the study's device, its output shown as it runs.
fn run_step(device: DeviceChoice, args: &[String]) -> anyhow::Result<()> {
    let status = child::ista_nas()?
        .args(args)
        .arg("--device")
        .arg(child::value_name(&device))
        .status()
        .with_context(|| format!("cannot start `ista-nas {}`", args[0]))?;
    if !status.success() {
        bail!("`ista-nas {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Runs the search and the trainings of `seed` that have not finished yet.
fn run_seed(args: &ConsistencyArgs, out: &Path, seed: u64) -> anyhow::Result<()> {
    let search_dir = out.join(format!("seed-{seed}/search"));
    println!("\n== seed {seed}: search ({})", args.method.name());
    if search_result(&search_dir)?.is_none() {
        run_step(args.device, &args.search_command(seed, &search_dir))?;
    }
    search_result(&search_dir)?.context("the search ended without its last epoch")?;
    if args.recalibrate_bn > 0 && recalibrated_result(&search_dir, args.recalibrate_bn)?.is_none() {
        println!(
            "== seed {seed}: supernet scored with BN recalibrated on {} training batches",
            args.recalibrate_bn
        );
        let selected = super::device::open(args.device)?;
        score_recalibrated(&search_dir, args.recalibrate_bn, &selected.device)
            .with_context(|| format!("scoring the supernet of {}", search_dir.display()))?;
    }
    let genotype = search_dir.join("genotype.json");
    for r in 0..args.trainings {
        let (train_dir, train_seed) = training(out, seed, r);
        println!(
            "== seed {seed}: stand-alone training {}/{} of its genotype (seed {train_seed})",
            r + 1,
            args.trainings
        );
        if train_result(&train_dir)?.is_none() {
            run_step(
                args.device,
                &args.train_command(train_seed, &genotype, &train_dir),
            )?;
        }
    }
    Ok(())
}

/// Runs `ista-nas consistency`.
pub fn run(args: ConsistencyArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.merge {
        return merge(dir);
    }
    if args.searches < 2 {
        bail!("--searches must be at least 2 for a rank correlation");
    }
    if args.trainings == 0 {
        bail!("--trainings must be at least 1");
    }
    let stamp = run_folder::unix_time();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!("runs/consistency-{}-{stamp}", args.method.name()))
    });
    // one study process per folder, or one process per shard of it
    match args.shard {
        Some(shard) => ista_nas::storage::run_lock::hold_shard(
            &out,
            shard.index as usize,
            shard.count as usize,
        )?,
        None => ista_nas::storage::run_lock::hold(&out)?,
    }
    open_study(&args, &out)?;
    let first = args.first_seed;
    let seeds: Vec<u64> = (first..first + args.searches)
        .filter(|seed| args.shard.is_none_or(|shard| shard.owns(seed - first)))
        .collect();
    if let Some(shard) = args.shard {
        println!(
            "shard {shard} of the study in {}: seeds {seeds:?} of {first}..={}",
            out.display(),
            first + args.searches - 1
        );
    }
    let mut rows = Vec::new();
    for &seed in &seeds {
        run_seed(&args, &out, seed)?;
        let row = seed_row(&args, &out, seed)?.context("a run of the seed did not finish")?;
        println!(
            "== seed {seed}: supernet {:.2} %, stand-alone test {:.2} % (± {:.2} over {} trainings)",
            100.0 * row.supernet_acc,
            100.0 * row.standalone_test_top1,
            100.0 * row.standalone_std,
            args.trainings
        );
        rows.push(row);
        if args.shard.is_none() {
            let csv = consistency_csv(&rows);
            RunDir { path: out.clone() }.write("consistency.csv", csv.as_bytes())?;
        }
    }
    match args.shard {
        Some(shard) => {
            println!(
                "\nshard {shard} finished its {} seeds; once every shard has: ista-nas consistency --merge {}",
                seeds.len(),
                out.display()
            );
            Ok(())
        }
        None => summarise(&args, &rows, &out),
    }
}
