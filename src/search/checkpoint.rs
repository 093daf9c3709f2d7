//! One checkpoint holds everything a search needs to resume: settings, position, history,
//! the model and its architecture parameters (with BN running statistics), and both optimisers' states, in the
//! project's framed file format (written atomically). Also the run folder's per-epoch files:
//! `metrics.csv`, `genotype.json` (final genotype and per-epoch history) and the cell drawings.

use std::path::Path;

use serde::{Deserialize, Serialize};

use burn::tensor::Device;

use super::config::SearchConfig;
use super::trainer::{EpochRecord, Searcher, ValCursor};
use crate::data::Dataset;
use crate::error::{IstaError, Result};
use crate::framed::{self, FrameKind};
use crate::genotype::Genotype;
use crate::records::{load_optimiser, optimiser_bytes};
use crate::run_dir::RunDir;

/// Why a checkpoint could not be written or read.
pub use crate::framed::FileError as CheckpointError;

/// Format 3: the supernets share the evaluation networks' stem (format 2 had its own layout).
const KIND: FrameKind = FrameKind {
    magic: b"ISTANAS\x03",
    name: "search checkpoint",
};

/// Columns of metrics.csv.
pub const METRICS_HEADER: &str = "epoch,train_loss,train_acc,val_loss,val_acc,lr,supports,seconds,peak_memory_bytes,recovery_unconverged";

/// Everything but the binary records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    /// Settings of the run.
    pub config: SearchConfig,
    /// Epochs completed.
    pub epochs_done: usize,
    /// Position of the val iterator.
    pub val_cursor: ValCursor,
    /// Per-epoch records so far.
    pub history: Vec<EpochRecord>,
}

/// A full checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Settings, position and history.
    pub header: CheckpointHeader,
    /// Model, architecture (b or α), weight-optimiser and architecture-optimiser records (Burn's binary format).
    pub records: [Vec<u8>; 4],
}

impl Checkpoint {
    /// Writes atomically to `path`.
    pub fn save(&self, path: &Path) -> std::result::Result<(), CheckpointError> {
        framed::save(path, KIND, &self.header, &self.records)
    }

    /// Reads and checks a checkpoint.
    pub fn load(path: &Path) -> std::result::Result<Checkpoint, CheckpointError> {
        Self::parse(&framed::read(path)?, path)
    }

    /// Checks the bytes of a checkpoint (`path` names it in errors).
    pub fn parse(bytes: &[u8], path: &Path) -> std::result::Result<Checkpoint, CheckpointError> {
        let (header, records) = framed::parse_exact(bytes, path, KIND)?;
        Ok(Checkpoint { header, records })
    }
}

impl Searcher {
    /// Everything needed to resume, with the run's `history`.
    pub fn checkpoint(&self, history: &[EpochRecord]) -> Result<Checkpoint> {
        let [model, arch] = self.net.records()?;
        let records = [
            model,
            arch,
            optimiser_bytes(&self.weight_optim, "weight optimiser")?,
            optimiser_bytes(&self.arch_optim, "b optimiser")?,
        ];
        Ok(Checkpoint {
            header: CheckpointHeader {
                config: self.config.clone(),
                epochs_done: self.epochs_done,
                val_cursor: self.val_cursor,
                history: history.to_vec(),
            },
            records,
        })
    }

    /// Continues from a checkpoint, with the same data halves the run used.
    pub fn resume(
        checkpoint: Checkpoint,
        train: Dataset,
        val: Dataset,
        classes: usize,
        device: &Device,
    ) -> Result<Self> {
        let mut search = Searcher::new(
            checkpoint.header.config.clone(),
            train,
            val,
            classes,
            device,
        )?;
        let [model, arch, weight_optim, arch_optim] = checkpoint.records;
        search.net.restore([model, arch], &search.device)?;
        search.weight_optim =
            load_optimiser(&search.weight_optim, weight_optim, "weight optimiser")?;
        search.arch_optim = load_optimiser(&search.arch_optim, arch_optim, "b optimiser")?;
        search.epochs_done = checkpoint.header.epochs_done;
        search.val_cursor = checkpoint.header.val_cursor;
        Ok(search)
    }
}

/// One entry of genotype.json's history.
#[derive(Serialize)]
struct EpochGenotype<'a> {
    epoch: usize,
    genotype: &'a Genotype,
}

/// Writes the metrics, genotypes and drawings of `history`, then the checkpoint.
pub fn write_epoch(run: &RunDir, history: &[EpochRecord], checkpoint: &Checkpoint) -> Result<()> {
    let mut csv = format!("{METRICS_HEADER}\n");
    for r in history {
        let peak = r
            .peak_memory_bytes
            .map(|b| b.to_string())
            .unwrap_or_default();
        csv.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.6},{},{:.2},{},{}\n",
            r.epoch,
            r.train_loss,
            r.train_acc,
            r.val_loss,
            r.val_acc,
            r.lr,
            r.supports,
            r.seconds,
            peak,
            r.recovery_unconverged
        ));
    }
    run.write("metrics.csv", csv.as_bytes())?;
    if let Some(last) = history.last() {
        let epochs: Vec<EpochGenotype> = history
            .iter()
            .map(|r| EpochGenotype {
                epoch: r.epoch,
                genotype: &r.genotype,
            })
            .collect();
        run.write_genotypes(&last.genotype, &epochs)?;
    }
    checkpoint
        .save(&run.checkpoint_path())
        .map_err(IstaError::from)
}
