//! `ista-nas train`: train a genotype from scratch with the paper's protocol (or a short run
//! on the embedded data), with a run folder, progress bars, best/last models and resume.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use ista_nas::curves::tensorboard::EventLog;
use ista_nas::curves::train_curves;
use ista_nas::data::DataFormat;
use ista_nas::genotype::Genotype;
use ista_nas::model::eval_network::NetKind;
use ista_nas::model::skeleton::shape_problem;
use ista_nas::run_dir::RunDir;
use ista_nas::train::checkpoint::{TrainCheckpoint, best_epoch, write_genotype};
use ista_nas::train::config::TrainConfig;
use ista_nas::train::trainer::{TrainRecord, Trainer};

use super::run_folder::{self, epoch_bar, show_step};

/// Starting points for the settings.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TrainPreset {
    /// A short run of a small net on the embedded data: C=4, L=5, 3 epochs of 1,024 images, batch 32, lr 0.1, no auxiliary head.
    Quick,
    /// The CIFAR-10 protocol: C=36, L=20, auxiliary 0.4, 600 epochs, batch 96, lr 0.025 cosine, cutout 16, drop path 0.2.
    Cifar,
    /// The ImageNet protocol: C=48, L=14, 250 epochs, batch 1024, lr 0.5 (5 warm-up epochs, linear decay), label smoothing 0.1.
    Imagenet,
}

/// Options of `ista-nas train`.
#[derive(Args, Clone, Debug)]
pub struct TrainArgs {
    #[arg(long, value_enum, default_value_t = ista_nas::device::DeviceChoice::Auto, help = super::DEVICE_HELP)]
    pub device: ista_nas::device::DeviceChoice,
    /// Devices for synchronous data parallel: a count N (adapters 0..N of the kind --device picks) or indices such as 0,2. Each batch is split across them, gradients are summed into one optimiser step; BatchNorm uses each device's share (as PyTorch's DDP). A software adapter or the CPU backend gives logical devices that share it (for checks, no speed-up).
    #[arg(long, default_value = "1")]
    pub devices: ista_nas::devices::DeviceList,
    /// The architecture: a built-in name (DARTS_V2, ISTA_NAS, ISTA_NAS_ONE_STAGE, ISTA_NAS_IMAGENET) or a genotype JSON file (e.g. a search's genotype.json).
    #[arg(long, default_value = "ISTA_NAS")]
    pub genotype: String,
    /// Settings to start from; the options below override them.
    #[arg(long, value_enum, default_value_t = TrainPreset::Quick)]
    pub preset: TrainPreset,
    /// Data folder (IDX, CIFAR-10 binary or ImageFolder with train/ and test/); default: the embedded Fashion-MNIST subset.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Layout of `--data`; detected when omitted.
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
    /// Run folder (default: runs/train-<seed>-<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the stopped run in this folder (its settings come from its checkpoint).
    #[arg(long, conflicts_with_all = ["out", "data", "format", "genotype", "preset", "epochs", "batch_size", "seed", "channels", "layers", "train_images", "test_images", "classes", "lr", "auxiliary_weight", "drop_path", "cutout", "weight_decay", "label_smoothing", "warmup_epochs", "image_size", "one_stage_net"])]
    pub resume: Option<PathBuf>,
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
    /// Use only the first N training images.
    #[arg(long)]
    pub train_images: Option<usize>,
    /// Score on only the first N test images.
    #[arg(long)]
    pub test_images: Option<usize>,
    /// Classes K, stated on purpose: needed when the labels name fewer classes than you want, or when the class count is inferred from the largest label (IDX) and some class has no training image.
    #[arg(long)]
    pub classes: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
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
    /// Build the one-stage net (extra BN after pool and identity ops); on by default for ISTA_NAS_ONE_STAGE.
    #[arg(long)]
    pub one_stage_net: bool,
    /// Train once per seed (e.g. 0,1,2), one after the other, into OUT/seed-<seed>/, then print the report of `ista-nas report OUT`; run it again to continue a stopped set.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["seed", "resume"])]
    pub seeds: Option<Vec<u64>>,
}

impl TrainArgs {
    fn config(&self) -> anyhow::Result<TrainConfig> {
        let genotype = Genotype::load(&self.genotype).context("--genotype")?;
        let mut c = match self.preset {
            TrainPreset::Quick => TrainConfig::quick(genotype),
            TrainPreset::Cifar => TrainConfig::cifar(genotype),
            TrainPreset::Imagenet => TrainConfig::imagenet(genotype),
        };
        if let Some(path) = &self.data {
            c.data = Some(path.display().to_string());
            c.train_images = None;
        }
        c.format = self.format.or(c.format);
        c.epochs = self.epochs.unwrap_or(c.epochs);
        c.batch_size = self.batch_size.unwrap_or(c.batch_size);
        c.seed = self.seed.unwrap_or(c.seed);
        c.channels = self.channels.unwrap_or(c.channels);
        c.layers = self.layers.unwrap_or(c.layers);
        c.train_images = self.train_images.or(c.train_images);
        c.test_images = self.test_images.or(c.test_images);
        c.classes = self.classes.or(c.classes);
        c.lr = self.lr.unwrap_or(c.lr);
        c.auxiliary_weight = self.auxiliary_weight.unwrap_or(c.auxiliary_weight);
        c.drop_path = self.drop_path.unwrap_or(c.drop_path);
        c.cutout = self
            .cutout
            .map(|s| (s > 0).then_some(s))
            .unwrap_or(c.cutout);
        c.weight_decay = self.weight_decay.unwrap_or(c.weight_decay);
        c.label_smoothing = self.label_smoothing.unwrap_or(c.label_smoothing);
        c.warmup_epochs = self.warmup_epochs.unwrap_or(c.warmup_epochs);
        if let Some(size) = self.image_size {
            c.image_size = size;
            // Evaluation resizes by the protocol's ratio, 256 for 224.
            c.eval_resize = (size * 256).div_ceil(224);
        }
        c.extra_norms = self.one_stage_net || Genotype::names_one_stage(&self.genotype);
        Ok(c)
    }
}

