//! `ista-nas train`: train a genotype from scratch with the paper's protocol (or a short run
//! on the embedded data), with a run folder, progress bars, best/last models and resume.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use ista_nas::curves::RunCurves;
use ista_nas::model::heads::NetKind;
use ista_nas::optim::StepReport;
use ista_nas::optim::lr_plan::{low_lr_warning, lr_plan_line};
use ista_nas::search_space::genotype::Genotype;
use ista_nas::settings::presets::PresetCommand;
use ista_nas::step_metrics::{EpochEnd, StepControl};
use ista_nas::storage::run_dir::RunDir;
use ista_nas::train::checkpoint::{
    TrainCheckpoint, TrainCheckpointHeader, best_epoch, train_curves, write_genotype,
};
use ista_nas::train::config::{Schedule, TrainConfig};
use ista_nas::train::trainer::{TrainRecord, Trainer};
use serde_json::{Map, Value};

use super::options::{DataOptions, DeviceOptions, RunOptions, put, settings};
use super::run_driver::{self, EpochRun, minutes};
use super::run_folder;

/// The help of `train --preset`.
const PRESET_HELP: &str = "Settings to start from: quick (a short run of a small net on the embedded data: C=4, L=5, 3 epochs of 1,024 images, batch 32, lr 0.1, no auxiliary head), cifar (the CIFAR-10 protocol: C=36, L=20, auxiliary 0.4, 600 epochs, batch 96, lr 0.025 cosine, cutout 16, drop path 0.2), imagenet (the ImageNet protocol: C=48, L=14, 250 epochs, batch 1024, lr 0.5 with 5 warm-up epochs then linear decay, label smoothing 0.1), or a JSON file of settings layered over the built-in its \"preset\" key names (default quick). The built-ins are presets/train-*.json; the options below override them";

/// Options of `ista-nas train`.
#[derive(Args, Clone, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub devices: DeviceOptions,
    /// The architecture: a built-in name (DARTS_V2, ISTA_NAS, ISTA_NAS_ONE_STAGE, ISTA_NAS_IMAGENET), genotype JSON (inline or a file, e.g. a search's genotype.json), a DARTS `Genotype(...)` literal (inline or in a file), or NAME@genotypes.py; default: ISTA_NAS, or --config's.
    #[arg(long)]
    pub genotype: Option<String>,
    #[arg(long, default_value = "quick", help = PRESET_HELP)]
    pub preset: String,
    #[command(flatten)]
    pub data: DataOptions,
    #[command(flatten)]
    pub run: RunOptions,
    /// Epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed of weights, data order, augmentation and drop path.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Initial channels C.
    #[arg(long)]
    pub channels: Option<usize>,
    /// Cells L.
    #[arg(long)]
    pub layers: Option<usize>,
    /// Learning rate: the schedule's peak, whatever the batch size.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning rate the cosine schedule ends at (default 0, as the reference); it is stepped before each epoch, so the last epoch trains at it.
    #[arg(long)]
    pub lr_min: Option<f64>,
    /// Auxiliary-head loss weight (0 removes the head).
    #[arg(long)]
    pub auxiliary_weight: Option<f64>,
    /// Final drop-path probability (rises linearly from 0).
    #[arg(long)]
    pub drop_path: Option<f64>,
    /// Cutout side in pixels (0: none).
    #[arg(long)]
    pub cutout: Option<usize>,
    /// SGD weight decay.
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Label smoothing (0: none).
    #[arg(long)]
    pub label_smoothing: Option<f64>,
    /// Warm-up epochs (ImageNet schedule).
    #[arg(long)]
    pub warmup_epochs: Option<usize>,
    /// Network input side in pixels (CIFAR protocol: smaller images are centred on zeros; ImageNet protocol: the crop side, evaluation resizing to 256/224 of it).
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Build the one-stage net (extra BN after pool and identity ops); on by default for ISTA_NAS_ONE_STAGE on CIFAR (on ImageNet the reference trains the plain network for every genotype).
    #[arg(long)]
    pub one_stage_net: bool,
    /// Train once per seed (e.g. 0,1,2), one after the other, into OUT/seed-<seed>/, then print the report of `ista-nas report OUT`; run it again to continue a stopped set.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["seed", "resume"])]
    pub seeds: Option<Vec<u64>>,
}

