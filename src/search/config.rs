//! Every setting of a search, saved with each run and checkpoint (docs/method.md §2–4 defaults).

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::data::DataFormat;
use crate::data::augment::Normalization;
use crate::model::skeleton::shape_problem;
use crate::optim::cosine_lr;
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

/// Settings of a search (ISTA-NAS, DARTS or PC-DARTS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// The search method (absent in older checkpoints: ISTA-NAS).
    #[serde(default)]
    pub method: Method,
    /// PC-DARTS's K: 1/K of the channels go through the mixed op.
    #[serde(default = "default_partial")]
    pub partial_channels: usize,
    /// Data folder; `None` for the embedded Fashion-MNIST subset.
    pub data: Option<String>,
    /// Layout of `data` (detected when `None`).
    pub format: Option<DataFormat>,
    /// Use at most this many training images (before the train/val halving); `None`: all.
    pub train_images: Option<usize>,
    /// Classes, when stated on purpose (`--classes`); `None`: as the data names them.
    #[serde(default)]
    pub classes: Option<usize>,
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
    /// Weight learning rate at batch 256 (scaled linearly with the batch size).
    pub lr: f64,
    /// Final weight learning rate of the cosine schedule (not scaled: the reference's η_min).
    pub lr_min: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// SGD weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip of the weight step.
    pub grad_clip: f32,
    /// Adam learning rate of the architecture parameters (b; α and β in DARTS / PC-DARTS).
    pub arch_lr: f64,
    /// Adam β₁ of the architecture parameters.
    pub arch_beta1: f32,
    /// Adam β₂ of the architecture parameters.
    pub arch_beta2: f32,
    /// Adam weight decay of the architecture parameters.
    pub arch_weight_decay: f64,
    /// Epochs at the start without architecture steps (PC-DARTS's reference warm-up: 15).
    #[serde(default)]
    pub arch_warmup_epochs: usize,
    /// Per-channel normalisation of the input (absent in older checkpoints: statistics of the
    /// training half, as before).
    #[serde(default)]
    pub norm: Option<Normalization>,
    /// Cutout side (None: no cutout, as in search).
    pub cutout: Option<usize>,
    /// Seed of weights, A, b (or α) and data order.
    pub seed: u64,
}

fn default_partial() -> usize {
    4
}

impl SearchConfig {
    /// The paper's search (C=16, L=8, 50 epochs, batch 256) on the given data.
    pub fn paper() -> Self {
        Self {
            method: Method::Ista,
            partial_channels: default_partial(),
            data: None,
            format: None,
            train_images: None,
            classes: None,
            channels: 16,
            layers: 8,
            m: 7,
            sparsity: 2,
            lambda: 1e-5,
            measurement: MeasurementKind::Uniform,
            solver: RecoverySolver::Cpu,
            epochs: 50,
            batch_size: 256,
            lr: 0.1,
            lr_min: 0.001,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            arch_lr: 6e-4,
            arch_beta1: 0.5,
            arch_beta2: 0.999,
            arch_weight_decay: 1e-3,
            arch_warmup_epochs: 0,
            norm: None,
            cutout: None,
            seed: 0,
        }
    }

    /// A short real search on the embedded data that fits a CPU-only machine (lavapipe): about
    /// 5 minutes on 2 cores. b starts at 1e-3·N(0, 1), so with the paper's rates a few dozen
    /// steps leave every w near 1e-3 and nothing is learned; this preset raises the weight
    /// learning rate (0.8 at batch 256, 0.1 at its batch 32) and b's Adam rate (0.03).
    pub fn quick() -> Self {
        Self {
            channels: 4,
            layers: 5,
            epochs: 3,
            batch_size: 32,
            train_images: Some(1024),
            lr: 0.8,
            arch_lr: 0.03,
            ..Self::paper()
        }
    }

    /// `self` for `method` with that method's published settings: DARTS at batch 64 with α's
    /// Adam at lr 3e-4; PC-DARTS at batch 256 with lr 6e-4, no architecture steps in its first
    /// 15 epochs, and C a multiple of 2K. The weight learning rate per image is the same for all
    /// three (0.1 at batch 256, 0.025 at 64); η_min is 0.001 for all, whatever the batch.
    pub fn for_method(self, method: Method, paper: bool) -> Self {
        let mut c = Self { method, ..self };
        match (method, paper) {
            (Method::Ista, _) => {}
            (Method::Darts, true) => {
                c.batch_size = 64;
                c.arch_lr = 3e-4;
            }
            (Method::PcDarts, true) => {
                c.arch_lr = 6e-4;
                c.arch_warmup_epochs = 15;
            }
            (Method::Darts, false) => {}
            (Method::PcDarts, false) => c.channels = c.channels.max(2 * c.partial_channels),
        }
        c
    }

    /// What makes these settings unusable, in the CLI's option names; `None` when they are fine.
    pub fn problem(&self) -> Option<String> {
        if self.epochs == 0 {
            return Some("--epochs must be at least 1".into());
        }
        if let Some(problem) = shape_problem(self.channels, self.layers, self.batch_size) {
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
        if self.m == 0 || self.sparsity == 0 {
            return Some("--m and --sparsity must be at least 1".into());
        }
        if self.arch_warmup_epochs >= self.epochs {
            return Some(format!(
                "--arch-warmup-epochs ({}) must be fewer than --epochs ({}): the architecture would never train",
                self.arch_warmup_epochs, self.epochs
            ));
        }
        None
    }

    /// The weight learning rate of `epoch` (from 0): cosine from `lr · batch / 256` to `lr_min`,
    /// stepped at the start of each epoch as the reference does, so epoch e trains at η(e + 1)
    /// and the last epoch at `lr_min`.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        let peak = self.lr * self.batch_size as f64 / 256.0;
        cosine_lr(peak, self.lr_min, epoch + 1, self.epochs)
    }

    /// True when `epoch` (from 0) takes architecture steps (after the warm-up).
    pub fn arch_steps_in(&self, epoch: usize) -> bool {
        epoch >= self.arch_warmup_epochs
    }
}
