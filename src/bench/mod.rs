//! Benchmarks (docs/method.md §8): timed search steps per method and batch size, side by side in one run,
//! and the sparse-recovery micro-benchmark. Each case runs in its own process (the CLI's
//! `bench`), so each peak-memory figure is that case's own high-water mark.

pub mod dispatches;
pub mod plot;
pub mod profile_report;
pub mod recovery;
pub mod report;
pub mod shapes_report;
pub mod step_shapes;

use std::collections::BTreeMap;
use std::time::Instant;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::device::{peak_pool_bytes, runs_wgsl};
use crate::error::{IstaError, Result};
use crate::genotype::Genotype;
use crate::profile::{self, ProfileRow};
use crate::search::config::{Method, SearchConfig};
use crate::search::trainer::Searcher;
use crate::step_metrics::host_reads;
use dispatches::count_dispatches;

/// One measurement: a method at a batch size on a supernet of C channels and L cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchCase {
    /// Search method.
    pub method: Method,
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
    /// Launches per timed step of each kernel, on wgpu devices.
    /// Reads of step values to the host per timed step (the one read after the timed steps,
    /// which waits for them, is the benchmark's and not counted).
    #[serde(default)]
    pub host_reads_per_step: Option<f64>,
    #[serde(default)]
    pub dispatches: BTreeMap<String, f64>,
    /// Training loss of each timed step (to compare builds and devices on the same case).
    #[serde(default)]
    pub losses: Vec<f64>,
    /// Where the profiled steps' time went (empty unless the case asked for a profile).
    #[serde(default)]
    pub profile: Vec<ProfileRow>,
}

impl BenchCase {
    /// The method's search settings at this case's size.
    pub fn config(&self) -> SearchConfig {
        SearchConfig {
            channels: self.channels,
            layers: self.layers,
            batch_size: self.batch_size,
            seed: self.seed,
            epochs: 1,
            ..SearchConfig::paper().for_method(self.method, true)
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
    let mut searcher = Searcher::new(case.config(), weights, arch, classes, device)?;
    searcher.use_devices(&devices[1..])?;
    searcher.use_genotype(genotype)?;
    searcher.repeat_first_step(case.warmup)?;
    let reads_before = host_reads();
    let start = Instant::now();
    let (losses, launches) = count_dispatches(|| searcher.repeat_first_step(case.steps));
    let losses = losses?;
    let seconds = start.elapsed().as_secs_f64();
    let step_reads = host_reads().saturating_sub(reads_before + 1);
    let peak_memory_bytes = peak_pool_bytes(&searcher.device);
    let profile = if case.profile {
        profile::start(&searcher.device);
        let done = searcher.repeat_first_step(case.steps);
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
