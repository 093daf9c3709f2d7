//! `ista-nas search --one-stage`: a one-stage ISTA-NAS run with a run folder, progress bars,
//! resume across freezes, and the folded network at the end.

use std::path::Path;
use std::time::Duration;

use ista_nas::curves::RunCurves;
use ista_nas::optim::StepReport;
use ista_nas::optim::lr_plan::{low_lr_warning, lr_plan_line};
use ista_nas::search::one_stage::checkpoint::{
    OneStageHeader, one_stage_curves, write_epoch, write_folded,
};
use ista_nas::search::one_stage::config::OneStageConfig;
use ista_nas::search::one_stage::trainer::{OneStageRecord, OneStageSearch, Phase};
use ista_nas::step_metrics::{EpochEnd, StepControl};
use ista_nas::storage::run_dir::RunDir;

use super::run_driver::{self, EpochRun, minutes};
use super::search_args::SearchArgs;

/// `n0 n1 n2 n3 | r0 r1 r2 r3` as `-` (active), the freeze epoch, or the freeze epoch and `!`
/// when forced.
fn node_states(r: &OneStageRecord) -> String {
    let state = |i: usize| match (r.frozen_at[i], r.forced[i]) {
        (None, _) => "-".to_string(),
        (Some(e), false) => e.to_string(),
        (Some(e), true) => format!("{e}!"),
    };
    let cell = |range: std::ops::Range<usize>| range.map(state).collect::<Vec<_>>().join(" ");
    let half = r.frozen_at.len() / 2;
    format!("{} | {}", cell(0..half), cell(half..2 * half))
}

fn print_epoch(r: &OneStageRecord) {
    let phase = r.phase.name();
    let mut line = format!(
        "epoch {} ({phase}): train loss {:.4} acc {:.2} %, test loss {:.4} acc {:.2} %, lr {:.5}, {:.1} s",
        r.epoch,
        r.train_loss,
        100.0 * r.train_acc,
        r.test.loss,
        100.0 * r.test.top1,
        r.lr,
        r.seconds
    );
    if r.drop_path > 0.0 {
        line.push_str(&format!(", drop path {:.3}", r.drop_path));
    }
    println!("{line}");
    if let Some(d) = &r.decision {
        let verdict = if d.accepted {
            format!("candidate accepted ({} parameters)", d.params)
        } else {
            format!(
                "candidate rejected: {} parameters reach the budget",
                d.params
            )
        };
        println!(
            "  nodes frozen at (normal | reduce; - active, ! forced): {}; {verdict}",
            node_states(r)
        );
    }
}

impl EpochRun for OneStageSearch {
    type Record = OneStageRecord;
    const COMMAND: &'static str = "search";

    fn finished(&self) -> bool {
        OneStageSearch::finished(self)
    }

    fn label(&self) -> String {
        let (done, epochs) = (self.epochs_done, self.config.epochs);
        match self.phase() {
            Phase::Search => format!("epoch {} (search)", done + 1),
            Phase::Train => format!(
                "epoch {} (train {}/{epochs})",
                done + 1,
                done - self.search_epochs_done + 1
            ),
        }
    }

    fn batches_per_epoch(&self) -> usize {
        OneStageSearch::batches_per_epoch(self)
    }

    fn run_epoch(
        &mut self,
        progress: &mut dyn FnMut(StepReport) -> StepControl,
    ) -> ista_nas::Result<EpochEnd<OneStageRecord>> {
        OneStageSearch::run_epoch(self, progress)
    }

    fn print(&self, record: &OneStageRecord) {
        print_epoch(record);
    }

    fn curves(&self, history: &[OneStageRecord]) -> RunCurves {
        one_stage_curves(history)
    }

    fn save(&self, run: &RunDir, history: &[OneStageRecord]) -> anyhow::Result<()> {
        let supernet = self.supernet_file(history)?;
        Ok(write_epoch(
            run,
            history,
            &supernet,
            &self.checkpoint(history)?,
        )?)
    }

