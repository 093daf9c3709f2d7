//! Checkpoint and run folder of a training run: `config.json`, `metrics.csv`, `genotype.json`,
//! the cell drawings, `best.model` / `last.model` with their SafeTensors exports, and
//! `checkpoint.bin` (settings, position, history, model and optimiser), all written atomically.

use crate::storage::records::{load_module, load_optimiser, module_bytes, optimiser_bytes};
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::trainer::{TrainRecord, Trainer};
use crate::curves::{CurvesBuilder, RunCurves};
use crate::error::{IstaError, Result};
use crate::search_space::genotype::Genotype;
use crate::step_metrics::EpochPosition;
use crate::storage::checkpoint::{RunCheckpoint, RunHeader};
use crate::storage::framed::FrameKind;
use crate::storage::model_file::{export_safetensors, save_model};
use crate::storage::run_dir::RunDir;

const KIND: FrameKind = FrameKind {
    magic: b"ISTATRN\x01",
    name: "ista-nas training checkpoint",
};

/// Columns of a training run's metrics.csv.
pub const TRAIN_METRICS_HEADER: &str = "epoch,train_loss,train_acc,test_loss,test_acc,test_top5,lr,drop_path,seconds,peak_memory_bytes";

/// Everything but the binary records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainCheckpointHeader {
    /// Settings of the run.
    pub config: TrainConfig,
    /// Class names of the data.
    pub class_names: Vec<String>,
    /// Epochs completed.
    pub epochs_done: usize,
    /// Where the epoch after those stopped, in a mid-epoch checkpoint.
    #[serde(default)]
    pub position: Option<EpochPosition>,
    /// Per-epoch records so far.
    pub history: Vec<TrainRecord>,
}

/// A full training checkpoint: settings, position and history; model and optimiser records.
pub type TrainCheckpoint = RunCheckpoint<TrainCheckpointHeader, 2>;

impl RunHeader for TrainCheckpointHeader {
    type Config = TrainConfig;
    type Record = TrainRecord;
    const KIND: FrameKind = KIND;

    fn config(&self) -> &TrainConfig {
        &self.config
    }

    fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    fn set_epochs(&mut self, epochs: usize) {
        self.config.epochs = epochs;
    }

    fn history(&self) -> &[TrainRecord] {
        &self.history
    }

    fn position(&self) -> Option<EpochPosition> {
        self.position
    }

    fn problem(&self) -> Option<String> {
        self.config.genotype.validate().err().map(|e| e.to_string())
    }
}

/// Writes the trained genotype and its drawings into a new run folder.
pub fn write_genotype(run: &RunDir, genotype: &Genotype) -> Result<()> {
    run.write("genotype.json", genotype.to_json().as_bytes())?;
    run.write_drawings(genotype)
}

/// Index of the best epoch of `history` by test top-1 (the earliest among equals).
pub fn best_epoch(history: &[TrainRecord]) -> Option<usize> {
    history
        .iter()
        .enumerate()
        .max_by(|(ia, a), (ib, b)| a.test.top1.total_cmp(&b.test.top1).then(ib.cmp(ia)))
        .map(|(i, _)| i)
}

impl Trainer {
    /// Where a paused epoch stopped (`None` between epochs).
    pub fn position(&self) -> Option<EpochPosition> {
        self.position
    }

    /// Continues from a checkpoint, at its epoch or mid-epoch position.
    pub fn restore(&mut self, checkpoint: TrainCheckpoint) -> Result<()> {
        let [model, optim] = checkpoint.records;
        self.model = load_module(self.model.clone(), model, "model")?;
        self.optim = load_optimiser(&self.optim, optim, "optimiser")?;
        self.epochs_done = checkpoint.header.epochs_done;
        self.position = checkpoint.header.position;
        Ok(())
    }

    /// Everything needed to resume, with the run's `history`.
    pub fn checkpoint(&self, history: &[TrainRecord]) -> Result<TrainCheckpoint> {
        let model = module_bytes(&self.model, "model")?;
        let optim = optimiser_bytes(&self.optim, "optimiser")?;
        Ok(TrainCheckpoint {
            header: TrainCheckpointHeader {
                config: self.config.clone(),
                class_names: self.class_names.clone(),
                epochs_done: self.epochs_done,
                position: self.position(),
                history: history.to_vec(),
            },
            records: [model, optim],
        })
    }

    /// Writes the metrics, the last model (and the best when the last epoch is the best so
    /// far) with their exports, then the checkpoint.
    pub fn write_epoch(&self, run: &RunDir, history: &[TrainRecord]) -> Result<()> {
        let mut csv = format!("{TRAIN_METRICS_HEADER}\n");
        for r in history {
            let peak = r
                .peak_memory_bytes
                .map(|b| b.to_string())
                .unwrap_or_default();
            csv.push_str(&format!(
                "{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.4},{:.2},{}\n",
                r.epoch,
                r.train_loss,
                r.train_acc,
                r.test.loss,
                r.test.top1,
                r.test.top5,
                r.lr,
                r.drop_path,
                r.seconds,
                peak
            ));
        }
        run.write("metrics.csv", csv.as_bytes())?;
        if let Some(last) = history.last() {
            let model = self.eval_model();
            let header = self.model_header(last.test);
            save_model(&run.path.join("last.model"), &header, &model)?;
            export_safetensors(&run.path.join("last.safetensors"), &header, &model)?;
            if best_epoch(history) == Some(history.len() - 1) {
                run.copy("last.model", "best.model")?;
                run.copy("last.safetensors", "best.safetensors")?;
            }
        }
        self.checkpoint(history)?
            .save(&run.checkpoint_path())
            .map_err(IstaError::from)
    }
}

/// The curves of a training run: losses and accuracies on train and test, the learning rate.
pub fn train_curves(history: &[TrainRecord]) -> RunCurves {
    let mut b = CurvesBuilder::new("train".into(), "test");
    for r in history {
        b.epoch(
            r.epoch,
            (r.train_loss, r.train_acc),
            (r.test.loss, r.test.top1),
            r.lr,
        );
    }
    b.curves
}
