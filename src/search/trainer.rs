//! The search loop (Algorithm 1; DARTS and PC-DARTS share it): per train batch an architecture
//! step on the next val batch and a weight step on the train batch; ISTA-NAS recovers its
//! supports once per epoch.
//!
//! Ops outside a node's support take no part in the forward pass, so they get no gradient; the
//! optimisers skip parameters without a gradient entirely: their momentum buffers stay as they
//! were and no weight decay is applied to them (as PyTorch's SGD does for `grad is None`).

use std::sync::Arc;
use std::time::Instant;

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::config::{Method, SearchConfig};
use super::darts_supernet::DartsSupernet;
use super::ista_arch::{ArchParams, Architect};
use super::ista_supernet::IstaSupernet;
use super::supernet::Supernet;
use crate::data::Dataset;
use crate::data::augment::Augment;
use crate::data::loader::{BatchPlan, EpochLoader};
use crate::devices::adapter::peak_pool_bytes;
use crate::error::{IstaError, Result};
use crate::model::skeleton::NetworkConfig;
use crate::model::sparse_cell::SparseNetwork;
use crate::optim::{Optimiser, StepReport, arch_adam, sgd};
use crate::profile::scope;
use crate::search_space::genotype::Genotype;
use crate::step_metrics::{
    EpochEnd, EpochPosition, StepControl, StepMetrics, StepOutcome, read_to_host, right_on_device,
};

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

/// A search in progress: supernet, optimisers, data and position.
pub struct Searcher {
    /// Settings.
    pub config: SearchConfig,
    /// Training device (autodiff).
    pub device: Device,
    /// The method's supernet and architecture parameters.
    pub net: Box<dyn Supernet>,
    /// SGD on the weights.
    pub weight_optim: Optimiser,
    /// Adam on the architecture parameters.
    pub arch_optim: Optimiser,
    /// Epochs completed.
    pub epochs_done: usize,
    /// Position of the val iterator.
    pub val_cursor: ValCursor,
    pub(crate) train: Arc<Dataset>,
    pub(crate) val: Arc<Dataset>,
    pub(crate) train_plan: BatchPlan,
    eval_plan: BatchPlan,
    pub(super) loss: CrossEntropyLoss,
    pub(super) network: NetworkConfig,
    /// Data-parallel replicas on further devices (autodiff), empty on one device.
    pub(super) replicas: Vec<(Box<dyn Supernet>, Device)>,
    /// Where a paused epoch stopped.
    pub(super) position: Option<EpochPosition>,
}

