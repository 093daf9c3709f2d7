//! The one checkpoint shell of every run kind: a header (settings, position, history) that
//! names its file kind, and the binary records (model, optimisers, architecture), in the
//! framed file format, written atomically.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::step_metrics::EpochPosition;
use crate::storage::framed::{self, FileError, FrameKind};

/// What a run kind's checkpoint header provides.
pub trait RunHeader: Serialize + DeserializeOwned {
    /// The settings type of the run.
    type Config: Clone;
    /// One epoch's record.
    type Record: Clone;
    /// The file kind (signature and name).
    const KIND: FrameKind;
    /// The settings of the run.
    fn config(&self) -> &Self::Config;
    /// Epochs the checkpoint holds.
    fn epochs_done(&self) -> usize;
    /// The records of those epochs.
    fn history(&self) -> &[Self::Record];
    /// Where the next epoch stopped, in a mid-epoch checkpoint.
    fn position(&self) -> Option<EpochPosition>;
    /// The epochs of those that `--epochs` counts (a one-stage run's: its training epochs).
    fn counted_epochs_done(&self) -> usize {
        self.epochs_done()
    }
    /// Sets the run's `--epochs` (`--resume DIR --epochs N` extends a run).
    fn set_epochs(&mut self, epochs: usize);
    /// What makes a header read from disk unusable beyond its JSON shape; `None` when fine.
    fn problem(&self) -> Option<String> {
        None
    }
}

/// A checkpoint: the header and `N` binary records.
#[derive(Clone, Debug, PartialEq)]
pub struct RunCheckpoint<H, const N: usize> {
    /// Settings, position and history.
    pub header: H,
    /// Binary records (Burn's format).
    pub records: [Vec<u8>; N],
}

impl<H: RunHeader, const N: usize> RunCheckpoint<H, N> {
    /// Writes atomically to `path`.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        framed::save(path, H::KIND, &self.header, &self.records)
    }

    /// Reads and checks a checkpoint.
    pub fn load(path: &Path) -> Result<Self, FileError> {
        Self::parse(&framed::read(path)?, path)
    }

    /// Checks the bytes of a checkpoint (`path` names it in errors).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, FileError> {
        let (header, records): (H, _) = framed::parse_exact(bytes, path, H::KIND)?;
        if let Some(why) = header.problem() {
            return Err(FileError::Corrupt {
                path: path.into(),
                kind: H::KIND.name,
                why,
            });
        }
        Ok(Self { header, records })
    }

    /// True when the file at `path` has this kind's signature.
    pub fn is_at(path: &Path) -> bool {
        framed::has_signature(path, H::KIND)
    }
}
