//! `ista-nas search`: an ISTA-NAS, DARTS or PC-DARTS search with a run folder, progress bars and resume.

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use ista_nas::curves::RunCurves;
use ista_nas::optim::StepReport;
use ista_nas::optim::lr_plan::{low_lr_warning, lr_plan_line};
use ista_nas::search::checkpoint::{CheckpointHeader, search_curves, write_epoch};
use ista_nas::search::config::{Method, SearchConfig};
use ista_nas::search::trainer::{EpochRecord, Searcher};
use ista_nas::step_metrics::{EpochEnd, StepControl};
use ista_nas::storage::run_dir::RunDir;

use super::run_driver::{self, EpochRun, minutes};
use super::search_args::{SearchArgs, one_stage_only};

fn print_epoch(r: &EpochRecord, epochs: usize) {
    let mem = r
        .peak_memory_bytes
        .map(|b| format!(", peak pool memory {:.1} MiB", b as f64 / 1048576.0))
        .unwrap_or_default();
    println!(
        "epoch {}/{epochs}: train loss {:.4} acc {:.2} %, val loss {:.4} acc {:.2} %, lr {:.5}, {:.1} s{mem}",
        r.epoch,
        r.train_loss,
        100.0 * r.train_acc,
        r.val_loss,
        100.0 * r.val_acc,
        r.lr,
        r.seconds
    );
    if r.recovery_unconverged > 0 {
        println!(
            "warning: {} of the recovery problems did not converge; their supports may be off (try --solver cpu)",
            r.recovery_unconverged
        );
    }
}

impl EpochRun for Searcher {
    type Record = EpochRecord;
    const COMMAND: &'static str = "search";

    fn finished(&self) -> bool {
        self.epochs_done >= self.config.epochs
    }

    fn label(&self) -> String {
        format!("epoch {}/{}", self.epochs_done + 1, self.config.epochs)
    }

    fn batches_per_epoch(&self) -> usize {
        Searcher::batches_per_epoch(self)
    }

    fn run_epoch(
        &mut self,
        progress: &mut dyn FnMut(StepReport) -> StepControl,
    ) -> ista_nas::Result<EpochEnd<EpochRecord>> {
        Searcher::run_epoch(self, progress)
    }

    fn print(&self, record: &EpochRecord) {
        print_epoch(record, self.config.epochs);
    }

    fn curves(&self, history: &[EpochRecord]) -> RunCurves {
        search_curves(self.config.method.name(), history)
    }

    fn save(&self, run: &RunDir, history: &[EpochRecord]) -> anyhow::Result<()> {
        let supernet = self.supernet_file(history)?;
        Ok(write_epoch(
            run,
            history,
            &supernet,
            &self.checkpoint(history)?,
        )?)
    }

    fn save_paused(&self, run: &RunDir, history: &[EpochRecord]) -> anyhow::Result<()> {
        Ok(self.checkpoint(history)?.save(&run.checkpoint_path())?)
    }

    fn checkpoint_every(&self) -> Option<Duration> {
        minutes(self.config.checkpoint_every)
    }
}

/// What the search is, in a line.
fn describe(config: &SearchConfig) -> String {
    let method = match config.method {
        Method::Ista => format!(
            "ISTA-NAS m={} s={} λ={:e}",
            config.m, config.sparsity, config.lambda
        ),
        Method::Darts => "DARTS (first order)".into(),
        Method::PcDarts => format!("PC-DARTS K={}", config.partial_channels),
    };
    let lr = config.peak_lr();
    format!(
        "search: {method}, C={} L={}, weights' lr {lr} ({} per 256 images)",
        config.channels,
        config.layers,
        lr * 256.0 / config.batch_size as f64
    )
}

/// Runs `ista-nas search`.
pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    args.refuse_with_resume()?;
    if args.is_one_stage() {
        if args.sparsity.is_some() || args.solver.is_some() || args.partial_channels.is_some() {
            bail!(
                "--sparsity, --solver and --partial-channels are not options of one-stage ISTA-NAS"
            );
        }
        if args.arch_warmup_epochs.is_some() {
            bail!("--arch-warmup-epochs is not an option of one-stage ISTA-NAS");
        }
        return super::one_stage::run(&args);
    }
    if let Some((flag, _)) = one_stage_only(&args).iter().find(|(_, given)| *given) {
        bail!(
            "{flag} is an option of one-stage ISTA-NAS (--method ista-one-stage, or --one-stage)"
        );
    }
    // Settings, checkpoint and data are checked before the device is opened, and a new run's
    // folder is created only once they are, so bad input leaves none.
    let start = run_driver::start::<CheckpointHeader, 4>(
        &args.run,
        args.epochs,
        || args.config(),
        SearchConfig::problem,
    )?;
    let mut config = start.config.clone();
    let splits = super::data::read_usable(
        config.data.folder.as_deref().map(Path::new),
        config.data.format,
        (config.data.train_images, Some(0)),
        config.data.classes,
        false,
    )?;
    let network = super::data::supernet_for(&splits, config.channels, config.layers, false)?;
    let (weights, arch) = splits.train.split_half();
    let what = "images for the weights (the first half of the training images)";
    super::data::check_batch(config.batch_size, weights.len(), what)?;
    let norm = super::data::normalization(config.data.norm.as_ref(), &splits, &weights, false)?;
    config.data.norm = Some(norm);
    let classes = splits.class_names.len();
    let devices = args.devices.open()?;
    let side = splits.train.supernet_side();
    super::binding_limit::check_search(&devices, &network, side, config.batch_size)?;
    let prefix = match config.method {
        Method::Ista => "search".to_string(),
        other => format!("search-{}", other.name()),
    };
    let run_driver::Opened {
        run,
        checkpoint,
        mut history,
    } = start.folder(&prefix, config.seed, &config)?;
    println!(
        "data: {} — {} images for weights, {} for the architecture, {classes} classes",
        splits.source,
        weights.len(),
        arch.len(),
    );
    let device = &devices[0].device;
    let mut search = match checkpoint {
        Some(c) => Searcher::resume(c, weights, arch, classes, device)?,
        None => Searcher::new(config.clone(), weights, arch, classes, device)?,
    };
    let others: Vec<_> = devices[1..].iter().map(|s| s.device.clone()).collect();
    search.use_devices(&others)?;
    println!(
        "{}; {} epochs of {} batches of {}; run folder {}",
        describe(&config),
        config.epochs,
        search.batches_per_epoch(),
        config.batch_size,
        run.path.display()
    );
    let lr_at = |e| config.lr_at(e);
    println!("{}", lr_plan_line(lr_at, config.epochs));
    let why = "the schedule is stepped before each epoch, as the reference does, so the last \
               epoch trains at --lr-min";
    if let Some(warning) = low_lr_warning(lr_at, config.epochs, config.peak_lr(), why) {
        eprintln!("{warning}");
    }
    run_driver::drive(&run, &mut search, &mut history)?;
    if let Some(last) = history.last() {
        println!("genotype: {}", serde_json::to_string(&last.genotype)?);
    }
    println!(
        "results in {}: genotype.json, supernet.safetensors, metrics.csv, curves.svg (+ curves.json, tensorboard/), normal.svg, reduce.svg (+ .dot), config.json, checkpoint.bin",
        run.path.display()
    );
    Ok(())
}
