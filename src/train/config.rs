//! Every setting of training a genotype from scratch (docs/method.md §6 defaults), saved with each run
//! and checkpoint.

use serde::{Deserialize, Serialize};

use crate::data::DataFormat;
use crate::data::augment::Normalization;
use crate::genotype::Genotype;
use crate::model::eval_network::{EvalConfig, NetKind};
use crate::optim::cosine_lr;

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
    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate of the cosine schedule.
    pub lr_min: f64,
    /// Schedule of the learning rate.
    pub schedule: Schedule,
    /// Warm-up epochs of the warm-up-linear schedule.
    pub warmup_epochs: usize,
    /// SGD momentum.
    pub momentum: f64,
    /// SGD weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f32,
    /// Label smoothing of the cross-entropy (0: none).
    pub label_smoothing: f64,
    /// Cutout side (CIFAR protocol).
    pub cutout: Option<usize>,
    /// Network input side (32 CIFAR, 224 ImageNet).
    pub image_size: usize,
    /// ImageNet evaluation: resize the short side to this, then centre-crop `image_size`.
    pub eval_resize: usize,
    /// ImageNet training: colour-jitter strength (brightness, contrast, saturation; hue is half).
    pub colour_jitter: f32,
    /// Per-channel normalisation of the input (absent in older checkpoints: statistics of the
    /// training images, as before).
    #[serde(default)]
    pub norm: Option<Normalization>,
    /// Seed of weights, data order, augmentation and drop path.
    pub seed: u64,
}

impl TrainConfig {
    /// The CIFAR-10 protocol (docs/method.md §6): C=36, L=20, 600 epochs, batch 96, cosine from 0.025.
    pub fn cifar(genotype: Genotype) -> Self {
        Self {
            genotype,
            data: None,
            format: None,
            train_images: None,
            test_images: None,
            classes: None,
            kind: NetKind::Cifar,
            channels: 36,
            layers: 20,
            auxiliary_weight: 0.4,
            extra_norms: false,
            drop_path: 0.2,
            epochs: 600,
            batch_size: 96,
            lr: 0.025,
            lr_min: 0.0,
            schedule: Schedule::Cosine,
            warmup_epochs: 0,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            label_smoothing: 0.0,
            cutout: Some(16),
            image_size: 32,
            eval_resize: 32,
            colour_jitter: 0.0,
            norm: None,
            seed: 0,
        }
    }

    /// The ImageNet protocol (docs/method.md §6): C=48, L=14, 250 epochs, batch 1024, lr 0.5 with 5
    /// warm-up epochs then linear decay, wd 3e-5, label smoothing 0.1, random-resized crop 224,
    /// flip and colour jitter; evaluation resizes to 256 and centre-crops 224.
    pub fn imagenet(genotype: Genotype) -> Self {
        Self {
            kind: NetKind::Imagenet,
            channels: 48,
            layers: 14,
            drop_path: 0.0,
            epochs: 250,
            batch_size: 1024,
            lr: 0.5,
            schedule: Schedule::WarmupLinear,
            warmup_epochs: 5,
            weight_decay: 3e-5,
            label_smoothing: 0.1,
            cutout: None,
            image_size: 224,
            eval_resize: 256,
            colour_jitter: 0.4,
            ..Self::cifar(genotype)
        }
    }

    /// A short run of a small CIFAR-style net on the embedded data (C=4, L=5, 3 epochs of
    /// 1,024 images, batch 32, lr 0.1, no auxiliary head, cutout or drop path: at C=4 the
    /// auxiliary head would hold 40 times the parameters of the network).
    pub fn quick(genotype: Genotype) -> Self {
        Self {
            channels: 4,
            layers: 5,
            epochs: 3,
            batch_size: 32,
            train_images: Some(1024),
            lr: 0.1,
            auxiliary_weight: 0.0,
            drop_path: 0.0,
            cutout: None,
            ..Self::cifar(genotype)
        }
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
            Schedule::Cosine => cosine_lr(self.lr, self.lr_min, epoch + 1, self.epochs),
            Schedule::WarmupLinear if epoch < self.warmup_epochs => {
                self.lr * (epoch + 1) as f64 / self.warmup_epochs as f64
            }
            Schedule::WarmupLinear => {
                let (e, total) = (epoch as f64, self.epochs as f64);
                let decay = (total - TAIL_EPOCHS).max(1.0);
                if total - e > TAIL_EPOCHS {
                    self.lr * (total - TAIL_EPOCHS - e) / decay
                } else {
                    self.lr * (total - e) / (decay * TAIL_EPOCHS)
                }
            }
        }
    }

    /// The drop-path probability of `epoch` (from 0): `drop_path · epoch / epochs`.
    pub fn drop_path_at(&self, epoch: usize) -> f64 {
        self.drop_path * epoch as f64 / self.epochs.max(1) as f64
    }
}
