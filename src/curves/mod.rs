//! A run's curves: the scalars of each epoch (losses, accuracies, learning rate, and how the
//! architecture moved), kept in `curves.json`, drawn to `curves.svg` after every epoch, and
//! logged as TensorBoard events; `ista-nas plot` overlays the curves of several runs.

pub mod svg;
pub mod tensorboard;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{IstaError, Result};
use crate::search_space::genotype::Genotype;
use crate::search_space::primitives::STEPS;

/// Tag of the weight learning rate.
pub const LR: &str = "lr";
/// Tag of the number of (op, input) picks that changed since the previous epoch.
pub const CHANGED_PICKS: &str = "architecture/changed_picks";
/// Prefix of the per-node ‖z_new − z_old‖₂ tags (`delta_z/normal_0` … `delta_z/reduce_3`).
pub const DELTA_Z: &str = "delta_z/";

/// One epoch's scalars, by tag (`loss/train`, `accuracy/val`, `lr`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochScalars {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Values by tag; accuracies are fractions.
    pub values: BTreeMap<String, f64>,
}

/// The curves of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunCurves {
    /// What ran, e.g. `search (ista)`, `train`, `one-stage search`.
    pub kind: String,
    /// The split scored after each epoch: `val` (search) or `test`.
    pub held_out: String,
    /// One entry per finished epoch.
    pub epochs: Vec<EpochScalars>,
}

/// Tag of a loss (`train` or the held-out split).
pub fn loss_tag(split: &str) -> String {
    format!("loss/{split}")
}

/// Tag of a top-1 accuracy (`train` or the held-out split).
pub fn accuracy_tag(split: &str) -> String {
    format!("accuracy/{split}")
}

/// Picks of `next` absent from the same node of `previous`, over both cells.
pub fn changed_picks(previous: &Genotype, next: &Genotype) -> usize {
    let changed = |a: &[(String, usize)], b: &[(String, usize)]| {
        a.chunks(2)
            .zip(b.chunks(2))
            .map(|(old, new)| new.iter().filter(|pick| !old.contains(pick)).count())
            .sum::<usize>()
    };
    changed(&previous.normal, &next.normal) + changed(&previous.reduce, &next.reduce)
}

/// Name of node `i` of the 2·STEPS nodes (normal cell first).
pub fn node_name(i: usize) -> String {
    let cell = if i < STEPS { "normal" } else { "reduce" };
    format!("{cell}_{}", i % STEPS)
}

/// Builds a run's curves epoch by epoch (each run kind's records know their scalars).
pub struct CurvesBuilder {
    /// The curves so far.
    pub curves: RunCurves,
}

impl CurvesBuilder {
    /// No epochs yet, of a run of `kind` scored on `held_out`.
    pub fn new(kind: String, held_out: &str) -> Self {
        Self {
            curves: RunCurves {
                kind,
                held_out: held_out.into(),
                epochs: Vec::new(),
            },
        }
    }

    /// Starts epoch `epoch` with its losses, accuracies and learning rate.
    pub fn epoch(&mut self, epoch: usize, train: (f64, f64), held_out: (f64, f64), lr: f64) {
        let split = self.curves.held_out.clone();
        let values = BTreeMap::from([
            (loss_tag("train"), train.0),
            (accuracy_tag("train"), train.1),
            (loss_tag(&split), held_out.0),
            (accuracy_tag(&split), held_out.1),
            (LR.to_string(), lr),
        ]);
        self.curves.epochs.push(EpochScalars { epoch, values });
    }

    /// Adds `tag` to the last epoch.
    pub fn add(&mut self, tag: String, value: f64) {
        if let Some(last) = self.curves.epochs.last_mut() {
            last.values.insert(tag, value);
        }
    }
}

impl RunCurves {
    /// The values of `tag` as (epoch, value) points, in epoch order.
    pub fn series(&self, tag: &str) -> Vec<(f64, f64)> {
        self.epochs
            .iter()
            .filter_map(|e| Some((e.epoch as f64, *e.values.get(tag)?)))
            .collect()
    }

    /// Every tag that some epoch holds, sorted.
    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .epochs
            .iter()
            .flat_map(|e| e.values.keys().cloned())
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }

    /// Reads the `curves.json` of the run folder `dir`.
    pub fn load(dir: &Path) -> Result<RunCurves> {
        let path = dir.join("curves.json");
        let text = std::fs::read_to_string(&path).map_err(|source| IstaError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text)
            .map_err(|e| IstaError::Plot(format!("{} is not a curves file: {e}", path.display())))
    }
}
