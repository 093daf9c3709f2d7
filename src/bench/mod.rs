//! Benchmarks (docs/method.md §8): timed search steps per method and batch size, side by side in one run,
//! and the sparse-recovery micro-benchmark. Each case runs in its own process (the CLI's
//! `bench`), so each peak-memory figure is that case's own high-water mark.

pub mod dispatches;
pub mod plot;
pub mod profile_tables;
pub mod recovery;
pub mod results;
pub mod shapes_table;
pub mod step_shapes;

use std::collections::BTreeMap;
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::data::loader::EpochLoader;
use crate::devices::adapter::{peak_pool_bytes, runs_wgsl};
use crate::error::{IstaError, Result};
use crate::model::drop_path::DropPath;
use crate::profile::{self, ProfileRow};
use crate::search::config::{Method, SearchConfig};
use crate::search::one_stage::config::OneStageConfig;
use crate::search::one_stage::trainer::OneStageSearch;
use crate::search::trainer::Searcher;
use crate::search_space::genotype::Genotype;
use crate::step_metrics::{host_reads, read_to_host};
use dispatches::count_dispatches;

/// One measurement: a method at a batch size on a supernet of C channels and L cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchCase {
    /// Search method.
    pub method: BenchMethod,
    /// Images per step (train and val batch alike).
    pub batch_size: usize,
    /// Initial channels C.
    pub channels: usize,
    /// Cells L.
    pub layers: usize,
    /// Untimed steps first (kernel compilation, pool growth).
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
    /// Seed of weights and architecture.
    pub seed: u64,
    /// Also run `steps` profiled steps (after the timed ones) and report where their time went.
    #[serde(default)]
    pub profile: bool,
    /// Devices the batch is split across (synchronous data parallel).
    #[serde(default = "one_device")]
    pub devices: usize,
}

fn one_device() -> usize {
    1
}

/// What a case measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseTiming {
    /// Mean wall-clock milliseconds of one search step (architecture step + weight step).
    pub ms_per_step: f64,
    /// Training images per second (`batch_size` per step; each step also reads a val batch).
    pub images_per_s: f64,
    /// Peak bytes of the device's memory pools (allocator high-water mark), when reported.
    pub peak_memory_bytes: Option<u64>,
    /// Side of the square input images.
    pub image_size: usize,
    /// Kernel launches per timed step on wgpu devices (`None` on Burn's CPU backend).
    #[serde(default)]
    pub dispatches_per_step: Option<f64>,
    /// Reads of step values to the host per timed step (the one read after the timed steps,
    /// which waits for them, is the benchmark's and not counted).
    #[serde(default)]
    pub host_reads_per_step: Option<f64>,
    /// Launches per timed step of each kernel, on wgpu devices.
    #[serde(default)]
    pub dispatches: BTreeMap<String, f64>,
    /// Training loss of each timed step (to compare builds and devices on the same case).
    #[serde(default)]
    pub losses: Vec<f64>,
    /// Where the profiled steps' time went (empty unless the case asked for a profile).
    #[serde(default)]
    pub profile: Vec<ProfileRow>,
}

impl CaseTiming {
    /// Launches per timed step of the project's own WGSL kernels, on wgpu devices.
    pub fn own_dispatches_per_step(&self) -> Option<f64> {
        self.dispatches_per_step?;
        Some(
            self.dispatches
                .iter()
                .filter(|(name, _)| is_own_kernel(name))
                .map(|(_, n)| n)
                .sum(),
        )
    }

    /// Launches per timed step of Burn's kernels (everything not the project's own).
    pub fn burn_dispatches_per_step(&self) -> Option<f64> {
        Some(self.dispatches_per_step? - self.own_dispatches_per_step()?)
    }
}

/// Whether a counted kernel name (as [`dispatches::count_dispatches`] gives it) is one of the
/// project's WGSL kernels.
pub fn is_own_kernel(name: &str) -> bool {
    name.contains("WgslKernel")
}

/// The methods `bench` times: the two-stage searches and one-stage ISTA-NAS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BenchMethod {
    /// Two-stage ISTA-NAS: an architecture step and a weight step per search step.
    Ista,
    /// One-stage ISTA-NAS: one step updates weights and b together.
    IstaOneStage,
    /// DARTS, first order.
    Darts,
    /// PC-DARTS.
    PcDarts,
}

impl BenchMethod {
    /// The name the CLI takes.
    pub fn name(self) -> &'static str {
        match self {
            BenchMethod::IstaOneStage => "ista-one-stage",
            other => other.two_stage().map_or("", Method::name),
        }
    }

    /// The two-stage search method, unless one-stage.
    pub fn two_stage(self) -> Option<Method> {
        match self {
            BenchMethod::Ista => Some(Method::Ista),
            BenchMethod::Darts => Some(Method::Darts),
            BenchMethod::PcDarts => Some(Method::PcDarts),
            BenchMethod::IstaOneStage => None,
        }
    }
}

