//! Training a genotype from scratch (docs/method.md §6): an explicit loop of SGD steps with the auxiliary
//! loss, drop path, gradient clipping and a per-epoch schedule; after each epoch, the test
//! scores in eval mode.

use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::evaluate::evaluate;
use crate::data::Dataset;
use crate::data::augment::{Augment, Normalization};
use crate::data::loader::{BatchPlan, EpochLoader, mix};
use crate::data::stream::ImageSet;
use crate::devices::adapter::peak_pool_bytes;
use crate::devices::parallel::{DataParallel, ShareLoss};
use crate::error::Result;
use crate::model::drop_path::DropPath;
use crate::model::eval_network::{EvalConfig, EvalNetwork};
use crate::model::heads::NetKind;
use crate::optim::{Optimiser, StepReport, sgd};
use crate::step_metrics::{
    EpochEnd, EpochPosition, StepControl, StepMetrics, StepOutcome, right_on_device,
};
use crate::storage::model_file::{ModelHeader, Scores};

/// What one epoch produced (a row of metrics.csv).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss (main head, with label smoothing when set).
    pub train_loss: f64,
    /// Training top-1 accuracy.
    pub train_acc: f64,
    /// Test-set scores, eval mode.
    pub test: Scores,
    /// Learning rate of the epoch.
    pub lr: f64,
    /// Drop-path probability of the epoch.
    pub drop_path: f64,
    /// Wall-clock seconds (steps and evaluation).
    pub seconds: f64,
    /// Peak bytes of the device's memory pools, when the device reports them.
    pub peak_memory_bytes: Option<u64>,
}

/// A training run in progress.
pub struct Trainer {
    /// Settings.
    pub config: TrainConfig,
    /// Training device (autodiff).
    pub device: Device,
    /// The network.
    pub model: EvalNetwork,
    /// SGD with momentum.
    pub optim: Optimiser,
    /// Epochs completed.
    pub epochs_done: usize,
    /// The network's shape.
    pub network: EvalConfig,
    /// Class names.
    pub class_names: Vec<String>,
    train: Arc<dyn ImageSet>,
    test: Arc<dyn ImageSet>,
    train_plan: BatchPlan,
    test_plan: BatchPlan,
    loss: CrossEntropyLoss,
    parallel: DataParallel<EvalNetwork>,
    /// Where a paused epoch stopped.
    pub(super) position: Option<EpochPosition>,
}

impl Trainer {
    /// A fresh run on `train`, scored on `test`. The weights come from the device's RNG seeded
    /// with the run's seed; runs built concurrently in one process share that RNG.
    pub fn new(
        config: TrainConfig,
        train: Dataset,
        test: Dataset,
        class_names: Vec<String>,
        device: &Device,
    ) -> Self {
        let norm = config
            .data
            .norm
            .clone()
            .unwrap_or_else(|| train.normalization());
        Self::on_images(
            config,
            (Arc::new(train), Arc::new(test)),
            class_names,
            norm,
            device,
        )
    }

    /// A fresh run on any image sets (such as ImageFolder trees streamed from disk),
    /// normalised with `norm`.
    pub fn on_images(
        config: TrainConfig,
        (train, test): (Arc<dyn ImageSet>, Arc<dyn ImageSet>),
        class_names: Vec<String>,
        norm: Normalization,
        device: &Device,
    ) -> Self {
        let device = device.clone().autodiff();
        device.seed(config.seed);
        let (train_augment, test_augment) = match config.kind {
            NetKind::Cifar => (
                Augment::train(config.image_size, config.data.cutout),
                Augment::plain(config.image_size),
            ),
            NetKind::Imagenet => {
                let mut augment = Augment::imagenet_train(config.image_size, config.colour_jitter);
                augment.cutout = config.data.cutout;
                (
                    augment,
                    Augment::imagenet_eval(config.eval_resize, config.image_size),
                )
            }
        };
        let train_plan = BatchPlan {
            batch_size: config.batch_size,
            shuffle: true,
            augment: train_augment,
            norm,
        };
        let test_plan = BatchPlan {
            shuffle: false,
            augment: test_augment,
            ..train_plan.clone()
        };
        let network = config.network(class_names.len(), train.channels());
        let model = EvalNetwork::new(&network, &device);
        let optim = sgd(config.sgd.momentum, config.sgd.weight_decay);
        let smoothing = (config.label_smoothing > 0.0).then_some(config.label_smoothing as f32);
        let loss = CrossEntropyLossConfig::new()
            .with_smoothing(smoothing)
            .init(&device);
        let parallel = DataParallel::new(vec![device.clone()], |_| unreachable!());
        Self {
            config,
            device,
            model,
            optim,
            epochs_done: 0,
            network,
            class_names,
            train,
            test,
            train_plan,
            test_plan,
            loss,
            parallel,
            position: None,
        }
    }

