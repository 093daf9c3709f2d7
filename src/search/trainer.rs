//! The two-stage search loop (Algorithm 1): recovery once per epoch, then per train batch an
//! architecture step on the next val batch and a weight step on the train batch.
//!
//! Ops outside a node's support take no part in the forward pass, so they get no gradient; the
//! optimisers skip parameters without a gradient entirely: their momentum buffers stay as they
//! were and no weight decay is applied to them (as PyTorch's SGD does for `grad is None`).

use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::architect::{ArchParams, Architect, EpochSupports};
use super::config::SearchConfig;
use crate::data::Dataset;
use crate::data::augment::{Augment, Normalization};
use crate::data::loader::{BatchPlan, EpochLoader};
use crate::device::peak_pool_bytes;
use crate::error::Result;
use crate::genotype::Genotype;
use crate::model::cell::NodeWeights;
use crate::model::network::{NetworkConfig, SearchNetwork};
use crate::optim::{StepReport, StepStats, clip_global_norm, sgd};

/// What one epoch produced (a row of metrics.csv).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss (weight steps).
    pub train_loss: f64,
    /// Training accuracy (weight steps).
    pub train_acc: f64,
    /// Loss on the whole val split, eval mode.
    pub val_loss: f64,
    /// Accuracy on the whole val split, eval mode.
    pub val_acc: f64,
    /// Weight learning rate of the epoch.
    pub lr: f64,
    /// Supports used during the epoch: `normal|reduce`, nodes separated by `;`, indices by spaces.
    pub supports: String,
    /// Wall-clock seconds of the epoch (steps and evaluation).
    pub seconds: f64,
    /// Peak bytes of the device's memory pools, when the device reports them.
    pub peak_memory_bytes: Option<u64>,
    /// Genotype recovered from b at the end of the epoch.
    pub genotype: Genotype,
    /// Recovery problems of that genotype whose solver did not converge (0 when all did).
    pub recovery_unconverged: usize,
}

/// Where the cycling val iterator stands: val pass number and next batch index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValCursor {
    /// Pass over the val split.
    pub pass: u64,
    /// Next batch in that pass.
    pub batch: usize,
}

/// A search in progress: model, architecture, optimisers, data and position.
pub struct Searcher {
    /// Settings.
    pub config: SearchConfig,
    /// Training device (autodiff).
    pub device: Device,
    /// The supernet.
    pub model: SearchNetwork,
    /// The architecture parameters b.
    pub arch: ArchParams,
    /// Measurement matrices and recovery.
    pub architect: Architect,
    /// SGD on the weights.
    pub weight_optim: ModuleOptimizer,
    /// Adam on b.
    pub arch_optim: ModuleOptimizer,
    /// Epochs completed.
    pub epochs_done: usize,
    /// Position of the val iterator.
    pub val_cursor: ValCursor,
    /// Supports for the next epoch.
    pub supports: EpochSupports,
    train: Arc<Dataset>,
    val: Arc<Dataset>,
    train_plan: BatchPlan,
    eval_plan: BatchPlan,
    loss: CrossEntropyLoss,
}

fn correct(logits: &Tensor<2>, labels: &Tensor<1, Int>) -> usize {
    let predicted = logits.clone().argmax(1).flatten::<1>(0, 1); // [B]
    predicted
        .equal(labels.clone())
        .int()
        .sum()
        .into_scalar::<i64>() as usize
}

impl Searcher {
    /// A fresh search on `train` (already the weight half) and `val` (the architecture half).
    pub fn new(
        config: SearchConfig,
        train: Dataset,
        val: Dataset,
        classes: usize,
        device: &Device,
    ) -> Result<Self> {
        let device = device.clone().autodiff();
        device.seed(config.seed);
        let (mean, std) = train.channel_stats();
        let norm = Normalization { mean, std };
        let size = train.height.max(train.width).max(32);
        let train_plan = BatchPlan {
            batch_size: config.batch_size,
            shuffle: true,
            augment: Augment::train(size, config.cutout),
            norm: norm.clone(),
        };
        let eval_plan = BatchPlan {
            shuffle: false,
            augment: Augment::plain(size),
            ..train_plan.clone()
        };
        let network = NetworkConfig {
            channels: config.channels,
            layers: config.layers,
            classes,
            in_channels: train.channels,
        };
        let model = SearchNetwork::new(&network, &device);
        let arch = ArchParams::new(config.m, config.seed.wrapping_add(2), &device);
        let architect = Architect::new(
            config.measurement,
            config.m,
            config.sparsity,
            config.lambda,
            config.solver,
            config.seed.wrapping_add(1),
        );
        let supports = architect.recover(&arch, &device)?;
        let weight_optim = sgd(config.momentum, config.weight_decay);
        let arch_optim = AdamConfig::new()
            .with_beta_1(config.arch_beta1)
            .with_beta_2(config.arch_beta2)
            .with_epsilon(1e-8)
            .with_weight_decay(Some(WeightDecayConfig::new(
                config.arch_weight_decay as f32,
            )))
            .init();
        let loss = CrossEntropyLossConfig::new().init(&device);
        Ok(Self {
            config,
            device,
            model,
            arch,
            architect,
            weight_optim,
            arch_optim,
            epochs_done: 0,
            val_cursor: ValCursor::default(),
            supports,
            train: Arc::new(train),
            val: Arc::new(val),
            train_plan,
            eval_plan,
            loss,
        })
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.train_plan.batches(self.train.len())
    }

