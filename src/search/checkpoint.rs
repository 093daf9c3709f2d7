//! One checkpoint holds everything a search needs to resume: settings, position, history,
//! the model and its architecture parameters (with BN running statistics), and both optimisers' states, in the
//! project's framed file format (written atomically). Also the run folder's per-epoch files:
//! `metrics.csv`, `genotype.json` (final genotype and per-epoch history), the cell drawings and
//! `supernet.safetensors`.

use serde::{Deserialize, Serialize};

use burn::tensor::Device;

use super::config::SearchConfig;
use super::supernet_file::SUPERNET_FILE;
use super::trainer::{EpochRecord, Searcher, ValCursor};
use crate::curves::{CHANGED_PICKS, CurvesBuilder, RunCurves, changed_picks};
use crate::data::Dataset;
use crate::error::{IstaError, Result};
use crate::search_space::genotype::Genotype;
use crate::step_metrics::EpochPosition;
use crate::storage::checkpoint::{RunCheckpoint, RunHeader};
use crate::storage::framed::FrameKind;
use crate::storage::records::{load_optimiser, optimiser_bytes};
use crate::storage::run_dir::RunDir;

/// Format 3: the supernets share the evaluation networks' stem (format 2 had its own layout).
const KIND: FrameKind = FrameKind {
    magic: b"ISTANAS\x03",
    name: "ista-nas search checkpoint",
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
    /// Where the epoch after those stopped, in a mid-epoch checkpoint.
    #[serde(default)]
    pub position: Option<EpochPosition>,
    /// The paused epoch's fixed state (ISTA-NAS: each node's z on its support).
    #[serde(default)]
    pub epoch_state: Option<Vec<Vec<f64>>>,
    /// Per-epoch records so far.
    pub history: Vec<EpochRecord>,
}

/// A full checkpoint: settings, position and history; model, architecture (b or α),
/// weight-optimiser and architecture-optimiser records (Burn's binary format).
pub type Checkpoint = RunCheckpoint<CheckpointHeader, 4>;

impl RunHeader for CheckpointHeader {
    type Config = SearchConfig;
    type Record = EpochRecord;
    const KIND: FrameKind = KIND;

    fn config(&self) -> &SearchConfig {
        &self.config
    }

    fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    fn set_epochs(&mut self, epochs: usize) {
        self.config.epochs = epochs;
    }

    fn history(&self) -> &[EpochRecord] {
        &self.history
    }

    fn position(&self) -> Option<EpochPosition> {
        self.position
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
                position: self.position,
                epoch_state: self.position.and_then(|_| self.net.epoch_state()),
                history: history.to_vec(),
            },
            records,
        })
    }

    /// `supernet.safetensors` now (see [`crate::search::supernet_file`]), after the epochs of
    /// `history`.
    pub fn supernet_file(&self, history: &[EpochRecord]) -> Result<Vec<u8>> {
        let genotype = history.last().map(|r| &r.genotype);
        self.net.reference_tensors()?.file_bytes(
            self.config.method.name(),
            self.epochs_done,
            &self.network,
            self.config.seed,
            genotype,
        )
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
        search.position = checkpoint.header.position;
        if let Some(state) = &checkpoint.header.epoch_state {
            search.net.restore_epoch_state(state, &search.device)?;
        }
        Ok(search)
    }
}

/// One entry of genotype.json's history.
#[derive(Serialize)]
struct EpochGenotype<'a> {
    epoch: usize,
    genotype: &'a Genotype,
}

/// Writes the metrics, genotypes and drawings of `history` and `supernet` (the bytes of
/// `supernet.safetensors`), then the checkpoint.
pub fn write_epoch(
    run: &RunDir,
    history: &[EpochRecord],
    supernet: &[u8],
    checkpoint: &Checkpoint,
) -> Result<()> {
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
    run.write(SUPERNET_FILE, supernet)?;
    checkpoint
        .save(&run.checkpoint_path())
        .map_err(IstaError::from)
}

/// The curves of a two-stage ISTA-NAS, DARTS or PC-DARTS search (`method` names it): losses
/// and accuracies on train and val, the learning rate, and from epoch 2 the picks that changed.
pub fn search_curves(method: &str, history: &[EpochRecord]) -> RunCurves {
    let mut b = CurvesBuilder::new(format!("search ({method})"), "val");
    for (i, r) in history.iter().enumerate() {
        b.epoch(
            r.epoch,
            (r.train_loss, r.train_acc),
            (r.val_loss, r.val_acc),
            r.lr,
        );
        if i > 0 {
            let changed = changed_picks(&history[i - 1].genotype, &r.genotype);
            b.add(CHANGED_PICKS.into(), changed as f64);
        }
    }
    b.curves
}