    /// Splits each batch over `others` as well as the run's device (synchronous data
    /// parallel: one replica per further device, gradients summed into one step).
    pub fn use_devices(&mut self, others: &[Device]) {
        let mut devices = vec![self.device.clone()];
        devices.extend(others.iter().map(|d| d.clone().autodiff()));
        let network = self.network.clone();
        self.parallel = DataParallel::new(devices, |d| EvalNetwork::new(&network, d));
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.train_plan.batches(self.train.len())
    }

    /// Runs the next epoch, or the rest of a paused one; `progress` sees every step and may
    /// pause the epoch after it (see [`EpochEnd`]).
    pub fn run_epoch(
        &mut self,
        progress: &mut dyn FnMut(StepReport) -> StepControl,
    ) -> Result<EpochEnd<TrainRecord>> {
        let start = Instant::now();
        let epoch = self.epochs_done;
        let (lr, drop_prob) = (self.config.lr_at(epoch), self.config.drop_path_at(epoch));
        let at = self.position.take().unwrap_or_default();
        let loader = EpochLoader::start(
            self.train.clone(),
            self.train_plan.clone(),
            self.config.seed,
            epoch as u64,
            at.batch,
        );
        let batches = self.batches_per_epoch();
        let mut metrics = StepMetrics::resume(epoch + 1, "training", &at);
        for (index, batch) in (at.batch..).zip(loader) {
            let (x, y) = batch?.tensors(&self.device); // [B, C, H, W], [B]
            let count = y.dims()[0];
            let seed = mix(self.config.seed.wrapping_add(5), epoch as u64, index as u64);
            let (loss_fn, aux_weight) = (&self.loss, self.config.auxiliary_weight);
            let share = |model: &EvalNetwork, x: Tensor<4>, y: Tensor<1, Int>, device: usize| {
                let seed = if device == 0 {
                    seed
                } else {
                    mix(seed, device as u64, 1)
                };
                let (logits, aux) = model.forward_train(x, &mut DropPath::new(drop_prob, seed));
                let main = loss_fn.forward(logits.clone(), y.clone());
                let value = main.clone().inner();
                let correct = right_on_device(&logits, &y);
                let loss = match aux {
                    Some(aux) => main + loss_fn.forward(aux, y) * aux_weight,
                    None => main,
                };
                Ok(ShareLoss {
                    loss,
                    value,
                    correct,
                })
            };
            let step = self.parallel.gradients(&self.model, (x, y), &share)?;
            let clip = Some(self.config.sgd.grad_clip);
            let (model, norm) = self.optim.step(lr, self.model.clone(), step.grads, clip);
            self.model = model;
            metrics.add(StepOutcome {
                loss: step.loss,
                count,
                right: step.correct,
                norm,
            });
            if let Some(position) = metrics.pause_requested(index + 1, batches, progress)? {
                self.position = Some(position);
                return Ok(EpochEnd::Paused);
            }
        }
        let stats = metrics.finish()?;
        let test = self.evaluate(&mut |_, _| {});
        self.epochs_done += 1;
        Ok(EpochEnd::Done(TrainRecord {
            epoch: self.epochs_done,
            train_loss: stats.loss(),
            train_acc: stats.accuracy(),
            test,
            lr,
            drop_path: drop_prob,
            seconds: at.seconds + start.elapsed().as_secs_f64(),
            peak_memory_bytes: peak_pool_bytes(&self.device),
        }))
    }

    /// Test-set scores of the current weights in eval mode.
    pub fn evaluate(&self, progress: &mut dyn FnMut(usize, usize)) -> Scores {
        let inner = self.device.clone().inner();
        evaluate(
            &self.eval_model(),
            &self.test,
            &self.test_plan,
            &inner,
            progress,
        )
    }

    /// The model-file header of the current weights with `scores`.
    pub fn model_header(&self, scores: Scores) -> ModelHeader {
        ModelHeader {
            network: self.network.clone(),
            augment: self.test_plan.augment.clone(),
            norm: self.test_plan.norm.clone(),
            class_names: self.class_names.clone(),
            epoch: self.epochs_done,
            scores,
        }
    }

    /// The eval-mode network (plain device), for saving and export.
    pub fn eval_model(&self) -> EvalNetwork {
        self.model.valid()
    }
}
