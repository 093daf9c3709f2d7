//! Every setting of a one-stage ISTA-NAS run (docs/method.md §5 defaults, as the authors' code runs
//! them), saved with the run and its checkpoint.

use serde::{Deserialize, Serialize};

use crate::data::DataFormat;
use crate::data::augment::Normalization;
use crate::model::skeleton::shape_problem;
use crate::optim::cosine_lr;
use crate::sparse::measurement::MeasurementKind;

/// Settings of a one-stage search-and-train run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneStageConfig {
    /// Data folder; `None` for the embedded Fashion-MNIST subset.
    pub data: Option<String>,
    /// Layout of `data` (detected when `None`).
    pub format: Option<DataFormat>,
    /// Use at most this many training images; `None`: all.
    pub train_images: Option<usize>,
    /// Use at most this many test images; `None`: all.
    pub test_images: Option<usize>,
    /// Classes, when stated on purpose (`--classes`); `None`: as the data names them.
    #[serde(default)]
    pub classes: Option<usize>,
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
    /// Weight learning rate: constant while searching, the start of the cosine after.
    pub lr: f64,
    /// Final learning rate of the cosine schedule.
    pub lr_min: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// SGD weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip of the weights.
    pub grad_clip: f32,
    /// Adam learning rate of b.
    pub arch_lr: f64,
    /// Adam β₁ of b.
    pub arch_beta1: f32,
    /// Adam β₂ of b.
    pub arch_beta2: f32,
    /// Adam weight decay of b.
    pub arch_weight_decay: f64,
    /// A node freezes when its z moves by at most this (L2) over an epoch.
    pub epsilon: f64,
    /// A candidate architecture whose evaluation network has at least this many parameters
    /// (auxiliary head excluded) is rejected.
    pub max_params: u64,
    /// Auxiliary head weight (0: no auxiliary head).
    pub auxiliary_weight: f64,
    /// Final drop-path probability of the training phase (rises linearly from 0).
    pub drop_path: f64,
    /// Cutout side.
    pub cutout: Option<usize>,
    /// Per-channel normalisation of the input (statistics of the training images unless the
    /// data is CIFAR-10; absent in older checkpoints).
    #[serde(default)]
    pub norm: Option<Normalization>,
    /// Seed of weights, A, b, data order, augmentation and drop path.
    pub seed: u64,
}

/// Active ops per node: a one-stage network folds into an evaluation cell of two picks per node.
pub const SPARSITY: usize = 2;

impl OneStageConfig {
    /// The authors' one-stage run: the target network (C=36, L=20, auxiliary head 0.4, cutout
    /// 16) at batch 96, SGD lr 0.025, up to 600 search epochs, then 600 epochs of cosine to
    /// 0.001 with drop path rising to 0.2; b by Adam (lr 6e-4); ε = 1e-3; 3.7M parameters at most.
    pub fn paper() -> Self {
        Self {
            data: None,
            format: None,
            train_images: None,
            test_images: None,
            classes: None,
            channels: 36,
            layers: 20,
            m: 7,
            lambda: 1e-5,
            measurement: MeasurementKind::Uniform,
            search_epochs: 600,
            epochs: 600,
            batch_size: 96,
            lr: 0.025,
            lr_min: 0.001,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            arch_lr: 6e-4,
            arch_beta1: 0.5,
            arch_beta2: 0.999,
            arch_weight_decay: 1e-3,
            epsilon: 1e-3,
            max_params: 3_700_000,
            auxiliary_weight: 0.4,
            drop_path: 0.2,
            cutout: Some(16),
            norm: None,
            seed: 0,
        }
    }

    /// A short real run on the embedded data for a CPU (about 1.5 minutes on 2 cores): C=4, L=5
    /// on 1,024 images at batch 32, at most 8 search epochs, then 4 training epochs; no
    /// auxiliary head (at C=4 it would dwarf the network), cutout or drop path. The rates are
    /// raised so that a few hundred steps learn something (weights 0.1, b 3e-3), and ε to 1e-2:
    /// z then moves by 1e-3 to 1e-1 per epoch, and some nodes converge within the 8 epochs.
    pub fn quick() -> Self {
        Self {
            train_images: Some(1024),
            channels: 4,
            layers: 5,
            search_epochs: 8,
            epochs: 4,
            batch_size: 32,
            lr: 0.1,
            arch_lr: 3e-3,
            epsilon: 1e-2,
            auxiliary_weight: 0.0,
            drop_path: 0.0,
            cutout: None,
            ..Self::paper()
        }
    }

    /// What makes these settings unusable, in the CLI's option names; `None` when they are fine.
    pub fn problem(&self) -> Option<String> {
        if self.search_epochs == 0 {
            return Some("--search-epochs must be at least 1".into());
        }
        if let Some(problem) = shape_problem(self.channels, self.layers, self.batch_size) {
            return Some(problem);
        }
        if self.m == 0 {
            return Some("--m must be at least 1".into());
        }
        if !(self.epsilon >= 0.0 && self.epsilon.is_finite()) {
            return Some("--epsilon must be a finite number of at least 0".into());
        }
        None
    }

    /// The weight learning rate of training epoch `epoch` (from 0) once the architecture is
    /// fixed: cosine from `lr` to `lr_min` over `epochs`. The reference one-stage script steps
    /// its scheduler at the end of each training epoch, so epoch e trains at η(e), the first at
    /// `lr`. While searching it is `lr`.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        cosine_lr(self.lr, self.lr_min, epoch, self.epochs)
    }

    /// The drop-path probability of training epoch `epoch` (from 0): `drop_path · epoch / epochs`.
    pub fn drop_path_at(&self, epoch: usize) -> f64 {
        self.drop_path * epoch as f64 / self.epochs.max(1) as f64
    }
}