impl BenchCase {
    /// The two-stage method's search settings at this case's size (ISTA-NAS's for one-stage),
    /// without an architecture warm-up (PC-DARTS's 15 epochs): the timed step is the search's
    /// full step, an architecture step and a weight step.
    pub fn config(&self) -> SearchConfig {
        let method = self.method.two_stage().unwrap_or(Method::Ista);
        SearchConfig {
            channels: self.channels,
            layers: self.layers,
            batch_size: self.batch_size,
            seed: self.seed,
            epochs: 1,
            arch_warmup_epochs: 0,
            ..SearchConfig::preset("paper", method).expect("built-in preset")
        }
    }

    /// One-stage ISTA-NAS's settings at this case's size (the paper's, one search epoch).
    pub fn one_stage_config(&self) -> OneStageConfig {
        OneStageConfig {
            channels: self.channels,
            layers: self.layers,
            batch_size: self.batch_size,
            seed: self.seed,
            search_epochs: 1,
            epochs: 0,
            ..OneStageConfig::paper()
        }
    }

    /// Why this case's method cannot run its settings, if it cannot.
    pub fn problem(&self) -> Option<String> {
        match self.method {
            BenchMethod::IstaOneStage => self.one_stage_config().problem(),
            _ => self.config().problem(),
        }
    }
}

/// Times `case` on the first `2 × batch` images of `train` (halved into weight and architecture
/// batches); ISTA-NAS runs the ops of `genotype`, the DARTS methods all ops.
pub fn run_case(
    case: &BenchCase,
    train: &Dataset,
    classes: usize,
    genotype: &Genotype,
    devices: &[Device],
) -> Result<CaseTiming> {
    let device = &devices[0];
    let needed = 2 * case.batch_size;
    if train.len() < needed || case.steps == 0 {
        return Err(IstaError::Shape(format!(
            "a batch of {} needs {needed} training images ({} given) and at least one timed step",
            case.batch_size,
            train.len()
        )));
    }
    let (weights, arch) = train.first(Some(needed)).split_half();
    // `repeat(n)`: n timed steps on one prepared batch, their losses read once after them
    let (mut repeat, run_device): (Box<Repeat<'_>>, Device) = match case.method {
        BenchMethod::IstaOneStage => {
            let names = (0..classes).map(|c| c.to_string()).collect();
            let config = case.one_stage_config();
            let mut search = OneStageSearch::new(config, weights, arch, names, device)?;
            search.use_devices(&devices[1..]);
            let run_device = search.device.clone();
            (
                Box::new(move |n| repeat_one_stage(&mut search, n)),
                run_device,
            )
        }
        _ => {
            let mut searcher = Searcher::new(case.config(), weights, arch, classes, device)?;
            searcher.use_devices(&devices[1..])?;
            searcher.use_genotype(genotype)?;
            let run_device = searcher.device.clone();
            (Box::new(move |n| searcher.repeat_first_step(n)), run_device)
        }
    };
    repeat(case.warmup)?;
    let reads_before = host_reads();
    let start = Instant::now();
    let (losses, launches) = count_dispatches(|| repeat(case.steps));
    let losses = losses?;
    let seconds = start.elapsed().as_secs_f64();
    let step_reads = host_reads().saturating_sub(reads_before + 1);
    let peak_memory_bytes = peak_pool_bytes(&run_device);
    let profile = if case.profile {
        profile::start(&run_device);
        let done = repeat(case.steps);
        let rows = profile::stop();
        done?;
        rows
    } else {
        Vec::new()
    };
    let per_step = |n: u64| n as f64 / case.steps as f64;
    Ok(CaseTiming {
        ms_per_step: 1e3 * seconds / case.steps as f64,
        images_per_s: (case.batch_size * case.steps) as f64 / seconds,
        peak_memory_bytes,
        image_size: train.supernet_side(),
        dispatches_per_step: runs_wgsl(device).then(|| per_step(launches.values().sum())),
        host_reads_per_step: Some(step_reads as f64 / case.steps as f64),
        dispatches: launches
            .into_iter()
            .map(|(k, n)| (k, per_step(n)))
            .collect(),
        losses,
        profile,
    })
}

/// `n` timed steps on one prepared batch, their losses read once after them.
type Repeat<'a> = dyn FnMut(usize) -> Result<Vec<f64>> + 'a;

/// `count` one-stage steps on the first training batch at the search's rate (no drop path):
/// each step's loss, read once after them.
fn repeat_one_stage(search: &mut OneStageSearch, count: usize) -> Result<Vec<f64>> {
    let seed = search.config.seed;
    let loader = EpochLoader::start(search.train.clone(), search.train_plan.clone(), seed, 0, 0);
    let batch = loader
        .into_iter()
        .next()
        .ok_or_else(|| IstaError::Shape("no images to benchmark on".into()))??;
    let lr = search.config.sgd.lr;
    let mut losses = Vec::with_capacity(count);
    for _ in 0..count {
        let (x, y) = batch.clone().tensors(&search.device);
        let step = search.step(x, y, lr, &mut DropPath::new(0.0, 0))?;
        losses.push(step.loss.inner());
    }
    if losses.is_empty() {
        return Ok(Vec::new());
    }
    let values = read_to_host(Tensor::cat(losses, 0)); // [count]
    Ok(values.into_iter().map(f64::from).collect())
}
