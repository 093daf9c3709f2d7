//! The one-stage loop (Algorithm 2): per train batch one forward/backward whose gradient steps
//! both the weights (SGD, clipped) and the b of the nodes not yet frozen (Adam). After each
//! search epoch, z is recovered for the active nodes and the convergence rule freezes them;
//! once all are frozen (or the search epochs run out) the architecture is fixed and training
//! goes on with a cosine learning rate and rising drop path. Every epoch is scored on the test
//! split in eval mode.

use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use super::config::OneStageConfig;
use super::freezing::{Convergence, Decision, force_freeze, proposal};
use super::supernet::{OneStageSupernet, genotype_of};
use crate::data::Dataset;
use crate::data::augment::Augment;
use crate::data::loader::{BatchPlan, EpochLoader, mix};
use crate::devices::adapter::peak_pool_bytes;
use crate::error::Result;
use crate::model::drop_path::DropPath;
use crate::model::skeleton::NetworkConfig;
use crate::model::sparse_cell::SparseNetwork;
use crate::optim::{Optimiser, StepReport, arch_adam, sgd};
use crate::search_space::genotype::Genotype;
use crate::step_metrics::{
    EpochEnd, EpochPosition, StepControl, StepMetrics, StepOutcome, right_on_device,
};
use crate::storage::model_file::Scores;
use crate::train::evaluate::evaluate_with;

/// Which part of the run an epoch belonged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Nodes still active: b trains, the learning rate is constant.
    Search,
    /// The architecture is fixed: cosine learning rate, drop path.
    Train,
}

impl Phase {
    /// The name metrics.csv and the progress lines use.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Search => "search",
            Phase::Train => "train",
        }
    }
}

/// What one epoch produced (a row of metrics.csv).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneStageRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Search or training.
    pub phase: Phase,
    /// Mean training loss (main head).
    pub train_loss: f64,
    /// Training top-1 accuracy.
    pub train_acc: f64,
    /// Test-set scores of the supernet, eval mode.
    pub test: Scores,
    /// Weight learning rate.
    pub lr: f64,
    /// Drop-path probability.
    pub drop_path: f64,
    /// Supports used during the epoch (`normal|reduce`, nodes by `;`).
    pub supports: String,
    /// After the epoch, per node: the epoch it froze at, if it has.
    pub frozen_at: Vec<Option<usize>>,
    /// After the epoch, per node: frozen because the search epochs ran out.
    pub forced: Vec<bool>,
    /// The convergence check after a search epoch.
    pub decision: Option<Decision>,
    /// The genotype of the accepted z after the epoch.
    pub genotype: Genotype,
    /// The candidate genotype, when the parameter budget rejected it.
    pub rejected: Option<Genotype>,
    /// Wall-clock seconds (steps, evaluation, recovery).
    pub seconds: f64,
    /// Peak bytes of the device's memory pools, when the device reports them.
    pub peak_memory_bytes: Option<u64>,
}

/// A one-stage run in progress.
pub struct OneStageSearch {
    /// Settings.
    pub config: OneStageConfig,
    /// Training device (autodiff).
    pub device: Device,
    /// Supernet, b and node states.
    pub net: OneStageSupernet,
    /// SGD on the weights.
    pub weight_optim: Optimiser,
    /// Adam on b.
    pub arch_optim: Optimiser,
    /// Epochs completed (search and training).
    pub epochs_done: usize,
    /// Of those, search epochs.
    pub search_epochs_done: usize,
    /// Class names of the data.
    pub class_names: Vec<String>,
    pub(crate) train: Arc<Dataset>,
    test: Arc<Dataset>,
    pub(crate) train_plan: BatchPlan,
    test_plan: BatchPlan,
    pub(super) loss: CrossEntropyLoss,
    /// Data-parallel replicas of the network on further devices (autodiff).
    pub(super) replicas: Vec<(SparseNetwork, Device)>,
    /// Where a paused epoch stopped.
    pub(super) position: Option<EpochPosition>,
}

