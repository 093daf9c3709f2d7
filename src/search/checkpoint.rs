//! One checkpoint holds everything a search needs to resume: settings, position, history,
//! the model and b (with BN running statistics), and both optimisers' states. Written to a
//! temporary file, synced, then renamed, so a crash never leaves a half-written checkpoint.
//!
//! Layout: `ISTANAS\x01`, u64 (LE) header length, JSON header, then the four binary records.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};

use super::config::SearchConfig;
use super::trainer::{EpochRecord, Searcher, ValCursor};
use crate::data::Dataset;
use crate::error::IstaError;

const MAGIC: &[u8; 8] = b"ISTANAS\x01";

/// Why a checkpoint could not be written or read.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// File-system error.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a checkpoint, truncated, or from an incompatible version.
    #[error("{path} is not a usable checkpoint: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

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
    /// Byte lengths of the model, b, weight-optimiser and b-optimiser records.
    pub record_lengths: [usize; 4],
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
        let io = |source| CheckpointError::Io {
            path: path.into(),
            source,
        };
        let header = serde_json::to_vec(&self.header).expect("the header always serialises");
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(MAGIC).map_err(io)?;
        file.write_all(&(header.len() as u64).to_le_bytes())
            .map_err(io)?;
        file.write_all(&header).map_err(io)?;
        for record in &self.records {
            file.write_all(record).map_err(io)?;
        }
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads and checks a checkpoint.
    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.into(),
            source,
        })?;
        let corrupt = |why: String| CheckpointError::Corrupt {
            path: path.into(),
            why,
        };
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(corrupt("no ista-nas checkpoint signature".into()));
        }
        let header_len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
        let body = &bytes[16..];
        if body.len() < header_len {
            return Err(corrupt(format!(
                "header of {header_len} bytes, only {} present",
                body.len()
            )));
        }
        let header: CheckpointHeader = serde_json::from_slice(&body[..header_len])
            .map_err(|e| corrupt(format!("bad header: {e}")))?;
        let mut rest = &body[header_len..];
        let expected: usize = header.record_lengths.iter().sum();
        if rest.len() != expected {
            return Err(corrupt(format!(
                "{} record bytes, expected {expected} (truncated?)",
                rest.len()
            )));
        }
        let records = header.record_lengths.map(|len| {
            let (record, tail) = rest.split_at(len);
            rest = tail;
            record.to_vec()
        });
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
                record_lengths: records.each_ref().map(Vec::len),
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
            .load_record(record(model).map_err(bad("model"))?);
        search.arch = search.arch.load_record(record(arch).map_err(bad("b"))?);
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