impl TrainArgs {
    /// The options given, put into `settings` (keys of `config.json`) over the preset's.
    fn apply(&self, c: &mut Map<String, Value>) -> anyhow::Result<()> {
        if let Some(name) = &self.genotype {
            let genotype = Genotype::load(name).context("--genotype")?;
            c.insert("genotype".into(), serde_json::to_value(genotype)?);
            // ISTA_NAS_ONE_STAGE's CIFAR network has the one-stage BN; on ImageNet the
            // reference builds the plain network for every genotype
            let imagenet = c.get("kind").and_then(Value::as_str) == Some("imagenet");
            let one_stage = Genotype::names_one_stage(name) && !imagenet;
            c.insert(
                "extra_norms".into(),
                (self.one_stage_net || one_stage).into(),
            );
        } else if self.one_stage_net {
            c.insert("extra_norms".into(), true.into());
        }
        self.data.put(c);
        self.run.put(c);
        put(c, "epochs", self.epochs);
        put(c, "batch_size", self.batch_size);
        put(c, "seed", self.seed);
        put(c, "channels", self.channels);
        put(c, "layers", self.layers);
        put(c, "lr", self.lr);
        put(c, "lr_min", self.lr_min);
        put(c, "auxiliary_weight", self.auxiliary_weight);
        put(c, "drop_path", self.drop_path);
        put(c, "cutout", self.cutout.map(|s| (s > 0).then_some(s)));
        put(c, "weight_decay", self.weight_decay);
        put(c, "label_smoothing", self.label_smoothing);
        put(c, "warmup_epochs", self.warmup_epochs);
        put(c, "image_size", self.image_size);
        // evaluation resizes by the protocol's ratio, 256 for 224
        put(
            c,
            "eval_resize",
            self.image_size.map(|s| (s * 256).div_ceil(224)),
        );
        Ok(())
    }

    fn config(&self) -> anyhow::Result<TrainConfig> {
        let mut c = self
            .run
            .base(PresetCommand::Train, &self.preset, None, &["genotype"])?;
        if !c.contains_key("genotype") {
            let genotype = Genotype::load("ISTA_NAS").context("the default genotype")?;
            c.insert("genotype".into(), serde_json::to_value(genotype)?);
        }
        self.apply(&mut c)?;
        settings(c, "the training's settings")
    }

    /// Refuses options a resumed run would ignore (it keeps its checkpoint's settings).
    fn refuse_with_resume(&self) -> anyhow::Result<()> {
        let mut given = Map::new();
        self.apply(&mut given)?;
        self.run.refuse_with_resume(&given)
    }
}

fn print_epoch(r: &TrainRecord, epochs: usize) {
    let mem = r
        .peak_memory_bytes
        .map(|b| format!(", peak pool memory {:.1} MiB", b as f64 / 1048576.0))
        .unwrap_or_default();
    println!(
        "epoch {}/{epochs}: train loss {:.4} acc {:.2} %, test loss {:.4} top-1 {:.2} % top-5 {:.2} %, lr {:.5}, drop path {:.3}, {:.1} s{mem}",
        r.epoch,
        r.train_loss,
        100.0 * r.train_acc,
        r.test.loss,
        100.0 * r.test.top1,
        100.0 * r.test.top5,
        r.lr,
        r.drop_path,
        r.seconds
    );
}

/// Runs `ista-nas train --seeds`: one training per seed in its own sub-folder, each resumed
/// when stopped and kept when finished, then the report.
fn run_seeds(args: TrainArgs, seeds: Vec<u64>) -> anyhow::Result<()> {
    let mut distinct = seeds.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != seeds.len() {
        bail!("--seeds lists a seed twice");
    }
    if let Some(problem) = args.config()?.problem() {
        bail!(problem);
    }
    let folder =
        args.run.out.clone().unwrap_or_else(|| {
            PathBuf::from(format!("runs/train-seeds-{}", run_folder::unix_time()))
        });
    for (i, &seed) in seeds.iter().enumerate() {
        let dir = folder.join(format!("seed-{seed}"));
        let mut one = TrainArgs {
            seeds: None,
            seed: Some(seed),
            ..args.clone()
        };
        one.run.out = Some(dir.clone());
        let checkpoint = RunDir { path: dir.clone() }.checkpoint_path();
        if checkpoint.exists() {
            let saved = TrainCheckpoint::load(&checkpoint).context("cannot continue the set")?;
            let mut wanted = one.config()?;
            wanted.data.norm.clone_from(&saved.header.config.data.norm);
            if saved.header.config != wanted {
                bail!(
                    "{} holds a run with other settings than these; choose another --out",
                    dir.display()
                );
            }
            if saved.header.epochs_done >= wanted.epochs {
                println!("seed {seed} ({}/{}): finished, kept", i + 1, seeds.len());
                continue;
            }
            one.run.out = None;
            one.run.resume = Some(dir.clone());
        }
        println!("seed {seed} ({}/{}): {}", i + 1, seeds.len(), dir.display());
        run(one)?;
    }
    println!();
    super::report::run(super::report::ReportArgs { dirs: vec![folder] })
}

