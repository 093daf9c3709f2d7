//! BN recalibration: a supernet's batch-norm running statistics recomputed with its weights and
//! architecture held fixed, as the plain mean over training batches of each batch's statistics
//! (PyTorch's `momentum=None`), before it is scored. The running averages a search leaves lag a
//! supernet whose weights and architecture moved fast, so its eval-mode accuracy swings from
//! epoch to epoch; recomputed statistics describe the network as it is (single-path NAS methods
//! score their supernets this way). The reference code scores with the search's own statistics.

use std::sync::Arc;

use burn::tensor::{Bool, Tensor};

use super::one_stage::trainer::OneStageSearch;
use super::trainer::Searcher;
use crate::data::Dataset;
use crate::data::loader::{BatchPlan, EpochLoader};
use crate::error::{IstaError, Result};
use crate::model::norm::{BN_MOMENTUM, map_running_stats};
use crate::storage::model_file::Scores;

/// Recomputes the BN running statistics of `net` from `batches`: before each batch every
/// running state is set to zero, so the train-mode `forward` leaves momentum × that batch's
/// statistic there (for the variance, the unbiased one); the states end as the mean over the
/// batches. Channels no batch reached (ops outside the supports) keep their values. `map`
/// applies a function to every running state of `net` in a fixed order. Returns the batches
/// used.
pub fn recalibrate<N: ?Sized>(
    net: &mut N,
    batches: impl Iterator<Item = Result<Tensor<4>>>,
    map: impl Fn(&mut N, &mut dyn FnMut(Tensor<1>) -> Tensor<1>),
    forward: impl Fn(&N, Tensor<4>) -> Result<()>,
) -> Result<usize> {
    let mut before: Vec<Tensor<1>> = Vec::new();
    let mut sums: Vec<Tensor<1>> = Vec::new();
    let mut count = 0;
    for images in batches {
        let images = images?; // [B, C, H, W]
        map(net, &mut |state| {
            if count == 0 {
                before.push(state.clone());
            }
            state.zeros_like()
        });
        forward(net, images)?;
        let mut index = 0;
        map(net, &mut |state| {
            let statistic = state.clone().div_scalar(BN_MOMENTUM); // [C]
            match sums.get_mut(index) {
                Some(sum) => *sum = sum.clone() + statistic,
                None => sums.push(statistic),
            }
            index += 1;
            state
        });
        count += 1;
    }
    if count == 0 {
        return Ok(0);
    }
    let mut index = 0;
    map(net, &mut |_| {
        let mean = sums[index].clone().div_scalar(count as f64); // [C]
        // A channel whose every statistic is exactly 0 was not run (or only ever saw zeros).
        let unreached: Tensor<1, Bool> = mean.clone().equal_elem(0.0);
        let value = mean.mask_where(unreached, before[index].clone());
        index += 1;
        value
    });
    Ok(count)
}

/// `count` training batches of `data` under `plan`, in passes over it as needed, shuffled by
/// `seed`, as tensors on `device`.
fn batches<'a>(
    data: &'a Arc<Dataset>,
    plan: &'a BatchPlan,
    seed: u64,
    count: usize,
    device: &'a burn::tensor::Device,
) -> impl Iterator<Item = Result<Tensor<4>>> + 'a {
    (0u64..)
        .flat_map(move |pass| EpochLoader::start(data.clone(), plan.clone(), seed, pass, 0))
        .take(count)
        .map(move |batch| Ok(batch.map_err(IstaError::from)?.tensors(device).0))
}

impl Searcher {
    /// The supernet's loss and accuracy on the val split (eval mode, as after each epoch),
    /// after recomputing its BN statistics on `bn_batches` augmented training batches when
    /// that is not 0. The supernet keeps the recomputed statistics.
    pub fn supernet_score(&mut self, bn_batches: usize) -> Result<(f64, f64)> {
        if bn_batches > 0 {
            let seed = self.config.seed.wrapping_add(7);
            let (train, plan) = (self.train.clone(), self.train_plan.clone());
            let device = self.device.clone();
            recalibrate(
                &mut *self.net,
                batches(&train, &plan, seed, bn_batches, &device),
                |net, f| net.map_running_stats(f),
                |net, x| net.logits(x, true).map(|_| ()),
            )?;
        }
        let val = self.val.clone();
        self.evaluate(&val)
    }
}

impl OneStageSearch {
    /// The supernet's test scores (eval mode, as after each epoch), after recomputing its BN
    /// statistics on `bn_batches` augmented training batches when that is not 0. The supernet
    /// keeps the recomputed statistics.
    pub fn supernet_score(&mut self, bn_batches: usize) -> Result<Scores> {
        if bn_batches > 0 {
            let seed = self.config.seed.wrapping_add(7);
            let (train, plan) = (self.train.clone(), self.train_plan.clone());
            let device = self.device.clone();
            recalibrate(
                &mut self.net,
                batches(&train, &plan, seed, bn_batches, &device),
                |net, f| net.model = map_running_stats(net.model.clone(), f),
                |net, x| {
                    let (normal, reduce) = net.node_weights(false);
                    net.model.forward(x, &normal, &reduce, &mut 0).map(|_| ())
                },
            )?;
        }
        self.evaluate(&mut |_, _| {})
    }
}
