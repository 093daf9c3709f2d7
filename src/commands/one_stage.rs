//! `ista-nas search --one-stage`: a one-stage ISTA-NAS run with a run folder, progress bars,
//! resume across freezes, and the folded network at the end.

use std::path::Path;

use anyhow::{Context, bail};
use ista_nas::curves::one_stage_curves;
use ista_nas::curves::tensorboard::EventLog;
use ista_nas::run_dir::RunDir;
use ista_nas::search::one_stage::checkpoint::{OneStageCheckpoint, write_epoch, write_folded};
use ista_nas::search::one_stage::config::OneStageConfig;
use ista_nas::search::one_stage::trainer::{OneStageRecord, OneStageSearch, Phase};

use super::run_folder::{self, progress_bar, show_step};
use super::search::{Preset, SearchArgs};

impl SearchArgs {
    fn one_stage_config(&self) -> OneStageConfig {
        let mut c = match self.preset {
            Preset::Quick => OneStageConfig::quick(),
            Preset::Paper => OneStageConfig::paper(),
        };
        if let Some(path) = &self.data {
            c.data = Some(path.display().to_string());
            c.train_images = None;
        }
        c.format = self.format.or(c.format);
        c.epochs = self.epochs.unwrap_or(c.epochs);
        c.search_epochs = self.search_epochs.unwrap_or(c.search_epochs);
        c.batch_size = self.batch_size.unwrap_or(c.batch_size);
        c.seed = self.seed.unwrap_or(c.seed);
        c.channels = self.channels.unwrap_or(c.channels);
        c.layers = self.layers.unwrap_or(c.layers);
        c.train_images = self.train_images.or(c.train_images);
        c.test_images = self.test_images.or(c.test_images);
        c.classes = self.classes.or(c.classes);
        c.m = self.m.unwrap_or(c.m);
        c.lambda = self.lambda.unwrap_or(c.lambda);
        c.measurement = self.measurement.unwrap_or(c.measurement);
        c.lr = self.lr.unwrap_or(c.lr);
        c.arch_lr = self.arch_lr.unwrap_or(c.arch_lr);
        c.cutout = self.cutout.or(c.cutout);
        c.epsilon = self.epsilon.unwrap_or(c.epsilon);
        c.max_params = self.max_params.unwrap_or(c.max_params);
        c.auxiliary_weight = self.auxiliary_weight.unwrap_or(c.auxiliary_weight);
        c.drop_path = self.drop_path.unwrap_or(c.drop_path);
        c
    }
}

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

/// Runs `ista-nas search --one-stage`, or continues one with `--resume`.
pub fn run(args: &SearchArgs) -> anyhow::Result<()> {
    let (resumed, checkpoint, config) = match &args.resume {
        Some(dir) => {
            ista_nas::run_lock::hold_existing(dir)?;
            let run = RunDir { path: dir.clone() };
            let checkpoint =
                OneStageCheckpoint::load(&run.checkpoint_path()).context("cannot resume")?;
            println!(
                "resuming {} after epoch {}",
                dir.display(),
                checkpoint.header.epochs_done
            );
            let config = checkpoint.header.config.clone();
            if let Some(problem) = config.problem() {
                bail!("the checkpoint's settings: {problem}");
            }
            (Some(run), Some(checkpoint), config)
        }
        None => {
            // a folder that exists is claimed before anything else (a new one when it is made)
            if let Some(out) = &args.out {
                ista_nas::run_lock::hold_existing(out)?;
            }
            let config = args.one_stage_config();
            if let Some(problem) = config.problem() {
                bail!(problem);
            }
            (None, None, config)
        }
    };
    let splits = super::data::read_usable(
        config.data.as_deref().map(Path::new),
        config.format,
        (config.train_images, config.test_images),
        config.classes,
        true,
    )?;
    let auxiliary = config.auxiliary_weight > 0.0;
    super::data::supernet_for(&splits, config.channels, config.layers, auxiliary)?;
    let (train, test) = (splits.train.clone(), splits.test.clone());
    super::data::check_batch(config.batch_size, train.len(), "training images")?;
    let mut config = config;
    config.norm = Some(super::data::normalization(
        config.norm.as_ref(),
        &splits,
        &train,
        false,
    )?);
    let devices = super::device::open_all(args.device, &args.devices)?;
    let selected = &devices[0];
    let run = match resumed {
        Some(run) => run,
        None => run_folder::create(args.out.clone(), "search-one-stage", config.seed, &config)?,
    };
    println!(
        "data: {} — {} training images, {} test images, {} classes",
        splits.source,
        train.len(),
        test.len(),
        splits.class_names.len()
    );
    let mut history = checkpoint
        .as_ref()
        .map(|c| c.header.history.clone())
        .unwrap_or_default();
    let mut events = EventLog::create(&run, history.len())?;
    let mut search = match checkpoint {
        Some(c) => OneStageSearch::resume(c, train, test, &selected.device)?,
        None => OneStageSearch::new(
            config.clone(),
            train,
            test,
            splits.class_names,
            &selected.device,
        )?,
    };
    let others: Vec<_> = devices[1..].iter().map(|s| s.device.clone()).collect();
    search.use_devices(&others);
    println!(
        "one-stage ISTA-NAS m={} λ={:e} ε={:e}, C={} L={}: up to {} search epochs, then {} training epochs, of {} batches of {}; run folder {}",
        config.m,
        config.lambda,
        config.epsilon,
        config.channels,
        config.layers,
        config.search_epochs,
        config.epochs,
        search.batches_per_epoch(),
        config.batch_size,
        run.path.display()
    );
    while !search.finished() {
        let prefix = match search.phase() {
            Phase::Search => format!("epoch {} (search)", search.epochs_done + 1),
            Phase::Train => format!(
                "epoch {} (train {}/{})",
                search.epochs_done + 1,
                search.epochs_done - search.search_epochs_done + 1,
                config.epochs
            ),
        };
        let bar = progress_bar(prefix, search.batches_per_epoch());
        let record = search.run_epoch(&mut |step| show_step(&bar, step))?;
        bar.finish_and_clear();
        print_epoch(&record);
        history.push(record);
        super::run_folder::write_curves(&run, &mut events, &one_stage_curves(&history))?;
        write_epoch(&run, &history, &search.checkpoint(&history)?)?;
    }
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
        "results in {}: folded.model, folded.safetensors, genotype.json, metrics.csv, curves.svg (+ curves.json, tensorboard/), normal.svg, reduce.svg (+ .dot), config.json, checkpoint.bin",
        run.path.display()
    );
    Ok(())
}
