//! `ista-nas consistency`: K searches of one method with different seeds, each found genotype
//! trained stand-alone, and the rank correlation (Kendall τ, Spearman ρ) between supernet and
//! stand-alone accuracy. Each search and training is an ordinary `search` / `train` run in its
//! own folder, so a stopped study continues where it stopped when run again with the same `--out`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use ista_nas::consistency::{Shard, consistency_csv};
use ista_nas::data::DataFormat;
use ista_nas::device::DeviceChoice;
use ista_nas::run_dir::RunDir;
use ista_nas::search::config::Method;
use serde::{Deserialize, Serialize};

use super::study_runs::{recalibrated_result, score_recalibrated, search_result, train_result};
use super::study_summary::{merge, open_study, seed_row, summarise};
use super::{child, run_folder};

/// Scale of the study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
pub enum Scale {
    /// Search and train with the `quick` presets (C=4, L=5, 3 epochs each, embedded data).
    Micro,
    /// The paper's search (C=16, L=8, 50 epochs) and evaluation (C=36, L=20, 600 epochs): a GPU study.
    Paper,
}

/// The method a study measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum StudyMethod {
    /// Two-stage ISTA-NAS: supernet val accuracy after the search.
    Ista,
    /// DARTS (first order).
    Darts,
    /// PC-DARTS.
    PcDarts,
    /// One-stage ISTA-NAS (`search --one-stage --epochs 0`): supernet test accuracy at the epoch its architecture froze; the genotype is trained stand-alone as a one-stage net.
    IstaOneStage,
}

impl StudyMethod {
    /// The name used in folders and summaries.
    pub fn name(self) -> &'static str {
        match self {
            StudyMethod::Ista => Method::Ista.name(),
            StudyMethod::Darts => Method::Darts.name(),
            StudyMethod::PcDarts => Method::PcDarts.name(),
            StudyMethod::IstaOneStage => "ista-one-stage",
        }
    }
}

/// Options of `ista-nas consistency` (its config.json: the options every shard of a study
/// shares).
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct ConsistencyArgs {
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, help = super::DEVICE_HELP)]
    #[serde(skip, default = "auto_device")]
    pub device: DeviceChoice,
    /// Search method.
    #[arg(long, value_enum, default_value_t = StudyMethod::Ista)]
    pub method: StudyMethod,
    /// Searches K, with seeds first-seed .. first-seed + K − 1; a larger K on an existing study's --out extends it (its finished seeds are kept).
    #[arg(long, value_name = "K", default_value_t = 6)]
    #[serde(alias = "seeds")]
    pub searches: u64,
    /// Seed of the first search.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Presets of search and training.
    #[arg(long, value_enum, default_value_t = Scale::Micro)]
    pub scale: Scale,
    /// Data folder (both search and training); default: the embedded Fashion-MNIST subset.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Layout of `--data`; detected when omitted.
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
    /// Search epochs (one-stage: the most search epochs; default: the preset's).
    #[arg(long)]
    pub search_epochs: Option<usize>,
    /// Stand-alone training epochs, the same budget for every genotype (default: the preset's).
    #[arg(long)]
    pub train_epochs: Option<usize>,
    /// Initial channels of the supernet (default: the preset's).
    #[arg(long)]
    pub channels: Option<usize>,
    /// Cells of the supernet (default: the preset's).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Initial channels of the stand-alone network (default: the preset's).
    #[arg(long)]
    pub train_channels: Option<usize>,
    /// Cells of the stand-alone network (default: the preset's).
    #[arg(long)]
    pub train_layers: Option<usize>,
    /// Training images of each search, halved into weight and architecture splits (one-stage: all train the supernet; default: the preset's).
    #[arg(long)]
    pub search_images: Option<usize>,
    /// Training images of each stand-alone training (default: the preset's).
    #[arg(long)]
    pub train_images: Option<usize>,
    /// Test images that score each stand-alone network, and each one-stage supernet (default: all).
    #[arg(long)]
    pub test_images: Option<usize>,
    /// Trainings R of each found genotype, with different seeds: the stand-alone accuracy is their mean, and its spread (standard deviation) is reported, so the noise of the ground truth shows.
    #[arg(long, value_name = "R", default_value_t = 1)]
    #[serde(skip_serializing_if = "is_one", default = "one", alias = "train_seeds")]
    pub trainings: usize,
    /// Score each supernet, once its search has finished, with the architecture it ended with (its genotype) and its BN statistics recomputed as the mean over N augmented training batches (as `eval --search RUN_DIR --recalibrate-bn N`); the summary also gives τ for the score the search recorded. 0: the recorded score, with the search's running statistics, as the reference code scores. An existing study can be scored again with another N: its runs are kept.
    #[arg(long, value_name = "N", default_value_t = 0)]
    #[serde(skip_serializing_if = "is_zero", default)]
    pub recalibrate_bn: usize,
    /// Study folder; run again with the same folder to continue a stopped study, or with more --searches to extend it (default: runs/consistency-<method>-<unix time>).
    #[arg(long)]
    #[serde(skip)]
    pub out: Option<PathBuf>,
    /// Run only shard i of n (0 ≤ i < n): the seeds whose offset from --first-seed leaves remainder i when divided by n, into the shared --out folder (required), which all shards must give with the same options. For a Slurm job array: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT. Shards write only their own seeds' folders; `--merge` then computes the correlation.
    #[arg(long, requires = "out")]
    #[serde(skip)]
    pub shard: Option<Shard>,
    /// Compute τ and ρ of the study in DIR from every seed that has finished (its settings come from DIR/config.json), write consistency.csv, correlation.json and consistency.svg there, and list the seeds still missing; runs nothing.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["shard", "out"])]
    #[serde(skip)]
    pub merge: Option<PathBuf>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn one() -> usize {
    1
}