/// The images of the run `config` describes, checked against its network; `config` keeps
/// their normalisation.
fn images_for(config: &mut TrainConfig) -> anyhow::Result<super::data::RunImages> {
    let images = super::data::run_images(
        (
            config.data.folder.as_deref().map(Path::new),
            config.data.format,
        ),
        (config.data.train_images, config.test_images),
        config.data.classes,
        config.data.norm.as_ref(),
        (config.kind == NetKind::Imagenet, config.image_size),
    )?;
    super::data::check_batch(config.batch_size, images.train.len(), "training images")?;
    config.data.norm = Some(images.norm.clone());
    let network = config.network(images.class_names.len(), images.train.channels());
    if let Some(why) = network.input_problem(config.image_size) {
        bail!("--image-size {}: {why}", config.image_size);
    }
    Ok(images)
}

impl EpochRun for Trainer {
    type Record = TrainRecord;
    const COMMAND: &'static str = "train";

    fn finished(&self) -> bool {
        self.epochs_done >= self.config.epochs
    }

    fn label(&self) -> String {
        format!("epoch {}/{}", self.epochs_done + 1, self.config.epochs)
    }

    fn batches_per_epoch(&self) -> usize {
        Trainer::batches_per_epoch(self)
    }

    fn run_epoch(
        &mut self,
        progress: &mut dyn FnMut(StepReport) -> StepControl,
    ) -> ista_nas::Result<EpochEnd<TrainRecord>> {
        Trainer::run_epoch(self, progress)
    }

    fn print(&self, record: &TrainRecord) {
        print_epoch(record, self.config.epochs);
    }

    fn curves(&self, history: &[TrainRecord]) -> RunCurves {
        train_curves(history)
    }

    fn save(&self, run: &RunDir, history: &[TrainRecord]) -> anyhow::Result<()> {
        Ok(self.write_epoch(run, history)?)
    }

    fn save_paused(&self, run: &RunDir, history: &[TrainRecord]) -> anyhow::Result<()> {
        Ok(self.checkpoint(history)?.save(&run.checkpoint_path())?)
    }

    fn checkpoint_every(&self) -> Option<Duration> {
        minutes(self.config.checkpoint_every)
    }
}

/// Runs `ista-nas train`.
pub fn run(mut args: TrainArgs) -> anyhow::Result<()> {
    if let Some(seeds) = args.seeds.take() {
        return run_seeds(args, seeds);
    }
    args.refuse_with_resume()?;
    // Settings, checkpoint and data are checked before the device is opened, and a new run's
    // folder is created only once they are, so bad input leaves none.
    let start = run_driver::start::<TrainCheckpointHeader, 2>(
        &args.run,
        args.epochs,
        || args.config(),
        TrainConfig::problem,
    )?;
    let mut config = start.config.clone();
    let images = images_for(&mut config)?;
    let devices = args.devices.open()?;
    let new_run = start.resumed.is_none();
    let run_driver::Opened {
        run,
        checkpoint,
        mut history,
    } = start.folder("train", config.seed, &config)?;
    if new_run {
        write_genotype(&run, &config.genotype)?;
    }
    println!(
        "data: {} — {} training and {} test images, {} classes",
        images.source,
        images.train.len(),
        images.test.len(),
        images.class_names.len()
    );
    let data = (images.train, images.test);
    let mut trainer = Trainer::on_images(
        config.clone(),
        data,
        images.class_names,
        images.norm,
        &devices[0].device,
    );
    let others: Vec<_> = devices[1..].iter().map(|s| s.device.clone()).collect();
    trainer.use_devices(&others);
    if let Some(c) = checkpoint {
        trainer.restore(c)?;
    }
    let counts = ista_nas::model::complexity::complexity(&trainer.network, config.image_size);
    println!(
        "train: {:?} net C={} L={}, {} parameters (+{} auxiliary), lr {}, {} epochs of {} batches of {}; run folder {}",
        config.kind,
        config.channels,
        config.layers,
        counts.params,
        counts.aux_params,
        config.sgd.lr,
        config.epochs,
        trainer.batches_per_epoch(),
        config.batch_size,
        run.path.display()
    );
    let lr_at = |e| config.lr_at(e);
    println!("{}", lr_plan_line(lr_at, config.epochs));
    let why = match config.schedule {
        Schedule::Cosine => {
            "the cosine schedule is stepped before each epoch, as the reference does, so the \
             last epoch trains at --lr-min"
        }
        Schedule::WarmupLinear => "the ImageNet protocol's schedule decays linearly to near 0",
    };
    if let Some(warning) = low_lr_warning(lr_at, config.epochs, config.sgd.lr, why) {
        eprintln!("{warning}");
    }
    run_driver::drive(&run, &mut trainer, &mut history)?;
    if let Some(best) = best_epoch(&history) {
        let r = &history[best];
        println!(
            "best: epoch {} with test top-1 {:.2} % (best.model)",
            r.epoch,
            100.0 * r.test.top1
        );
    }
    println!(
        "results in {}: best.model, last.model (+ .safetensors), metrics.csv, curves.svg (+ curves.json, tensorboard/), genotype.json, config.json, checkpoint.bin",
        run.path.display()
    );
    Ok(())
}
