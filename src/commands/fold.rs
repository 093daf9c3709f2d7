//! `ista-nas fold RUN_DIR`: Eq. 12 on demand: the one-stage run's supernet, as its checkpoint
//! holds it, folded into `folded.model` and `folded.safetensors`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use ista_nas::devices::adapter::DeviceChoice;
use ista_nas::search::one_stage::checkpoint::{KIND, OneStageCheckpoint, write_folded};
use ista_nas::storage::framed;
use ista_nas::storage::run_dir::RunDir;

/// Options of `ista-nas fold`.
#[derive(Args, Debug)]
pub struct FoldArgs {
    /// Run folder of a one-stage search (`search --one-stage`).
    pub run: PathBuf,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, help = super::DEVICE_HELP)]
    pub device: DeviceChoice,
}

/// Runs `ista-nas fold`.
pub fn run(args: FoldArgs) -> anyhow::Result<()> {
    let run = RunDir {
        path: args.run.clone(),
    };
    let path = run.checkpoint_path();
    if path.exists() && !framed::has_signature(&path, KIND) {
        bail!(
            "{} is not a one-stage run: fold applies to the runs of `search --one-stage` (a two-stage search's genotype is trained with `train`)",
            args.run.display()
        );
    }
    let checkpoint = OneStageCheckpoint::load(&path).context("cannot fold")?;
    let selected = super::device::open(args.device)?;
    let frozen = checkpoint
        .header
        .nodes
        .iter()
        .filter(|n| n.is_frozen())
        .count();
    if frozen < checkpoint.header.nodes.len() {
        println!(
            "note: {frozen} of {} nodes are frozen; the folded network fixes the others at their current z and w",
            checkpoint.header.nodes.len()
        );
    }
    let net = checkpoint.supernet(&selected.device)?;
    let header = write_folded(&run, &net, &checkpoint.header)?;
    println!(
        "genotype: {}",
        serde_json::to_string(&header.network.genotype)?
    );
    println!(
        "wrote {} and folded.safetensors (after epoch {}, test top-1 of the supernet then {:.2} %)",
        run.path.join("folded.model").display(),
        header.epoch,
        100.0 * header.scores.top1
    );
    Ok(())
}
