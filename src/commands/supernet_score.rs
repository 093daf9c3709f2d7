//! A search run's supernet scored again from its checkpoint, with the architecture it ended
//! with: with the search's own BN statistics, or after recomputing them on training batches
//! (`eval --search`, and consistency studies with `--recalibrate-bn`).

use std::path::Path;

use anyhow::{Context, bail};
use burn::tensor::Device;
use ista_nas::search::checkpoint::Checkpoint;
use ista_nas::search::one_stage::checkpoint::{KIND as ONE_STAGE, OneStageCheckpoint};
use ista_nas::search::one_stage::trainer::{OneStageSearch, Phase};
use ista_nas::search::trainer::Searcher;
use ista_nas::storage::framed;
use ista_nas::storage::run_dir::RunDir;
use serde::{Deserialize, Serialize};

/// A supernet's score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupernetScore {
    /// Accuracy in eval mode.
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    /// The split scored: `val` (the architecture half; two-stage, DARTS, PC-DARTS) or `test`
    /// (one-stage).
    pub split: String,
    /// Training batches its BN statistics were recomputed on (0: the search's own).
    pub bn_batches: usize,
    /// The accuracy the search recorded after its last (one-stage: its last search) epoch.
    pub recorded_accuracy: Option<f64>,
    /// Epochs the search had run.
    pub epochs: usize,
}

/// Scores the supernet of the search run in `dir` on `device` (see [`SupernetScore`]).
pub fn score_search(
    dir: &Path,
    bn_batches: usize,
    device: &Device,
) -> anyhow::Result<SupernetScore> {
    let path = RunDir { path: dir.into() }.checkpoint_path();
    if !path.exists() {
        bail!(
            "{} holds no search checkpoint (checkpoint.bin)",
            dir.display()
        );
    }
    if framed::has_signature(&path, ONE_STAGE) {
        return one_stage_score(&path, bn_batches, device);
    }
    let checkpoint = Checkpoint::load(&path).context("reading the search")?;
    let header = checkpoint.header.clone();
    let config = &header.config;
    let splits = super::data::read_usable(
        config.data.folder.as_deref().map(Path::new),
        config.data.format,
        (config.data.train_images, Some(0)),
        config.data.classes,
        false,
    )?;
    let (weights, arch) = splits.train.split_half();
    let classes = splits.class_names.len();
    let mut search = Searcher::resume(checkpoint, weights, arch, classes, device)?;
    let (loss, accuracy) = search.supernet_score(bn_batches)?;
    Ok(SupernetScore {
        accuracy,
        loss,
        split: "val".into(),
        bn_batches,
        recorded_accuracy: header.history.last().map(|r| r.val_acc),
        epochs: header.epochs_done,
    })
}

fn one_stage_score(
    path: &Path,
    bn_batches: usize,
    device: &Device,
) -> anyhow::Result<SupernetScore> {
    let checkpoint = OneStageCheckpoint::load(path).context("reading the one-stage run")?;
    let header = checkpoint.header.clone();
    let config = &header.config;
    let splits = super::data::read_usable(
        config.data.folder.as_deref().map(Path::new),
        config.data.format,
        (config.data.train_images, config.test_images),
        config.data.classes,
        true,
    )?;
    let (train, test) = (splits.train.clone(), splits.test.clone());
    let mut search = OneStageSearch::resume(checkpoint, train, test, device)?;
    let scores = search.supernet_score(bn_batches)?;
    let recorded = header
        .history
        .iter()
        .rev()
        .find(|r| r.phase == Phase::Search);
    Ok(SupernetScore {
        accuracy: scores.top1,
        loss: scores.loss,
        split: "test".into(),
        bn_batches,
        recorded_accuracy: recorded.map(|r| r.test.top1),
        epochs: header.history.len(),
    })
}