    fn save_paused(&self, run: &RunDir, history: &[OneStageRecord]) -> anyhow::Result<()> {
        Ok(self.checkpoint(history)?.save(&run.checkpoint_path())?)
    }

    fn checkpoint_every(&self) -> Option<Duration> {
        minutes(self.config.checkpoint_every)
    }
}

/// Runs `ista-nas search --one-stage`, or continues one with `--resume`.
pub fn run(args: &SearchArgs) -> anyhow::Result<()> {
    let start = run_driver::start::<OneStageHeader, 4>(
        &args.run,
        args.epochs,
        || args.one_stage_config(),
        OneStageConfig::problem,
    )?;
    let mut config = start.config.clone();
    let splits = super::data::read_usable(
        config.data.folder.as_deref().map(Path::new),
        config.data.format,
        (config.data.train_images, config.test_images),
        config.data.classes,
        true,
    )?;
    let auxiliary = config.auxiliary_weight > 0.0;
    let network = super::data::supernet_for(&splits, config.channels, config.layers, auxiliary)?;
    let (train, test) = (splits.train.clone(), splits.test.clone());
    super::data::check_batch(config.batch_size, train.len(), "training images")?;
    let norm = super::data::normalization(config.data.norm.as_ref(), &splits, &train, false)?;
    config.data.norm = Some(norm);
    let devices = args.devices.open()?;
    let side = splits.train.supernet_side();
    super::binding_limit::check_search(&devices, &network, side, config.batch_size)?;
    let run_driver::Opened {
        run,
        checkpoint,
        mut history,
    } = start.folder("search-one-stage", config.seed, &config)?;
    println!(
        "data: {} — {} training images, {} test images, {} classes",
        splits.source,
        train.len(),
        test.len(),
        splits.class_names.len()
    );
    let device = &devices[0].device;
    let mut search = match checkpoint {
        Some(c) => OneStageSearch::resume(c, train, test, device)?,
        None => OneStageSearch::new(config.clone(), train, test, splits.class_names, device)?,
    };
    let others: Vec<_> = devices[1..].iter().map(|s| s.device.clone()).collect();
    search.use_devices(&others);
    println!(
        "one-stage ISTA-NAS m={} λ={:e} ε={:e}, C={} L={}, weights' lr {}: up to {} search epochs, then {} training epochs, of {} batches of {}; run folder {}",
        config.m,
        config.lambda,
        config.epsilon,
        config.channels,
        config.layers,
        config.sgd.lr,
        config.search_epochs,
        config.epochs,
        search.batches_per_epoch(),
        config.batch_size,
        run.path.display()
    );
    let lr_at = |e| config.lr_at(e);
    println!(
        "training epochs' {} (lr {} while searching)",
        lr_plan_line(lr_at, config.epochs),
        config.sgd.lr
    );
    let why = "the cosine schedule runs from --lr to --lr-min over the training epochs";
    if let Some(warning) = low_lr_warning(lr_at, config.epochs, config.sgd.lr, why) {
        eprintln!("{warning}");
    }
    run_driver::drive(&run, &mut search, &mut history)?;
    let header = write_folded(&run, &search.net, &search.header(&history))?;
    println!(
        "genotype: {}",
        serde_json::to_string(&header.network.genotype)?
    );
    println!(
        "folded network (Eq. 12): test top-1 {:.2} %; `ista-nas eval --model {}` scores it",
        100.0 * header.scores.top1,
        run.path.join("folded.model").display()
    );
    println!(
        "results in {}: folded.model, folded.safetensors, supernet.safetensors, genotype.json, metrics.csv, curves.svg (+ curves.json, tensorboard/), normal.svg, reduce.svg (+ .dot), config.json, checkpoint.bin",
        run.path.display()
    );
    Ok(())
}