fn auto_device() -> DeviceChoice {
    DeviceChoice::Auto
}

/// Folder and seed of training `r` of the genotype of search `seed`: the first in `train/` with
/// the search's seed (as studies with one training each), the others in `train-<r>/` with
/// seeds far from every search seed.
pub fn training(out: &Path, seed: u64, r: usize) -> (PathBuf, u64) {
    if r == 0 {
        (out.join(format!("seed-{seed}/train")), seed)
    } else {
        let dir = out.join(format!("seed-{seed}/train-{r}"));
        (dir, seed.wrapping_add(1_000_003 * r as u64))
    }
}

impl ConsistencyArgs {
    /// `command` (search or train) of one seed in `dir`: `--resume` when the run has a
    /// checkpoint, else a new run with the study's settings and `extra` options.
    fn step_command(
        &self,
        command: &str,
        seed: u64,
        dir: &Path,
        extra: &[&str],
        options: &[(&str, Option<usize>)],
    ) -> Vec<String> {
        let mut args = vec![command.to_string()];
        if dir.join("checkpoint.bin").exists() {
            args.extend(["--resume".into(), dir.display().to_string()]);
            return args;
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        args.extend([
            "--seed".into(),
            seed.to_string(),
            "--out".into(),
            dir.display().to_string(),
        ]);
        for (name, value) in options {
            if let Some(value) = value {
                args.extend([name.to_string(), value.to_string()]);
            }
        }
        self.push_data(&mut args);
        args
    }

    fn search_command(&self, seed: u64, dir: &Path) -> Vec<String> {
        let preset = if self.scale == Scale::Paper {
            "paper"
        } else {
            "quick"
        };
        let method = ["--method", self.method.name(), "--preset", preset];
        // The one-stage run stops when its architecture freezes: the study needs no more.
        let one_stage = ["--one-stage", "--epochs", "0", "--preset", preset];
        let (extra, epochs): (&[&str], _) = match self.method {
            StudyMethod::IstaOneStage => (&one_stage, "--search-epochs"),
            _ => (&method, "--epochs"),
        };
        let mut options = vec![
            (epochs, self.search_epochs),
            ("--channels", self.channels),
            ("--layers", self.layers),
            ("--train-images", self.search_images),
        ];
        if self.method == StudyMethod::IstaOneStage {
            options.push(("--test-images", self.test_images));
        }
        self.step_command("search", seed, dir, extra, &options)
    }

    fn train_command(&self, seed: u64, genotype: &Path, dir: &Path) -> Vec<String> {
        let preset = if self.scale == Scale::Paper {
            "cifar"
        } else {
            "quick"
        };
        let genotype = genotype.display().to_string();
        let mut extra = vec!["--preset", preset, "--genotype", &genotype];
        if self.method == StudyMethod::IstaOneStage {
            extra.push("--one-stage-net");
        }
        let options = [
            ("--epochs", self.train_epochs),
            ("--channels", self.train_channels),
            ("--layers", self.train_layers),
            ("--train-images", self.train_images),
            ("--test-images", self.test_images),
        ];
        self.step_command("train", seed, dir, &extra, &options)
    }

    fn push_data(&self, args: &mut Vec<String>) {
        if let Some(data) = &self.data {
            args.extend(["--data".into(), data.display().to_string()]);
        }
        if let Some(format) = self.format {
            args.extend(["--format".into(), child::value_name(&format)]);
        }
    }
}

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
        Some(shard) => {
            ista_nas::run_lock::hold_shard(&out, shard.index as usize, shard.count as usize)?
        }
        None => ista_nas::run_lock::hold(&out)?,
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
