//! Benchmarks (spec §8): timed search steps per method and batch size, side by side in one run,
//! and the sparse-recovery micro-benchmark. Each case runs in its own process (the CLI's
//! `bench`), so each peak-memory figure is that case's own high-water mark.

pub mod plot;
pub mod recovery;
pub mod report;

use std::time::Instant;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::device::peak_pool_bytes;
use crate::error::{IstaError, Result};
use crate::genotype::Genotype;
use crate::search::config::{Method, SearchConfig};
use crate::search::trainer::Searcher;

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
    device: &Device,
) -> Result<CaseTiming> {
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
    searcher.use_genotype(genotype)?;
    searcher.repeat_first_step(case.warmup)?;
    let start = Instant::now();
    searcher.repeat_first_step(case.steps)?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(CaseTiming {
        ms_per_step: 1e3 * seconds / case.steps as f64,
        images_per_s: (case.batch_size * case.steps) as f64 / seconds,
        peak_memory_bytes: peak_pool_bytes(&searcher.device),
        image_size: train.height.max(train.width).max(32),
    })
}