    fn val_loader(&self) -> EpochLoader {
        let seed = self.config.seed.wrapping_add(3);
        EpochLoader::start(
            self.val.clone(),
            self.train_plan.clone(),
            seed,
            self.val_cursor.pass,
            self.val_cursor.batch,
        )
    }

    /// Runs the next epoch; `progress` sees every step.
    pub fn run_epoch(&mut self, progress: &mut dyn FnMut(StepReport)) -> Result<EpochRecord> {
        let start = Instant::now();
        let epoch = self.epochs_done;
        let lr = self.config.lr_at(epoch);
        let train = EpochLoader::start(
            self.train.clone(),
            self.train_plan.clone(),
            self.config.seed,
            epoch as u64,
            0,
        );
        let batches = self.batches_per_epoch();
        let mut val = self.val_loader();
        let mut stats = StepStats::default();
        for (index, batch) in train.enumerate() {
            // (a) architecture step on the next val batch (the val iterator cycles).
            let val_batch = match val.next() {
                Some(b) => b,
                None => {
                    self.val_cursor = ValCursor {
                        pass: self.val_cursor.pass + 1,
                        batch: 0,
                    };
                    val = self.val_loader();
                    val.next().expect("the val split holds at least one batch")
                }
            };
            self.val_cursor.batch += 1;
            let (x, y) = val_batch.tensors(&self.device);
            let (normal, reduce) = self.supports.weights(&self.arch, false);
            let logits = self.model.forward(x, &normal, &reduce, &mut 0)?;
            let grads =
                GradientsParams::from_grads(self.loss.forward(logits, y).backward(), &self.arch);
            self.arch = self
                .arch_optim
                .step(self.config.arch_lr, self.arch.clone(), grads);

            // (b) weight step on the train batch, with b fixed.
            let (x, y) = batch.tensors(&self.device);
            let count = y.dims()[0];
            let (normal, reduce) = self.supports.weights(&self.arch, true);
            let logits = self.model.forward(x, &normal, &reduce, &mut 0)?;
            let right = correct(&logits, &y);
            let loss = self.loss.forward(logits, y);
            stats.add(loss.clone().into_scalar::<f32>() as f64, count, right);
            let mut grads = GradientsParams::from_grads(loss.backward(), &self.model);
            clip_global_norm(&mut grads, &self.model, self.config.grad_clip);
            self.model = self.weight_optim.step(lr, self.model.clone(), grads);
            progress(stats.report(index + 1, batches));
        }
        let used = self.supports.clone();
        let (val_loss, val_acc) = self.evaluate(&self.val, &used)?;
        // The recovery after the epoch gives its genotype and the next epoch's supports.
        self.supports = self.architect.recover(&self.arch, &self.device)?;
        self.epochs_done += 1;
        let (normal, reduce) = used.supports();
        let fmt = |cell: &[Vec<usize>]| {
            let node =
                |s: &Vec<usize>| s.iter().map(usize::to_string).collect::<Vec<_>>().join(" ");
            cell.iter().map(node).collect::<Vec<_>>().join(";")
        };
        Ok(EpochRecord {
            epoch: self.epochs_done,
            train_loss: stats.loss(),
            train_acc: stats.accuracy(),
            val_loss,
            val_acc,
            lr,
            supports: format!("{}|{}", fmt(&normal), fmt(&reduce)),
            seconds: start.elapsed().as_secs_f64(),
            peak_memory_bytes: peak_pool_bytes(&self.device),
            genotype: self.supports.genotype(),
            recovery_unconverged: self.supports.unconverged,
        })
    }

    /// Loss and accuracy of the supernet (eval mode, no augmentation) on `data` with `supports`.
    pub fn evaluate(&self, data: &Arc<Dataset>, supports: &EpochSupports) -> Result<(f64, f64)> {
        let model = self.model.valid();
        let inner = self.device.clone().inner();
        let (normal, reduce) = supports.weights(&self.arch, true);
        let plain = |w: Vec<NodeWeights>| -> Vec<NodeWeights> {
            w.into_iter()
                .map(|n| NodeWeights {
                    support: n.support,
                    w: n.w.inner(),
                })
                .collect()
        };
        let (normal, reduce) = (plain(normal), plain(reduce));
        let loss = CrossEntropyLossConfig::new().init(&inner);
        let mut stats = StepStats::default();
        for batch in EpochLoader::start(data.clone(), self.eval_plan.clone(), 0, 0, 0) {
            let (x, y) = batch.tensors(&inner);
            let count = y.dims()[0];
            let logits = model.forward(x, &normal, &reduce, &mut 0)?;
            let right = correct(&logits, &y);
            stats.add(
                loss.forward(logits, y).into_scalar::<f32>() as f64,
                count,
                right,
            );
        }
        Ok((stats.loss(), stats.accuracy()))
    }
}