/// The supernet of `config.method` (weights seeded through the device, architecture by `seed`).
pub(super) fn supernet(
    config: &SearchConfig,
    network: &NetworkConfig,
    device: &Device,
) -> Result<Box<dyn Supernet>> {
    let seed = config.seed.wrapping_add(2);
    Ok(match config.method {
        Method::Ista => {
            let model = SparseNetwork::new(network, device);
            let arch = ArchParams::new(config.m, seed, device);
            let architect = Architect::new(
                config.measurement,
                config.m,
                config.sparsity,
                config.lambda,
                config.solver,
                config.seed.wrapping_add(1),
            );
            Box::new(IstaSupernet::new(model, arch, architect, device)?)
        }
        Method::Darts => Box::new(DartsSupernet::new(network, 1, seed, device)),
        Method::PcDarts => Box::new(DartsSupernet::new(
            network,
            config.partial_channels,
            seed,
            device,
        )),
    })
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
        let norm = config
            .data
            .norm
            .clone()
            .unwrap_or_else(|| train.normalization());
        let size = train.supernet_side();
        let train_plan = BatchPlan {
            batch_size: config.batch_size,
            shuffle: true,
            augment: Augment::train(size, config.data.cutout),
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
        let net = supernet(&config, &network, &device)?;
        let weight_optim = sgd(config.sgd.momentum, config.sgd.weight_decay);
        let arch_optim = arch_adam(
            config.arch.arch_beta1,
            config.arch.arch_beta2,
            config.arch.arch_weight_decay,
        );
        let loss = CrossEntropyLossConfig::new().init(&device);
        Ok(Self {
            config,
            device,
            net,
            weight_optim,
            arch_optim,
            epochs_done: 0,
            val_cursor: ValCursor::default(),
            position: None,
            train: Arc::new(train),
            val: Arc::new(val),
            train_plan,
            eval_plan,
            loss,
            network,
            replicas: Vec::new(),
        })
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.train_plan.batches(self.train.len())
    }

    /// An architecture step on the next batch of `val`, which starts a new pass over the val
    /// split when it runs out.
    fn next_arch_step(&mut self, val: &mut EpochLoader) -> Result<()> {
        let val_batch = match val.next() {
            Some(b) => b,
            None => {
                self.val_cursor = ValCursor {
                    pass: self.val_cursor.pass + 1,
                    batch: 0,
                };
                *val = self.val_loader();
                val.next().expect("the val split holds at least one batch")
            }
        };
        self.val_cursor.batch += 1;
        let (x, y) = val_batch?.tensors(&self.device);
        self.arch_step(x, y)
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

    /// Runs the next epoch, or the rest of a paused one; `progress` sees every step and may
    /// pause the epoch after it (the val cursor and the epoch's supports are kept).
    pub fn run_epoch(
        &mut self,
        progress: &mut dyn FnMut(StepReport) -> StepControl,
    ) -> Result<EpochEnd<EpochRecord>> {
        let start = Instant::now();
        let epoch = self.epochs_done;
        let lr = self.config.lr_at(epoch);
        let at = self.position.take().unwrap_or_default();
        let train = EpochLoader::start(
            self.train.clone(),
            self.train_plan.clone(),
            self.config.seed,
            epoch as u64,
            at.batch,
        );
        let batches = self.batches_per_epoch();
        // No val batches are prepared during the architecture warm-up.
        let mut val = self.config.arch_steps_in(epoch).then(|| self.val_loader());
        let run = format!("{} search", self.config.method.name());
        let mut metrics = StepMetrics::resume(epoch + 1, run, &at);
        for (index, batch) in (at.batch..).zip(train) {
            // (a) architecture step on the next val batch (the val iterator cycles), except
            // during the warm-up.
            if let Some(val) = val.as_mut() {
                self.next_arch_step(val)?;
            }

            // (b) weight step on the train batch, with the architecture fixed.
            let (x, y) = batch?.tensors(&self.device);
            metrics.add(self.weight_step(x, y, lr)?);
            if let Some(position) = metrics.pause_requested(index + 1, batches, progress)? {
                self.position = Some(position);
                return Ok(EpochEnd::Paused);
            }
        }
        let stats = metrics.finish()?;
        let (val_loss, val_acc) = self.evaluate(&self.val)?;
        let arch = self.net.end_epoch(&self.device)?;
        self.epochs_done += 1;
        Ok(EpochEnd::Done(EpochRecord {
            epoch: self.epochs_done,
            train_loss: stats.loss(),
            train_acc: stats.accuracy(),
            val_loss,
            val_acc,
            lr,
            supports: arch.supports,
            seconds: at.seconds + start.elapsed().as_secs_f64(),
            peak_memory_bytes: peak_pool_bytes(&self.device),
            genotype: arch.genotype,
            recovery_unconverged: arch.unconverged,
        }))
    }

    /// Runs `genotype`'s ops until the epoch ends (see [`Supernet::use_genotype`]).
    pub fn use_genotype(&mut self, genotype: &Genotype) -> Result<()> {
        self.net.use_genotype(genotype, &self.device)
    }

    /// `count` search steps (architecture, then weights) on the first train and val batches,
    /// for benchmarks: batches are prepared once, so the steps time the device alone. Returns
    /// each weight step's training loss.
    pub fn repeat_first_step(&mut self, count: usize) -> Result<Vec<f64>> {
        let first = |data: &Arc<Dataset>| {
            EpochLoader::start(
                data.clone(),
                self.train_plan.clone(),
                self.config.seed,
                0,
                0,
            )
            .next()
            .ok_or_else(|| IstaError::Shape("no images to benchmark on".into()))?
            .map_err(IstaError::from)
        };
        let (train, val) = (first(&self.train)?, first(&self.val)?);
        let lr = self.config.lr_at(0);
        let mut losses = Vec::with_capacity(count);
        for _ in 0..count {
            let (x, y) = val.clone().tensors(&self.device);
            self.arch_step(x, y)?;
            let (x, y) = train.clone().tensors(&self.device);
            losses.push(self.weight_step(x, y, lr)?.loss.inner());
        }
        if losses.is_empty() {
            return Ok(Vec::new());
        }
        // one read after the steps, which also waits for them
        let values = read_to_host(Tensor::cat(losses, 0)); // [count]
        Ok(values.into_iter().map(f64::from).collect())
    }

    /// One architecture step on a val batch (the weights get no update).
    pub fn arch_step(&mut self, images: Tensor<4>, labels: Tensor<1, Int>) -> Result<()> {
        if !self.replicas.is_empty() {
            let (_, _, grads) = self.parallel_grads(images, labels, true)?;
            let lr = self.config.arch.arch_lr;
            self.net
                .apply_grads(grads, true, &mut self.arch_optim, lr, None);
            return Ok(());
        }
        scope("arch step", || {
            let loss = scope("forward", || -> Result<Tensor<1>> {
                let logits = self.net.logits(images, false)?;
                Ok(self.loss.forward(logits, labels))
            })?;
            self.net
                .step_arch(loss, &mut self.arch_optim, self.config.arch.arch_lr);
            Ok(())
        })
    }

    /// One weight step at learning rate `lr`, the architecture fixed: its loss, right
    /// predictions and gradient norm before clipping, left on the device (nothing is read).
    pub fn weight_step(
        &mut self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        lr: f64,
    ) -> Result<StepOutcome> {
        let count = labels.dims()[0];
        if !self.replicas.is_empty() {
            let (loss, right, grads) = self.parallel_grads(images, labels, false)?;
            let clip = Some(self.config.sgd.grad_clip);
            let norm = self
                .net
                .apply_grads(grads, false, &mut self.weight_optim, lr, clip);
            return Ok(StepOutcome {
                loss,
                count,
                right,
                norm,
            });
        }
        scope("weight step", || {
            let (logits, loss) = scope("forward", || -> Result<(Tensor<2>, Tensor<1>)> {
                let logits = self.net.logits(images, true)?;
                let loss = self.loss.forward(logits.clone(), labels.clone());
                Ok((logits, loss))
            })?;
            let right = right_on_device(&logits, &labels);
            let value = loss.clone().inner();
            let norm =
                self.net
                    .step_weights(loss, &mut self.weight_optim, lr, self.config.sgd.grad_clip);
            Ok(StepOutcome {
                loss: value,
                count,
                right,
                norm,
            })
        })
    }

    /// Loss and accuracy of the supernet (eval mode, no augmentation) on `data`.
    pub fn evaluate(&self, data: &Arc<Dataset>) -> Result<(f64, f64)> {
        let inner = self.device.clone().inner();
        let forward = self.net.evaluator();
        let loss = CrossEntropyLossConfig::new().init(&inner);
        // Σ loss·count and Σ right on the device, read once
        let (mut sums, mut seen): (Option<Tensor<1>>, usize) = (None, 0);
        for batch in EpochLoader::start(data.clone(), self.eval_plan.clone(), 0, 0, 0) {
            let (x, y) = batch?.tensors(&inner);
            let count = y.dims()[0];
            let logits = forward(x)?;
            let right = right_on_device(&logits, &y);
            let part = Tensor::cat(vec![loss.forward(logits, y) * count as f32, right], 0); // [2]
            sums = Some(sums.map_or(part.clone(), |s| s + part));
            seen += count;
        }
        let values = sums.map(read_to_host).unwrap_or_else(|| vec![0.0, 0.0]);
        let per_image = |v: f32| f64::from(v) / seen.max(1) as f64;
        Ok((per_image(values[0]), per_image(values[1])))
    }
}
