//! The options of `ista-nas consistency` (saved as a study's config.json) and the search and
//! train commands they make for each seed.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use ista_nas::devices::adapter::DeviceChoice;
use ista_nas::search::config::Method;
use ista_nas::studies::consistency::Shard;
use serde::{Deserialize, Serialize};

use super::child;
use super::options::DataSource;

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
    #[command(flatten)]
    #[serde(flatten)]
    pub source: DataSource,
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

    /// The `search` command of seed `seed` into `dir`.
    pub fn search_command(&self, seed: u64, dir: &Path) -> Vec<String> {
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

    /// The `train` command of seed `seed`'s `genotype` into `dir`.
    pub fn train_command(&self, seed: u64, genotype: &Path, dir: &Path) -> Vec<String> {
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
        if let Some(data) = &self.source.data {
            args.extend(["--data".into(), data.display().to_string()]);
        }
        if let Some(format) = self.source.format {
            args.extend(["--format".into(), child::value_name(&format)]);
        }
    }
}
