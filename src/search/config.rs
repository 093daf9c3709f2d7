//! Every setting of a search, saved with each run and checkpoint (docs/method.md §2–4 defaults).

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::model::skeleton::shape_problem;
use crate::optim::cosine_lr;
use crate::search_space::primitives::PRIMITIVES;
use crate::settings::bounds::{at_least, first, non_negative, positive, within};
use crate::settings::presets::{self, PresetCommand};
use crate::settings::{ArchSettings, DataSettings, SgdSettings};
use crate::sparse::measurement::MeasurementKind;
use crate::sparse::recovery::RecoverySolver;

/// The search method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Two-stage ISTA-NAS: sparse recovery once per epoch, only the supported ops run.
    #[default]
    Ista,
    /// DARTS, first order: softmax over all 8 ops on every edge.
    Darts,
    /// PC-DARTS: 1/K of the channels through the mixed op, channel shuffle, edge normalisation.
    PcDarts,
}

impl Method {
    /// The name the CLI takes.
    pub fn name(self) -> &'static str {
        match self {
            Method::Ista => "ista",
            Method::Darts => "darts",
            Method::PcDarts => "pc-darts",
        }
    }
}

/// What a search's `lr` means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrScaling {
    /// `lr` is the rate the run uses.
    None,
    /// `lr` is the rate at batch 256, scaled linearly with the batch size (runs saved before
    /// settings said which: their `config.json` has no `lr_scaling`).
    #[default]
    Linear,
}

/// Settings of a search (ISTA-NAS, DARTS or PC-DARTS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// The search method (absent in older checkpoints: ISTA-NAS).
    #[serde(default)]
    pub method: Method,
    /// PC-DARTS's K: 1/K of the channels go through the mixed op.
    #[serde(default = "default_partial")]
    pub partial_channels: usize,
    /// The images: folder, layout, counts, normalisation, cutout (off in search).
    #[serde(flatten)]
    pub data: DataSettings,
    /// Initial channels C.
    pub channels: usize,
    /// Cells L.
    pub layers: usize,
    /// Rows m of each measurement matrix.
    pub m: usize,
    /// Active ops per node s.
    pub sparsity: usize,
    /// LASSO weight λ.
    pub lambda: f64,
    /// How A is drawn.
    pub measurement: MeasurementKind,
    /// Which solver recovers z.
    pub solver: RecoverySolver,
    /// Epochs.
    pub epochs: usize,
    /// Images per batch (train and val).
    pub batch_size: usize,
    /// The weights' SGD (`lr` as `lr_scaling` says; `lr_min` is never scaled).
    #[serde(flatten)]
    pub sgd: SgdSettings,
    /// What `lr` means.
    #[serde(default)]
    pub lr_scaling: LrScaling,
    /// Adam of b (α and β in DARTS / PC-DARTS).
    #[serde(flatten)]
    pub arch: ArchSettings,
    /// Epochs at the start without architecture steps (PC-DARTS's reference warm-up: 15).
    #[serde(default)]
    pub arch_warmup_epochs: usize,
    /// Minutes between mid-epoch checkpoints (`None`: at epoch ends only).
    #[serde(default)]
    pub checkpoint_every: Option<f64>,
    /// Seed of weights, A, b (or α) and data order.
    pub seed: u64,
}

/// Candidates of the first node of a cell (2 inputs × 7 ops): the most ops a node can keep,
/// and the most rows a measurement of it can have.
pub const SMALLEST_NODE: usize = 2 * PRIMITIVES.len();

fn default_partial() -> usize {
    4
}

impl SearchConfig {
    /// Built-in preset `name` (`quick` or `paper`, presets/search-*.json) for `method`.
    pub fn preset(name: &str, method: Method) -> Option<Self> {
        let map = presets::built_in(PresetCommand::Search, name, Some(method.name()))?;
        let mut c: Self =
            presets::settings(map, name).expect("built-in presets parse (tests/presets.rs)");
        c.method = method;
        Some(c)
    }

    /// The paper's search (C=16, L=8, 50 epochs, batch 256; presets/search-paper.json).
    pub fn paper() -> Self {
        Self::preset("paper", Method::Ista).expect("built-in")
    }

    /// A short real search on the embedded data that fits a CPU (presets/search-quick.json).
    pub fn quick() -> Self {
        Self::preset("quick", Method::Ista).expect("built-in")
    }

    /// What makes these settings unusable, in the CLI's option names; `None` when they are fine.
    pub fn problem(&self) -> Option<String> {
        if let Some(problem) = first([
            at_least("--epochs", self.epochs, 1),
            shape_problem(self.channels, self.layers, self.batch_size),
            at_least("--partial-channels", self.partial_channels, 1),
            within("--m", self.m, 1, SMALLEST_NODE),
            within("--sparsity", self.sparsity, 1, SMALLEST_NODE),
            non_negative("--lambda", self.lambda),
            self.data.problem(),
            self.sgd.problem(),
            self.arch.problem(),
            self.checkpoint_every
                .and_then(|m| positive("--checkpoint-every", m)),
        ]) {
            return Some(problem);
        }
        let k = self.partial_channels;
        if self.method == Method::PcDarts && (k == 0 || !self.channels.is_multiple_of(2 * k)) {
            return Some(format!(
                "pc-darts sends C/K channels through each op and halves them in FactorizedReduce: \
                 --channels ({}) must be a multiple of 2·K (K = --partial-channels = {k})",
                self.channels
            ));
        }
        if self.arch_warmup_epochs >= self.epochs {
            return Some(format!(
                "--arch-warmup-epochs ({}) must be fewer than --epochs ({}): the architecture would never train",
                self.arch_warmup_epochs, self.epochs
            ));
        }
        None
    }

    /// The rate the weights start at: `lr`, or `lr · batch / 256` under linear scaling.
    pub fn peak_lr(&self) -> f64 {
        match self.lr_scaling {
            LrScaling::None => self.sgd.lr,
            LrScaling::Linear => self.sgd.lr * self.batch_size as f64 / 256.0,
        }
    }

    /// The weight learning rate of `epoch` (from 0): cosine from `peak_lr` to `lr_min`,
    /// stepped at the start of each epoch as the reference does, so epoch e trains at η(e + 1)
    /// and the last epoch at `lr_min`.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        cosine_lr(self.peak_lr(), self.sgd.lr_min, epoch + 1, self.epochs)
    }

    /// True when `epoch` (from 0) takes architecture steps (after the warm-up).
    pub fn arch_steps_in(&self, epoch: usize) -> bool {
        epoch >= self.arch_warmup_epochs
    }
}
