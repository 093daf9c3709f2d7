//! TensorBoard event files in a run's `tensorboard/` folder: every epoch's scalars, appended
//! (and flushed) as the epoch ends, so `tensorboard --logdir runs` shows a run live. A resumed
//! run opens a new event file and logs only the epochs after its checkpoint.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use syntaxdot_summary::SummaryWriter;

use super::RunCurves;
use crate::error::{IstaError, Result};

/// The event log of one process's share of a run.
pub struct EventLog {
    writer: SummaryWriter<BufWriter<File>>,
    logged: usize,
}

impl EventLog {
    /// A new event file in the `tensorboard/` folder of the run folder `run`, for the epochs
    /// after the first `logged` (those a resumed run logged before).
    pub fn create(run: &Path, logged: usize) -> Result<Self> {
        let prefix = run.join("tensorboard").join("events");
        let writer = SummaryWriter::from_prefix(&prefix).map_err(|source| IstaError::Io {
            path: prefix,
            source,
        })?;
        Ok(Self { writer, logged })
    }

    /// Logs the epochs of `curves` not logged yet, each scalar at its epoch as the step.
    pub fn log(&mut self, curves: &RunCurves) -> Result<()> {
        for epoch in curves.epochs.iter().skip(self.logged) {
            for (tag, value) in &epoch.values {
                self.writer
                    .write_scalar(tag.as_str(), epoch.epoch as i64, *value as f32)
                    .map_err(|e| IstaError::Plot(format!("tensorboard event file: {e}")))?;
            }
        }
        self.logged = curves.epochs.len();
        Ok(())
    }
}
