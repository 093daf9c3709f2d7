//! Scoring a network on a data set: loss, top-1 and top-5 accuracy, in eval mode.

use std::sync::Arc;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor};

use crate::data::loader::{BatchPlan, EpochLoader};
use crate::data::stream::ImageSet;
use crate::error::Result;
use crate::model::eval_network::EvalNetwork;
use crate::optim::StepStats;
use crate::storage::model_file::Scores;

/// Hits of `labels` `[B]` within the top 1 and top 5 of `logits` `[B, classes]`; a label
/// counts as within the top k when fewer than k classes score strictly higher.
pub fn top1_top5(logits: Tensor<2>, labels: Tensor<1, Int>) -> (usize, usize) {
    let [_, classes] = logits.dims();
    let scores = logits
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 logits");
    let labels = labels
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("i64 labels");
    let (mut top1, mut top5) = (0, 0);
    for (row, &label) in scores.chunks(classes).zip(&labels) {
        let own = row[label as usize];
        let higher = row.iter().filter(|&&s| s > own).count();
        top1 += usize::from(higher < 1);
        top5 += usize::from(higher < 5);
    }
    (top1, top5)
}

/// Scores of `model` (a plain-device, eval-mode network) on `data` with `plan`;
/// `progress(done, total)` after each batch.
pub fn evaluate(
    model: &EvalNetwork,
    data: &Arc<dyn ImageSet>,
    plan: &BatchPlan,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Scores {
    let mut forward = |x| Ok(model.forward(x));
    evaluate_with(&mut forward, data, plan, device, progress)
        .expect("an evaluation network's forward pass does not fail")
}

/// Scores of the eval-mode logits `forward` gives on `data` with `plan`.
pub fn evaluate_with(
    forward: &mut dyn FnMut(Tensor<4>) -> Result<Tensor<2>>,
    data: &Arc<dyn ImageSet>,
    plan: &BatchPlan,
    device: &Device,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Scores> {
    let loss = CrossEntropyLossConfig::new().init(device);
    let batches = plan.batches(data.len());
    let (mut stats, mut top5) = (StepStats::default(), 0usize);
    for (index, batch) in EpochLoader::start(data.clone(), plan.clone(), 0, 0, 0).enumerate() {
        let (x, y) = batch?.tensors(device);
        let count = y.dims()[0];
        let logits = forward(x)?; // [B, classes]
        let mean_loss = loss.forward(logits.clone(), y.clone()).into_scalar::<f32>() as f64;
        let (hits1, hits5) = top1_top5(logits, y);
        stats.add(mean_loss, count, hits1);
        top5 += hits5;
        progress(index + 1, batches);
    }
    Ok(Scores {
        loss: stats.loss(),
        top1: stats.accuracy(),
        top5: top5 as f64 / stats.seen().max(1) as f64,
    })
}