fn check(c: &TrainConfig) -> anyhow::Result<()> {
    if c.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    if let Some(problem) = shape_problem(c.channels, c.layers, c.batch_size) {
        bail!(problem);
    }
    if !(0.0..1.0).contains(&c.drop_path) || !(0.0..1.0).contains(&c.label_smoothing) {
        bail!("--drop-path and --label-smoothing must lie in [0, 1)");
    }
    if c.kind == NetKind::Imagenet && c.warmup_epochs >= c.epochs {
        bail!("--warmup-epochs must be fewer than --epochs");
    }
    Ok(())
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
    check(&args.config()?)?;
    let folder = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/train-seeds-{}", run_folder::unix_time())));
    for (i, &seed) in seeds.iter().enumerate() {
        let dir = folder.join(format!("seed-{seed}"));
        let mut one = TrainArgs {
            seeds: None,
            seed: Some(seed),
            out: Some(dir.clone()),
            ..args.clone()
        };
        let checkpoint = RunDir { path: dir.clone() }.checkpoint_path();
        if checkpoint.exists() {
            let saved = TrainCheckpoint::load(&checkpoint).context("cannot continue the set")?;
            let mut wanted = one.config()?;
            wanted.norm.clone_from(&saved.header.config.norm);
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
            one.out = None;
            one.resume = Some(dir.clone());
        }
        println!("seed {seed} ({}/{}): {}", i + 1, seeds.len(), dir.display());
        run(one)?;
    }
    println!();
    super::report::run(super::report::ReportArgs { dirs: vec![folder] })
}

/// Runs `ista-nas train`.
pub fn run(mut args: TrainArgs) -> anyhow::Result<()> {
    if let Some(seeds) = args.seeds.take() {
        return run_seeds(args, seeds);
    }
    // Settings, checkpoint and data are checked before the device is opened, and a new run's
    // folder is created only once they are, so bad input leaves none.
    let (resumed, checkpoint, config) = match &args.resume {
        Some(dir) => {
            ista_nas::run_lock::hold_existing(dir)?;
            let run = RunDir { path: dir.clone() };
            let checkpoint =
                TrainCheckpoint::load(&run.checkpoint_path()).context("cannot resume")?;
            println!(
                "resuming {} after epoch {}",
                dir.display(),
                checkpoint.header.epochs_done
            );
            let config = checkpoint.header.config.clone();
            config
                .genotype
                .validate()
                .context("the checkpoint's genotype")?;
            check(&config)?;
            (Some(run), Some(checkpoint), config)
        }
        None => {
            // a folder that exists is claimed before anything else (a new one when it is made)
            if let Some(out) = &args.out {
                ista_nas::run_lock::hold_existing(out)?;
            }
            let config = args.config()?;
            check(&config)?;
            (None, None, config)
        }
    };
    let images = super::data::run_images(
        (config.data.as_deref().map(Path::new), config.format),
        (config.train_images, config.test_images),
        config.classes,
        config.norm.as_ref(),
        (config.kind == NetKind::Imagenet, config.image_size),
    )?;
    super::data::check_batch(config.batch_size, images.train.len(), "training images")?;
    let mut config = config;
    config.norm = Some(images.norm.clone());
    let network = config.network(images.class_names.len(), images.train.channels());
    if let Some(why) = network.input_problem(config.image_size) {
        bail!("--image-size {}: {why}", config.image_size);
    }
    let devices = super::device::open_all(args.device, &args.devices)?;
    let selected = &devices[0];
    let run = match resumed {
        Some(run) => run,
        None => {
            let run = run_folder::create(args.out.clone(), "train", config.seed, &config)?;
            write_genotype(&run, &config.genotype)?;
            run
        }
    };
    println!(
        "data: {} — {} training and {} test images, {} classes",
        images.source,
        images.train.len(),
        images.test.len(),
        images.class_names.len()
    );
    let mut history = checkpoint
        .as_ref()
        .map(|c| c.header.history.clone())
        .unwrap_or_default();
    let mut events = EventLog::create(&run, history.len())?;
    let mut trainer = Trainer::on_images(
        config.clone(),
        (images.train, images.test),
        images.class_names,
        images.norm,
        &selected.device,
    );
    let others: Vec<_> = devices[1..].iter().map(|s| s.device.clone()).collect();
    trainer.use_devices(&others);
    if let Some(c) = checkpoint {
        let [model, optim] = c.records;
        trainer.restore(model, optim, c.header.epochs_done)?;
    }
    let counts = ista_nas::model::complexity::complexity(&trainer.network, config.image_size);
    println!(
        "train: {:?} net C={} L={}, {} parameters (+{} auxiliary), {} epochs of {} batches of {}; run folder {}",
        config.kind,
        config.channels,
        config.layers,
        counts.params,
        counts.aux_params,
        config.epochs,
        trainer.batches_per_epoch(),
        config.batch_size,
        run.path.display()
    );
    while trainer.epochs_done < config.epochs {
        let bar = epoch_bar(
            trainer.epochs_done,
            config.epochs,
            trainer.batches_per_epoch(),
        );
        let record = trainer.run_epoch(&mut |step| show_step(&bar, step))?;
        bar.finish_and_clear();
        print_epoch(&record, config.epochs);
        history.push(record);
        super::run_folder::write_curves(&run, &mut events, &train_curves(&history))?;
        trainer.write_epoch(&run, &history)?;
    }
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
