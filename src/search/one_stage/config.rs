//! Every setting of a one-stage ISTA-NAS run (docs/method.md §5 defaults, as the authors' code runs
//! them), saved with the run and its checkpoint.

use serde::{Deserialize, Serialize};

use crate::model::skeleton::shape_problem;
use crate::optim::cosine_lr;
use crate::search::config::SMALLEST_NODE;
use crate::settings::bounds::{
    at_least, first, fraction, non_negative, positive, some_at_least, within,
};
use crate::settings::presets::{self, PresetCommand};
use crate::settings::{ArchSettings, DataSettings, SgdSettings};
use crate::sparse::measurement::MeasurementKind;

/// Settings of a one-stage search-and-train run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneStageConfig {
    /// The images: folder, layout, counts, normalisation (statistics of the training images
    /// unless the data is CIFAR-10), cutout.
    #[serde(flatten)]
    pub data: DataSettings,
    /// Use at most this many test images; `None`: all.
    pub test_images: Option<usize>,
    /// Initial channels C (the target network's).
    pub channels: usize,
    /// Cells L (the target network's).
    pub layers: usize,
    /// Rows m of each measurement matrix.
    pub m: usize,
    /// LASSO weight λ.
    pub lambda: f64,
    /// How A is drawn.
    pub measurement: MeasurementKind,
    /// Most epochs of the search phase; nodes still active then are frozen as they are.
    pub search_epochs: usize,
    /// Epochs of training once the architecture is fixed.
    pub epochs: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// The weights' SGD: `lr` constant while searching, the start of the cosine after.
    #[serde(flatten)]
    pub sgd: SgdSettings,
    /// Adam of b.
    #[serde(flatten)]
    pub arch: ArchSettings,
    /// A node freezes when its z moves by at most this (L2) over an epoch.
    pub epsilon: f64,
    /// A candidate architecture whose evaluation network has at least this many parameters
    /// (auxiliary head excluded) is rejected.
    pub max_params: u64,
    /// Auxiliary head weight (0: no auxiliary head).
    pub auxiliary_weight: f64,
    /// Final drop-path probability of the training phase (rises linearly from 0).
    pub drop_path: f64,
    /// Minutes between mid-epoch checkpoints (`None`: at epoch ends only).
    #[serde(default)]
    pub checkpoint_every: Option<f64>,
    /// Seed of weights, A, b, data order, augmentation and drop path.
    pub seed: u64,
}

/// Active ops per node: a one-stage network folds into an evaluation cell of two picks per node.
pub const SPARSITY: usize = 2;

impl OneStageConfig {
    /// Built-in preset `name` (`quick` or `paper`, presets/one-stage-*.json).
    pub fn preset(name: &str) -> Option<Self> {
        let map = presets::built_in(PresetCommand::OneStage, name, None)?;
        Some(presets::settings(map, name).expect("built-in presets parse (tests/presets.rs)"))
    }

    /// The authors' one-stage run (presets/one-stage-paper.json).
    pub fn paper() -> Self {
        Self::preset("paper").expect("built-in")
    }

    /// A short real run on the embedded data for a CPU (presets/one-stage-quick.json).
    pub fn quick() -> Self {
        Self::preset("quick").expect("built-in")
    }

    /// What makes these settings unusable, in the CLI's option names; `None` when they are fine.
    pub fn problem(&self) -> Option<String> {
        first([
            at_least("--search-epochs", self.search_epochs, 1),
            shape_problem(self.channels, self.layers, self.batch_size),
            within("--m", self.m, 1, SMALLEST_NODE),
            non_negative("--lambda", self.lambda),
            some_at_least("--test-images", self.test_images, 1),
            non_negative("--epsilon", self.epsilon),
            (self.max_params == 0).then(|| "--max-params must be at least 1".to_string()),
            non_negative("--auxiliary-weight", self.auxiliary_weight),
            fraction("--drop-path", self.drop_path),
            self.data.problem(),
            self.sgd.problem(),
            self.arch.problem(),
            self.checkpoint_every
                .and_then(|m| positive("--checkpoint-every", m)),
        ])
    }

    /// The weight learning rate of training epoch `epoch` (from 0) once the architecture is
    /// fixed: cosine from `lr` to `lr_min` over `epochs`. The reference one-stage script steps
    /// its scheduler at the end of each training epoch, so epoch e trains at η(e), the first at
    /// `lr`. While searching it is `lr`.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        cosine_lr(self.sgd.lr, self.sgd.lr_min, epoch, self.epochs)
    }

    /// The drop-path probability of training epoch `epoch` (from 0): `drop_path · epoch / epochs`.
    pub fn drop_path_at(&self, epoch: usize) -> f64 {
        self.drop_path * epoch as f64 / self.epochs.max(1) as f64
    }
}
