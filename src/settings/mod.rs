//! Settings shared by search, one-stage and train runs: groups flattened into each run's
//! settings (so `config.json` keeps flat keys), their range checks, and the presets.

pub mod bounds;
pub mod presets;

use serde::{Deserialize, Serialize};

use crate::data::DataFormat;
use crate::data::augment::Normalization;
use bounds::{first, fraction, non_negative, positive, some_at_least};

/// The largest cutout side: larger than any protocol's input.
pub const MAX_CUTOUT: usize = 1024;

/// Where a run's images come from and how they are prepared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSettings {
    /// Data folder; `None` for the embedded Fashion-MNIST subset.
    #[serde(rename = "data")]
    pub folder: Option<String>,
    /// Layout of `data` (detected when `None`).
    pub format: Option<DataFormat>,
    /// Use at most this many training images; `None`: all.
    pub train_images: Option<usize>,
    /// Classes, when stated on purpose (`--classes`); `None`: as the data names them.
    #[serde(default)]
    pub classes: Option<usize>,
    /// Per-channel normalisation of the input (absent in older checkpoints: statistics of the
    /// training images).
    #[serde(default)]
    pub norm: Option<Normalization>,
    /// Cutout side (`None`: no cutout).
    pub cutout: Option<usize>,
}

impl DataSettings {
    /// What makes these settings unusable; `None` when they are fine.
    pub fn problem(&self) -> Option<String> {
        first([
            some_at_least("--train-images", self.train_images, 1),
            some_at_least("--classes", self.classes, 2),
            self.cutout
                .and_then(|s| bounds::within("--cutout", s, 1, MAX_CUTOUT)),
        ])
    }
}

/// The weights' SGD: rate, schedule end, momentum, weight decay and clipping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SgdSettings {
    /// Learning rate the run uses (the schedule's peak).
    pub lr: f64,
    /// Final learning rate of the cosine schedule.
    pub lr_min: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// SGD weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f32,
}

impl SgdSettings {
    /// What makes these settings unusable; `None` when they are fine.
    pub fn problem(&self) -> Option<String> {
        first([
            positive("--lr", self.lr),
            non_negative("--lr-min", self.lr_min),
            (self.lr_min > self.lr).then(|| {
                format!(
                    "--lr-min ({}) must not exceed --lr ({})",
                    self.lr_min, self.lr
                )
            }),
            fraction("--momentum", self.momentum),
            non_negative("--weight-decay", self.weight_decay),
            positive("--grad-clip", f64::from(self.grad_clip)),
        ])
    }
}

/// Adam of the architecture parameters (b; α and β in DARTS / PC-DARTS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchSettings {
    /// Adam learning rate.
    pub arch_lr: f64,
    /// Adam β₁.
    pub arch_beta1: f32,
    /// Adam β₂.
    pub arch_beta2: f32,
    /// Adam weight decay.
    pub arch_weight_decay: f64,
}

impl ArchSettings {
    /// What makes these settings unusable; `None` when they are fine.
    pub fn problem(&self) -> Option<String> {
        first([
            positive("--arch-lr", self.arch_lr),
            fraction("--arch-beta1", f64::from(self.arch_beta1)),
            fraction("--arch-beta2", f64::from(self.arch_beta2)),
            non_negative("--arch-weight-decay", self.arch_weight_decay),
        ])
    }
}
