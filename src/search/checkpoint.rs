//! One checkpoint holds everything a search needs to resume: settings, position, history,
//! the model and b (with BN running statistics), and both optimisers' states, in the
//! project's framed file format (written atomically).

use std::path::Path;

use serde::{Deserialize, Serialize};

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};

use super::config::SearchConfig;
use super::trainer::{EpochRecord, Searcher, ValCursor};
use crate::data::Dataset;
use crate::error::IstaError;
use crate::framed::{self, FrameKind};

/// Why a checkpoint could not be written or read.
pub use crate::framed::FileError as CheckpointError;

const KIND: FrameKind = FrameKind {
    magic: b"ISTANAS\x02",
    name: "search checkpoint",
};

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
    /// Model, b, weight-optimiser and b-optimiser records (Burn's binary format).
    pub records: [Vec<u8>; 4],
}

impl Checkpoint {
    /// Writes atomically to `path`.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        framed::save(path, KIND, &self.header, &self.records)
    }

    /// Reads and checks a checkpoint.
    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let (header, records) = framed::load(path, KIND)?;
        let records: [Vec<u8>; 4] =
            records
                .try_into()
                .map_err(|r: Vec<Vec<u8>>| CheckpointError::Corrupt {
                    path: path.into(),
                    kind: KIND.name,
                    why: format!("{} records, expected 4", r.len()),
                })?;
        Ok(Checkpoint { header, records })
    }
}

impl Searcher {
    /// Everything needed to resume, with the run's `history`.
    pub fn checkpoint(&self, history: &[EpochRecord]) -> crate::error::Result<Checkpoint> {
        let kernel = |what: &str| {
            let what = what.to_string();
            move |e: burn::store::RecordError| IstaError::Checkpoint(format!("{what}: {e:?}"))
        };
        let records = [
            self.model
                .clone()
                .into_record()
                .into_bytes()
                .map_err(kernel("model"))?
                .to_vec(),
            self.arch
                .clone()
                .into_record()
                .into_bytes()
                .map_err(kernel("b"))?
                .to_vec(),
            self.weight_optim
                .into_bytes()
                .map_err(kernel("weight optimiser"))?
                .to_vec(),
            self.arch_optim
                .into_bytes()
                .map_err(kernel("b optimiser"))?
                .to_vec(),
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
    ) -> crate::error::Result<Self> {
        let mut search = Searcher::new(
            checkpoint.header.config.clone(),
            train,
            val,
            classes,
            device,
        )?;
        let bad = |what: &'static str| {
            move |e: burn::store::RecordError| IstaError::Checkpoint(format!("{what}: {e:?}"))
        };
        let [model, arch, weight_optim, arch_optim] = checkpoint.records;
        let record = |bytes: Vec<u8>| ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes));
        search.model = search
            .model
            .try_load_record(record(model).map_err(bad("model"))?)
            .map_err(bad("model"))?;
        search.arch = search
            .arch
            .try_load_record(record(arch).map_err(bad("b"))?)
            .map_err(bad("b"))?;
        search.weight_optim = search
            .weight_optim
            .from_bytes(Bytes::from_bytes_vec(weight_optim))
            .map_err(bad("weight optimiser"))?;
        search.arch_optim = search
            .arch_optim
            .from_bytes(Bytes::from_bytes_vec(arch_optim))
            .map_err(bad("b optimiser"))?;
        search.epochs_done = checkpoint.header.epochs_done;
        search.val_cursor = checkpoint.header.val_cursor;
        search.supports = search.architect.recover(&search.arch, &search.device)?;
        Ok(search)
    }
}
