//! The results of a consistency study's finished runs, read from their checkpoints: a
//! search's supernet accuracy (a one-stage run's when its architecture froze) and a stand-alone
//! training's final test top-1, each with its seconds.

use std::path::Path;

use anyhow::Context;
use ista_nas::framed;
use ista_nas::search::checkpoint::Checkpoint;
use ista_nas::search::one_stage::checkpoint::{KIND as ONE_STAGE, OneStageCheckpoint};
use ista_nas::search::one_stage::trainer::Phase;
use ista_nas::train::checkpoint::TrainCheckpoint;

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
