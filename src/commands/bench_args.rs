//! The options of `ista-nas bench`, and their checks.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use ista_nas::bench::BenchMethod;
use ista_nas::devices::adapter::DeviceChoice;
use ista_nas::model::heads::NetKind;

use super::options::DataSource;

/// What every case runs on: device, data and the genotype of ISTA-NAS's ops.
#[derive(Args, Debug, Clone)]
pub struct CaseInput {
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, help = super::DEVICE_HELP)]
    pub device: DeviceChoice,
    #[command(flatten)]
    pub source: DataSource,
    /// The genotype whose ops ISTA-NAS runs (a built-in name or a file); DARTS methods run all ops.
    #[arg(long, default_value = "ISTA_NAS")]
    pub genotype: String,
    /// Measure the host's work alone: run every case on wgpu's noop backend, where the real step (Burn, autodiff, CubeCL, wgpu's validation, encoding and submission) runs with empty kernels, so ms/step is what a GPU that took no time per kernel would give; --device is not used, and there is no recovery benchmark.
    #[arg(long)]
    pub host_only: bool,
}

/// Options of `ista-nas bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub input: CaseInput,
    /// Methods to run, side by side (ista-one-stage: one step updates the weights and b together; its C and L are this command's).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BenchMethod::Ista, BenchMethod::Darts, BenchMethod::PcDarts])]
    pub methods: Vec<BenchMethod>,
    /// Batch sizes (each method runs each; larger ones are skipped once one does not fit).
    #[arg(long, value_delimiter = ',', default_values_t = [64, 256, 512])]
    pub batch_sizes: Vec<usize>,
    /// Initial channels C of the supernets (the paper's search: 16; PC-DARTS needs a multiple of 8).
    #[arg(long, default_value_t = 16)]
    pub channels: usize,
    /// Cells L.
    #[arg(long, default_value_t = 8)]
    pub layers: usize,
    /// Untimed steps before timing (kernel compilation, memory-pool growth).
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Device counts to run each case on (synchronous data parallel over adapters 0..N of the kind --device picks; the table adds images/s against 1 device). A software adapter or the CPU backend gives logical devices that share it.
    #[arg(long, value_name = "N,...", value_delimiter = ',', default_values_t = [1])]
    pub device_counts: Vec<usize>,
    /// Timed search steps (each an architecture step and a weight step).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Seed of weights and architecture parameters.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Skip cases predicted to need more memory than this (MiB); default: the free system memory on software adapters, no limit on GPUs.
    #[arg(long)]
    pub memory_limit_mib: Option<f64>,
    /// Random b per node in the recovery micro-benchmark's large set (0: no recovery benchmark).
    #[arg(long, default_value_t = 100)]
    pub recovery_draws: usize,
    /// Also profile each case: as many steps again, each part timed on its own (forward, backward, optimiser; convolutions by kind, BN, pooling, the mixed op, host reads), written to profile.csv and profile.md; on wgpu devices, kernel launches per kernel go to dispatches.csv.
    #[arg(long)]
    pub profile: bool,
    /// Folder for bench.csv, bench.svg, bench.md and recovery.csv (default: runs/bench-<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run nothing: print, per own kernel, the launches of one ISTA-NAS search step at --channels, --layers, --batch-sizes and --image-size, with threads, the longest serial loop and bytes moved, as planned for a GPU (ISTA_NAS_KERNELS=software: for a software adapter), for the supernet with every op on every edge and for the ISTA-NAS step on --genotype's support, with the estimate bytes / 3 TB/s + launches × 5 µs; writes shapes.csv, shapes-support.csv and shapes.md.
    #[arg(long)]
    pub shapes: bool,
    /// Side of the square images of --shapes.
    #[arg(long, default_value_t = 32)]
    pub image_size: usize,
    /// Stem and head of the --shapes network: cifar (one stem conv) or imagenet (three stride-2 stem convs).
    #[arg(long, value_enum, default_value_t = NetKind::Cifar)]
    pub net: NetKind,
}

impl BenchArgs {
    /// Refuses options no case could run with.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.methods.is_empty() || self.batch_sizes.contains(&0) || self.steps == 0 {
            bail!(
                "--methods must name a method, --batch-sizes be at least 1 and --steps at least 1"
            );
        }
        if self.device_counts.is_empty() || self.device_counts.contains(&0) {
            bail!("--device-counts lists device counts of at least 1, e.g. 1,2");
        }
        if self.input.host_only && self.device_counts != [1] {
            bail!("--host-only runs on one (noop) device: leave --device-counts out");
        }
        if self.channels == 0 || !self.channels.is_multiple_of(2) || self.layers < 3 {
            bail!("--channels must be even and --layers at least 3");
        }
        Ok(())
    }
}
