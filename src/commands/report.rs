//! `ista-nas report DIR…`: several trainings of a genotype (different seeds) as papers report
//! them: final and best test error as mean ± std, parameters and multiply-adds, in Markdown.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use ista_nas::model::complexity::complexity;
use ista_nas::storage::model_file::read_header;
use ista_nas::studies::report::{RunResult, group, markdown};
use ista_nas::train::config::TrainConfig;

/// Options of `ista-nas report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Training run folders, or folders holding them (such as the folder of `train --seeds`).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
}

/// The training runs in `dir`: itself when it is one, else its sub-folders that are.
fn run_folders(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let is_run = |d: &Path| d.join("config.json").is_file() && d.join("metrics.csv").is_file();
    if is_run(dir) {
        return Ok(vec![dir.into()]);
    }
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut runs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_run(p))
        .collect();
    runs.sort();
    if runs.is_empty() {
        bail!(
            "{} holds no training run (config.json and metrics.csv)",
            dir.display()
        );
    }
    Ok(runs)
}

/// The test top-1 accuracy column of a training run's metrics.csv.
fn test_top1(dir: &Path) -> anyhow::Result<Vec<f64>> {
    let path = dir.join("metrics.csv");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let Some(column) = header.iter().position(|h| *h == "test_acc") else {
        bail!(
            "{} has no test_acc column: not a training run's metrics",
            path.display()
        );
    };
    lines
        .map(|line| {
            let field = line.split(',').nth(column).unwrap_or_default();
            field
                .parse::<f64>()
                .with_context(|| format!("{}: test_acc {field:?} is not a number", path.display()))
        })
        .collect()
}

/// One run's result, or `None` (with the reason) while it has not finished.
fn read_run(dir: &Path) -> anyhow::Result<Result<RunResult, String>> {
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let config: TrainConfig = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a training run's settings", config_path.display()))?;
    let top1 = test_top1(dir)?;
    if top1.len() < config.epochs {
        return Ok(Err(format!("{} epochs of {}", top1.len(), config.epochs)));
    }
    let header = read_header(&dir.join("last.model"))
        .with_context(|| format!("reading {}", dir.join("last.model").display()))?;
    let counts = complexity(&header.network, header.augment.size);
    Ok(Ok(RunResult {
        name: dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into()),
        genotype: config.genotype,
        seed: config.seed,
        epochs: config.epochs,
        test_top1: top1,
        params: counts.params,
        multiply_adds: counts.multiply_adds,
    }))
}

/// Runs `ista-nas report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let mut results = Vec::new();
    for dir in &args.dirs {
        for run in run_folders(dir)? {
            match read_run(&run)? {
                Ok(result) => results.push(result),
                Err(why) => println!("left out (not finished: {why}): {}", run.display()),
            }
        }
    }
    if results.is_empty() {
        bail!("no finished training run to report");
    }
    print!("{}", markdown(&group(results)));
    println!(
        "\nmean ± sample standard deviation over the runs; final: the last epoch; best: the best epoch on the test set (as DARTS's scripts report it)."
    );
    Ok(())
}
