//! Every setting of training a genotype from scratch (docs/method.md §6 defaults), saved with each run
//! and checkpoint.

use serde::{Deserialize, Serialize};

use crate::model::eval_network::EvalConfig;
use crate::model::heads::NetKind;
use crate::model::skeleton::shape_problem;
use crate::optim::cosine_lr;
use crate::search_space::genotype::Genotype;
use crate::settings::bounds::{
    at_least, first, fraction, non_negative, positive, some_at_least, within,
};
use crate::settings::presets::{self, PresetCommand};
use crate::settings::{DataSettings, SgdSettings};

/// The last epochs of the warm-up-linear schedule, which decay with a smaller slope (the
/// reference ImageNet script: "lr · 1/250 is relatively large").
const TAIL_EPOCHS: f64 = 5.0;

/// Learning-rate schedule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Cosine from `lr` to `lr_min` over the epochs (CIFAR).
    Cosine,
    /// Linear warm-up over `warmup_epochs`, then linear decay to 0, slower over the last 5
    /// epochs (ImageNet, as the reference script).
    WarmupLinear,
}

/// Settings of one training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The architecture.
    pub genotype: Genotype,
    /// The images: folder, layout, counts, normalisation, cutout (CIFAR protocol).
    #[serde(flatten)]
    pub data: DataSettings,
    /// Use at most this many test images; `None`: all.
    pub test_images: Option<usize>,
    /// CIFAR or ImageNet network and protocol.
    pub kind: NetKind,
    /// Initial channels C.
    pub channels: usize,
    /// Cells L.
    pub layers: usize,
    /// Auxiliary head weight (0: no auxiliary head).
    pub auxiliary_weight: f64,
    /// One-stage style network: extra BN after pool and identity ops.
    pub extra_norms: bool,
    /// Final drop-path probability (rises linearly from 0 over the epochs).
    pub drop_path: f64,
    /// Epochs.
    pub epochs: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// SGD: peak rate, final rate of the cosine, momentum, weight decay, clipping.
    #[serde(flatten)]
    pub sgd: SgdSettings,
    /// Schedule of the learning rate.
    pub schedule: Schedule,
    /// Warm-up epochs of the warm-up-linear schedule.
    pub warmup_epochs: usize,
    /// Label smoothing of the cross-entropy (0: none).
    pub label_smoothing: f64,
    /// Network input side (32 CIFAR, 224 ImageNet).
    pub image_size: usize,
    /// ImageNet evaluation: resize the short side to this, then centre-crop `image_size`.
    pub eval_resize: usize,
    /// ImageNet training: colour-jitter strength (brightness, contrast, saturation; hue is half).
    pub colour_jitter: f32,
    /// Minutes between mid-epoch checkpoints (`None`: at epoch ends only).
    #[serde(default)]
    pub checkpoint_every: Option<f64>,
    /// Seed of weights, data order, augmentation and drop path.
    pub seed: u64,
}

/// The largest network input side.
pub const MAX_IMAGE_SIZE: usize = 1024;

impl TrainConfig {
    /// Built-in preset `name` (`quick`, `cifar` or `imagenet`, presets/train-*.json) for `genotype`.
    pub fn preset(name: &str, genotype: Genotype) -> Option<Self> {
        let mut map = presets::built_in(PresetCommand::Train, name, None)?;
        map.insert("genotype".into(), serde_json::to_value(genotype).ok()?);
        Some(presets::settings(map, name).expect("built-in presets parse (tests/presets.rs)"))
    }

    /// The CIFAR-10 protocol (docs/method.md §6; presets/train-cifar.json).
    pub fn cifar(genotype: Genotype) -> Self {
        Self::preset("cifar", genotype).expect("built-in")
    }

    /// The ImageNet protocol (docs/method.md §6; presets/train-imagenet.json).
    pub fn imagenet(genotype: Genotype) -> Self {
        Self::preset("imagenet", genotype).expect("built-in")
    }

    /// A short run of a small CIFAR-style net on the embedded data (presets/train-quick.json).
    pub fn quick(genotype: Genotype) -> Self {
        Self::preset("quick", genotype).expect("built-in")
    }

    /// What makes these settings unusable, in the CLI's option names; `None` when they are fine.
    pub fn problem(&self) -> Option<String> {
        first([
            at_least("--epochs", self.epochs, 1),
            shape_problem(self.channels, self.layers, self.batch_size),
            some_at_least("--test-images", self.test_images, 1),
            non_negative("--auxiliary-weight", self.auxiliary_weight),
            fraction("--drop-path", self.drop_path),
            fraction("--label-smoothing", self.label_smoothing),
            (self.schedule == Schedule::WarmupLinear && self.warmup_epochs >= self.epochs).then(
                || {
                    format!(
                        "--warmup-epochs ({}) must be fewer than --epochs ({})",
                        self.warmup_epochs, self.epochs
                    )
                },
            ),
            within("--image-size", self.image_size, 8, MAX_IMAGE_SIZE),
            (self.eval_resize < self.image_size).then(|| {
                format!(
                    "the evaluation resize ({}) must be at least --image-size ({})",
                    self.eval_resize, self.image_size
                )
            }),
            (!(0.0..=1.0).contains(&self.colour_jitter)).then(|| {
                format!(
                    "colour_jitter must lie in [0, 1]; got {}",
                    self.colour_jitter
                )
            }),
            self.data.problem(),
            self.sgd.problem(),
            self.checkpoint_every
                .and_then(|m| positive("--checkpoint-every", m)),
        ])
    }

    /// The network this run trains, for `classes` classes of `in_channels`-channel images.
    pub fn network(&self, classes: usize, in_channels: usize) -> EvalConfig {
        EvalConfig {
            kind: self.kind,
            genotype: self.genotype.clone(),
            channels: self.channels,
            layers: self.layers,
            classes,
            in_channels,
            auxiliary: self.auxiliary_weight > 0.0,
            extra_norms: self.extra_norms,
        }
    }

    /// The learning rate of `epoch` (from 0), as the reference scripts set it. Cosine: their
    /// scheduler steps at the start of each epoch, so epoch e trains at η(e + 1) and the last
    /// at `lr_min`. Warm-up-linear (the ImageNet script): `lr · (e + 1) / warmup` during the
    /// warm-up, then `lr · (E − 5 − e) / (E − 5)`, and for the last 5 epochs the smaller slope
    /// `lr · (E − e) / (5 · (E − 5))`.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            Schedule::Cosine => cosine_lr(self.sgd.lr, self.sgd.lr_min, epoch + 1, self.epochs),
            Schedule::WarmupLinear if epoch < self.warmup_epochs => {
                self.sgd.lr * (epoch + 1) as f64 / self.warmup_epochs as f64
            }
            Schedule::WarmupLinear => {
                let (e, total) = (epoch as f64, self.epochs as f64);
                let decay = (total - TAIL_EPOCHS).max(1.0);
                if total - e > TAIL_EPOCHS {
                    self.sgd.lr * (total - TAIL_EPOCHS - e) / decay
                } else {
                    self.sgd.lr * (total - e) / (decay * TAIL_EPOCHS)
                }
            }
        }
    }

    /// The drop-path probability of `epoch` (from 0): `drop_path · epoch / epochs`.
    pub fn drop_path_at(&self, epoch: usize) -> f64 {
        self.drop_path * epoch as f64 / self.epochs.max(1) as f64
    }
}