impl OneStageSearch {
    /// A new run on `train`, scored on `test`.
    pub fn new(
        config: OneStageConfig,
        train: Dataset,
        test: Dataset,
        class_names: Vec<String>,
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
            norm,
        };
        let test_plan = BatchPlan {
            shuffle: false,
            augment: Augment::plain(size),
            ..train_plan.clone()
        };
        let network = NetworkConfig {
            channels: config.channels,
            layers: config.layers,
            classes: class_names.len(),
            in_channels: train.channels,
        };
        let net = OneStageSupernet::new(&config, network, &device)?;
        let arch_optim = arch_adam(
            config.arch.arch_beta1,
            config.arch.arch_beta2,
            config.arch.arch_weight_decay,
        );
        Ok(Self {
            weight_optim: sgd(config.sgd.momentum, config.sgd.weight_decay),
            arch_optim,
            loss: CrossEntropyLossConfig::new().init(&device),
            config,
            device,
            net,
            epochs_done: 0,
            search_epochs_done: 0,
            position: None,
            class_names,
            train: Arc::new(train),
            test: Arc::new(test),
            train_plan,
            test_plan,
            replicas: Vec::new(),
        })
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.train_plan.batches(self.train.len())
    }

    /// The phase of the next epoch.
    pub fn phase(&self) -> Phase {
        if self.net.all_frozen() {
            Phase::Train
        } else {
            Phase::Search
        }
    }

    /// True when the architecture is fixed and all training epochs are done.
    pub fn finished(&self) -> bool {
        self.net.all_frozen() && self.epochs_done - self.search_epochs_done >= self.config.epochs
    }

    /// The evaluation preprocessing and normalisation (what a folded model expects).
    pub fn test_plan(&self) -> &BatchPlan {
        &self.test_plan
    }

    /// Runs the next epoch, or the rest of a paused one; `progress` sees every step and may
    /// pause the epoch after it (the node states change only at an epoch's end).
    pub fn run_epoch(
        &mut self,
        progress: &mut dyn FnMut(StepReport) -> StepControl,
    ) -> Result<EpochEnd<OneStageRecord>> {
        let start = Instant::now();
        let epoch = self.epochs_done;
        let phase = self.phase();
        let (lr, drop_prob) = match phase {
            Phase::Search => (self.config.sgd.lr, 0.0),
            Phase::Train => {
                let t = epoch - self.search_epochs_done;
                (self.config.lr_at(t), self.config.drop_path_at(t))
            }
        };
        let supports = self.net.supports_string();
        let at = self.position.take().unwrap_or_default();
        let loader = EpochLoader::start(
            self.train.clone(),
            self.train_plan.clone(),
            self.config.seed,
            epoch as u64,
            at.batch,
        );
        let batches = self.batches_per_epoch();
        let mut metrics = StepMetrics::resume(epoch + 1, "one-stage ista search", &at);
        for (index, batch) in (at.batch..).zip(loader) {
            let (x, y) = batch?.tensors(&self.device);
            let seed = mix(self.config.seed.wrapping_add(5), epoch as u64, index as u64);
            metrics.add(self.step(x, y, lr, &mut DropPath::new(drop_prob, seed))?);
            if let Some(position) = metrics.pause_requested(index + 1, batches, progress)? {
                self.position = Some(position);
                return Ok(EpochEnd::Paused);
            }
        }
        let stats = metrics.finish()?;
        let test = self.evaluate(&mut |_, _| {})?;
        self.epochs_done += 1;
        let (decision, rejected) = match phase {
            Phase::Search => self.end_search_epoch()?,
            Phase::Train => (None, None),
        };
        Ok(EpochEnd::Done(OneStageRecord {
            epoch: self.epochs_done,
            phase,
            train_loss: stats.loss(),
            train_acc: stats.accuracy(),
            test,
            lr,
            drop_path: drop_prob,
            supports,
            frozen_at: self.net.nodes.iter().map(|n| n.frozen_at).collect(),
            forced: self.net.nodes.iter().map(|n| n.forced).collect(),
            decision,
            genotype: self.net.genotype(),
            rejected,
            seconds: at.seconds + start.elapsed().as_secs_f64(),
            peak_memory_bytes: peak_pool_bytes(&self.device),
        }))
    }

    /// Recovers z for the active nodes, applies the convergence rule, and freezes whatever is
    /// still active when the search epochs are spent.
    fn end_search_epoch(&mut self) -> Result<(Option<Decision>, Option<Genotype>)> {
        self.search_epochs_done += 1;
        let (candidates, _) = self.net.architect.recover_z(&self.net.arch, &self.device)?;
        let rule = Convergence {
            epsilon: self.config.epsilon,
            max_params: self.config.max_params,
        };
        let proposed = proposal(&self.net.nodes, &candidates);
        let mut nodes = self.net.nodes.clone();
        let decision = rule.update(&mut nodes, &candidates, self.epochs_done, |zs| {
            self.net.params_of(zs)
        });
        let rejected = (!decision.accepted).then(|| genotype_of(&proposed));
        if self.search_epochs_done >= self.config.search_epochs {
            force_freeze(&mut nodes, self.epochs_done);
        }
        self.net.nodes = nodes;
        self.net.refresh(&self.device);
        Ok((Some(decision), rejected))
    }

    /// One step on a train batch: its main loss, right predictions and weight-gradient norm
    /// before clipping, left on the device (nothing is read).
    pub fn step(
        &mut self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        lr: f64,
        drop: &mut DropPath,
    ) -> Result<StepOutcome> {
        let count = labels.dims()[0];
        if !self.replicas.is_empty() {
            let (loss, right, b_grads, w_grads) = self.parallel_grads(images, labels, drop)?;
            let norm = self.apply(lr, b_grads, w_grads);
            return Ok(StepOutcome {
                loss,
                count,
                right,
                norm,
            });
        }
        let (normal, reduce) = self.net.node_weights(true);
        let (logits, aux) =
            (self.net.model).forward_train(images, &normal, &reduce, Some(drop), &mut 0)?;
        let main = self.loss.forward(logits.clone(), labels.clone());
        let value = main.clone().inner();
        let right = right_on_device(&logits, &labels);
        let loss = match aux {
            Some(aux) => main + self.loss.forward(aux, labels) * self.config.auxiliary_weight,
            None => main,
        };
        let mut grads = loss.backward();
        let b_grads = GradientsParams::from_module(&mut grads, &self.net.arch);
        let w_grads = GradientsParams::from_module(&mut grads, &self.net.model);
        Ok(StepOutcome {
            loss: value,
            count,
            right,
            norm: self.apply(lr, b_grads, w_grads),
        })
    }

    /// Steps b (when it has a gradient) and the weights (clipped); returns the weight
    /// gradient's norm before clipping, on the device.
    fn apply(
        &mut self,
        lr: f64,
        b_grads: GradientsParams,
        w_grads: GradientsParams,
    ) -> Option<Tensor<1>> {
        if !b_grads.is_empty() {
            let arch = self.net.arch.clone();
            let lr = self.config.arch.arch_lr;
            self.net.arch = self.arch_optim.step(lr, arch, b_grads, None).0;
        }
        let model = self.net.model.clone();
        let clip = Some(self.config.sgd.grad_clip);
        let (model, norm) = self.weight_optim.step(lr, model, w_grads, clip);
        self.net.model = model;
        norm
    }

    /// Test-set scores of the supernet in eval mode.
    pub fn evaluate(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<Scores> {
        let model = self.net.model.valid();
        let (normal, reduce) = self.net.plain_weights();
        let inner = self.device.clone().inner();
        evaluate_with(
            &mut |x| model.forward(x, &normal, &reduce, &mut 0),
            &(self.test.clone() as Arc<dyn crate::data::stream::ImageSet>),
            &self.test_plan,
            &inner,
            progress,
        )
    }
}
