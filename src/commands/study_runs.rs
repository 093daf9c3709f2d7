//! The results of a consistency study's finished runs, read from their checkpoints: a
//! search's supernet accuracy (a one-stage run's when its architecture froze) and a stand-alone
//! training's final test top-1, each with its seconds; and a search's score with recalibrated
//! BN, computed once and kept in its folder.

use std::path::Path;

use anyhow::Context;
use burn::tensor::Device;
use ista_nas::search::checkpoint::Checkpoint;
use ista_nas::search::one_stage::checkpoint::{KIND as ONE_STAGE, OneStageCheckpoint};
use ista_nas::search::one_stage::trainer::Phase;
use ista_nas::storage::framed;
use ista_nas::storage::run_dir::RunDir;
use ista_nas::train::checkpoint::TrainCheckpoint;

use super::supernet_score::{SupernetScore, score_search};

/// The one-stage run's test accuracy at the epoch its architecture froze and its seconds so
/// far, once it froze.
fn one_stage_result(path: &Path) -> anyhow::Result<Option<(f64, f64)>> {
    let header = OneStageCheckpoint::load(path)
        .context("reading a one-stage run of the study")?
        .header;
    let frozen = header.nodes.iter().all(|n| n.is_frozen());
    let last_search = header
        .history
        .iter()
        .rev()
        .find(|r| r.phase == Phase::Search);
    let seconds = header.history.iter().map(|r| r.seconds).sum();
    Ok(frozen
        .then(|| last_search.map(|r| (r.test.top1, seconds)))
        .flatten())
}

/// The search's final supernet accuracy and seconds, once all its epochs are done.
pub fn search_result(dir: &Path) -> anyhow::Result<Option<(f64, f64)>> {
    let path = dir.join("checkpoint.bin");
    if !path.exists() {
        return Ok(None);
    }
    if framed::has_signature(&path, ONE_STAGE) {
        return one_stage_result(&path);
    }
    let header = Checkpoint::load(&path)
        .context("reading a search of the study")?
        .header;
    let seconds = header.history.iter().map(|r| r.seconds).sum();
    Ok((header.epochs_done == header.config.epochs)
        .then(|| header.history.last().map(|r| (r.val_acc, seconds)))
        .flatten())
}

/// The training's final test top-1 and seconds, once all its epochs are done.
pub fn train_result(dir: &Path) -> anyhow::Result<Option<(f64, f64)>> {
    let path = dir.join("checkpoint.bin");
    if !path.exists() {
        return Ok(None);
    }
    let header = TrainCheckpoint::load(&path)
        .context("reading a training of the study")?
        .header;
    let seconds = header.history.iter().map(|r| r.seconds).sum();
    Ok((header.epochs_done == header.config.epochs)
        .then(|| header.history.last().map(|r| (r.test.top1, seconds)))
        .flatten())
}

/// The file in a search's folder that keeps its supernet's score with BN recalibrated on
/// `batches`.
fn score_name(batches: usize) -> String {
    format!("supernet-bn{batches}.json")
}

/// The search's supernet accuracy with BN recalibrated on `batches` training batches, once
/// [`score_recalibrated`] has scored it.
pub fn recalibrated_result(dir: &Path, batches: usize) -> anyhow::Result<Option<f64>> {
    let path = dir.join(score_name(batches));
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let score: SupernetScore = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a supernet score", path.display()))?;
    Ok(Some(score.accuracy))
}

/// Scores the finished search in `dir` with BN recalibrated on `batches` training batches on
/// `device`, unless it has been, and keeps the score in its folder; returns the accuracy.
pub fn score_recalibrated(dir: &Path, batches: usize, device: &Device) -> anyhow::Result<f64> {
    if let Some(accuracy) = recalibrated_result(dir, batches)? {
        return Ok(accuracy);
    }
    let score = score_search(dir, batches, device)?;
    let json = serde_json::to_string_pretty(&score)?;
    RunDir { path: dir.into() }.write(&score_name(batches), json.as_bytes())?;
    Ok(score.accuracy)
}
