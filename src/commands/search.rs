//! `ista-nas search`: an ISTA-NAS, DARTS or PC-DARTS search with a run folder, progress bars and resume.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use ista_nas::curves::search_curves;
use ista_nas::curves::tensorboard::EventLog;
use ista_nas::data::DataFormat;
use ista_nas::device::DeviceChoice;
use ista_nas::framed;
use ista_nas::run_dir::RunDir;
use ista_nas::search::checkpoint::{Checkpoint, write_epoch};
use ista_nas::search::config::{Method, SearchConfig};
use ista_nas::search::one_stage::checkpoint::KIND as ONE_STAGE;
use ista_nas::search::trainer::{EpochRecord, Searcher};
use ista_nas::sparse::measurement::MeasurementKind;
use ista_nas::sparse::recovery::RecoverySolver;

use super::run_folder::{self, epoch_bar, show_step};

/// Starting points for the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// A short real search on the embedded data (C=4, L=5, 1,024 images, higher learning rates): 3 epochs, about 15 seconds on a 2-core CPU; one-stage: up to 8 search and 4 training epochs, about 1.5 minutes.
    Quick,
    /// The paper's search: C=16, L=8, 50 epochs, batch 256, all training images; one-stage: the authors' run (C=36, L=20, batch 96, auxiliary head, cutout, up to 600 search and 600 training epochs).
    Paper,
}

/// Options of `ista-nas search`.
#[derive(Args, Debug)]
pub struct SearchArgs {
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, help = super::DEVICE_HELP)]
    pub device: DeviceChoice,
    /// Devices for synchronous data parallel (two-stage and one-stage ISTA-NAS, DARTS, PC-DARTS): a count N (adapters 0..N of the kind --device picks) or indices such as 0,2. Each architecture and weight batch is split across them and their gradients summed into one step; one b (or α) for all. A software adapter or the CPU backend gives logical devices that share it (for checks, no speed-up).
    #[arg(long, default_value = "1")]
    pub devices: ista_nas::devices::DeviceList,
    /// Search method: ista (two-stage ISTA-NAS), ista-one-stage (Algorithm 2: search and train the target network in one run, freeze each node when its z converges, then fold the fixed weights into a plain network, folded.model, that `eval` loads; presets: quick, C=4, L=5 on the embedded data, or paper, C=36, L=20, auxiliary head, up to 600 + 600 epochs), darts (first order) or pc-darts.
    #[arg(long, value_enum, default_value_t = SearchMethod::Ista)]
    pub method: SearchMethod,
    /// The same as --method ista-one-stage.
    #[arg(long, conflicts_with_all = ["method", "sparsity", "solver", "partial_channels"])]
    pub one_stage: bool,
    /// Settings to start from; the options below override them.
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    pub preset: Preset,
    /// Data folder (IDX, CIFAR-10 binary or ImageFolder); default: the embedded Fashion-MNIST subset.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Layout of `--data`; detected when omitted.
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
    /// Run folder for config, metrics, genotypes and checkpoints (default: runs/search-<seed>-<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the stopped run in this folder (its settings come from its checkpoint).
    #[arg(long, conflicts_with_all = ["out", "data", "format", "epochs", "batch_size", "seed", "channels", "layers", "method", "one_stage", "preset", "train_images", "classes", "m", "sparsity", "lambda", "measurement", "solver", "lr", "arch_lr", "partial_channels", "cutout", "arch_warmup_epochs"])]
    pub resume: Option<PathBuf>,
    /// Epochs (one-stage: training epochs once the architecture is fixed).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// One-stage: most search epochs; nodes still active then are frozen as they are.
    #[arg(long)]
    pub search_epochs: Option<usize>,
    /// One-stage: a node freezes when its z moves by at most this (L2) over an epoch.
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// One-stage: reject a candidate architecture whose network has at least this many parameters (auxiliary head excluded).
    #[arg(long)]
    pub max_params: Option<u64>,
    /// One-stage: weight of the auxiliary head's loss (0: no auxiliary head).
    #[arg(long)]
    pub auxiliary_weight: Option<f64>,
    /// One-stage: final drop-path probability of the training phase.
    #[arg(long)]
    pub drop_path: Option<f64>,
    /// One-stage: score on only the first N test images.
    #[arg(long)]
    pub test_images: Option<usize>,
    /// Images per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed of weights, measurement matrices, b and data order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Initial channels C.
    #[arg(long)]
    pub channels: Option<usize>,
    /// Cells L.
    #[arg(long)]
    pub layers: Option<usize>,
    /// Use only the first N training images (halved into weight / architecture splits).
    #[arg(long)]
    pub train_images: Option<usize>,
    /// Classes K, stated on purpose: needed when the labels name fewer classes than you want, or when the class count is inferred from the largest label (IDX) and some class has no training image.
    #[arg(long)]
    pub classes: Option<usize>,
    /// Rows m of each measurement matrix.
    #[arg(long)]
    pub m: Option<usize>,
    /// Active ops per node s.
    #[arg(long)]
    pub sparsity: Option<usize>,
    /// LASSO weight λ.
    #[arg(long)]
    pub lambda: Option<f64>,
    /// How the measurement matrices are drawn.
    #[arg(long, value_enum)]
    pub measurement: Option<MeasurementKind>,
    /// LASSO solver: cpu (f64, default), gpu (f32 batch) or hybrid.
    #[arg(long, value_enum)]
    pub solver: Option<RecoverySolver>,
    /// Weight learning rate at batch 256, scaled with the batch size (one-stage: the rate itself).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Adam learning rate of b.
    #[arg(long)]
    pub arch_lr: Option<f64>,
    /// PC-DARTS's K: 1/K of the channels go through the mixed op (C must be a multiple of 2K).
    #[arg(long)]
    pub partial_channels: Option<usize>,
    /// Cutout side in pixels (off by default in search).
    #[arg(long)]
    pub cutout: Option<usize>,
    /// Epochs at the start that train the weights only, with no architecture step (PC-DARTS's warm-up; its paper preset: 15, else 0).
    #[arg(long, conflicts_with = "one_stage")]
    pub arch_warmup_epochs: Option<usize>,
}

/// The methods `search --method` takes: the two-stage ones and one-stage ISTA-NAS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SearchMethod {
    /// Two-stage ISTA-NAS.
    Ista,
    /// One-stage ISTA-NAS (Algorithm 2).
    IstaOneStage,
    /// DARTS, first order.
    Darts,
    /// PC-DARTS.
    PcDarts,
}

impl SearchArgs {
    /// Whether the run is one-stage ISTA-NAS (`--method ista-one-stage` or `--one-stage`).
    pub fn is_one_stage(&self) -> bool {
        self.one_stage || self.method == SearchMethod::IstaOneStage
    }

    /// The two-stage method of a run that is not one-stage.
    fn two_stage_method(&self) -> Method {
        match self.method {
            SearchMethod::Darts => Method::Darts,
            SearchMethod::PcDarts => Method::PcDarts,
            SearchMethod::Ista | SearchMethod::IstaOneStage => Method::Ista,
        }
    }

    fn config(&self) -> SearchConfig {
        let method = self.two_stage_method();
        let mut c = match self.preset {
            Preset::Quick => SearchConfig::quick().for_method(method, false),
            Preset::Paper => SearchConfig::paper().for_method(method, true),
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
        c.classes = self.classes.or(c.classes);
        c.m = self.m.unwrap_or(c.m);
        c.sparsity = self.sparsity.unwrap_or(c.sparsity);
        c.lambda = self.lambda.unwrap_or(c.lambda);
        c.measurement = self.measurement.unwrap_or(c.measurement);
        c.solver = self.solver.unwrap_or(c.solver);
        c.lr = self.lr.unwrap_or(c.lr);
        c.arch_lr = self.arch_lr.unwrap_or(c.arch_lr);
        c.cutout = self.cutout.or(c.cutout);
        c.arch_warmup_epochs = self.arch_warmup_epochs.unwrap_or(c.arch_warmup_epochs);
        c.partial_channels = self.partial_channels.unwrap_or(c.partial_channels);
        c
    }
}

fn check(config: &SearchConfig) -> anyhow::Result<()> {
    match config.problem() {
        Some(problem) => bail!(problem),
        None => Ok(()),
    }
}

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
}

/// Runs `ista-nas search`.
pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    let one_stage_run = args.resume.as_ref().is_some_and(|dir| {
        framed::has_signature(&RunDir { path: dir.clone() }.checkpoint_path(), ONE_STAGE)
    });
    if args.is_one_stage() || one_stage_run {
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
    let one_stage_only = [
        ("--search-epochs", args.search_epochs.is_some()),
        ("--epsilon", args.epsilon.is_some()),
        ("--max-params", args.max_params.is_some()),
        ("--auxiliary-weight", args.auxiliary_weight.is_some()),
        ("--drop-path", args.drop_path.is_some()),
        ("--test-images", args.test_images.is_some()),
    ];
    if let Some((flag, _)) = one_stage_only.iter().find(|(_, given)| *given) {
        bail!(
            "{flag} is an option of one-stage ISTA-NAS (--method ista-one-stage, or --one-stage)"
        );
    }
    // Settings, checkpoint and data are checked before the device is opened, and a new run's
    // folder is created only once they are, so bad input leaves none.
    let (resumed, checkpoint, config) = match &args.resume {
        Some(dir) => {
            ista_nas::run_lock::hold_existing(dir)?;
            let run = RunDir { path: dir.clone() };
            let checkpoint = Checkpoint::load(&run.checkpoint_path()).context("cannot resume")?;
            println!(
                "resuming {} after epoch {}",
                dir.display(),
                checkpoint.header.epochs_done
            );
            let config = checkpoint.header.config.clone();
            check(&config).context("the checkpoint's settings")?;
            (Some(run), Some(checkpoint), config)
        }
        None => {
            // a folder that exists is claimed before anything else (a new one when it is made)
            if let Some(out) = &args.out {
                ista_nas::run_lock::hold_existing(out)?;
            }
            let config = args.config();
            check(&config)?;
            (None, None, config)
        }
    };
    let splits = super::data::read_usable(
        config.data.as_deref().map(Path::new),
        config.format,
        (config.train_images, Some(0)),
        config.classes,
        false,
    )?;
    super::data::supernet_for(&splits, config.channels, config.layers, false)?;
    let (weights, arch) = splits.train.split_half();
    super::data::check_batch(
        config.batch_size,
        weights.len(),
        "images for the weights (the first half of the training images)",
    )?;
    let mut config = config;
    config.norm = Some(super::data::normalization(
        config.norm.as_ref(),
        &splits,
        &weights,
        false,
    )?);
    let classes = splits.class_names.len();
    let devices = super::device::open_all(args.device, &args.devices)?;
    let selected = &devices[0];
    let run = match resumed {
        Some(run) => run,
        None => {
            let prefix = match config.method {
                Method::Ista => "search".to_string(),
                other => format!("search-{}", other.name()),
            };
            run_folder::create(args.out.clone(), &prefix, config.seed, &config)?
        }
    };
    println!(
        "data: {} — {} images for weights, {} for the architecture, {} classes",
        splits.source,
        weights.len(),
        arch.len(),
        splits.class_names.len()
    );
    let mut history = checkpoint
        .as_ref()
        .map(|c| c.header.history.clone())
        .unwrap_or_default();
    let mut events = EventLog::create(&run, history.len())?;
    let mut search = match checkpoint {
        Some(c) => Searcher::resume(c, weights, arch, classes, &selected.device)?,
        None => Searcher::new(config.clone(), weights, arch, classes, &selected.device)?,
    };
    let others: Vec<_> = devices[1..].iter().map(|s| s.device.clone()).collect();
    search.use_devices(&others)?;
    let method = match config.method {
        Method::Ista => format!(
            "ISTA-NAS m={} s={} λ={:e}",
            config.m, config.sparsity, config.lambda
        ),
        Method::Darts => "DARTS (first order)".into(),
        Method::PcDarts => format!("PC-DARTS K={}", config.partial_channels),
    };
    println!(
        "search: {method}, C={} L={}, {} epochs of {} batches of {}; run folder {}",
        config.channels,
        config.layers,
        config.epochs,
        search.batches_per_epoch(),
        config.batch_size,
        run.path.display()
    );
    while search.epochs_done < config.epochs {
        let bar = epoch_bar(
            search.epochs_done,
            config.epochs,
            search.batches_per_epoch(),
        );
        let record = search.run_epoch(&mut |step| show_step(&bar, step))?;
        bar.finish_and_clear();
        print_epoch(&record, config.epochs);
        if record.recovery_unconverged > 0 {
            println!(
                "warning: {} of the recovery problems did not converge; their supports may be off (try --solver cpu)",
                record.recovery_unconverged
            );
        }
        history.push(record);
        super::run_folder::write_curves(
            &run,
            &mut events,
            &search_curves(config.method.name(), &history),
        )?;
        write_epoch(&run, &history, &search.checkpoint(&history)?)?;
    }
    if let Some(last) = history.last() {
        println!("genotype: {}", serde_json::to_string(&last.genotype)?);
    }
    println!(
        "results in {}: genotype.json, metrics.csv, curves.svg (+ curves.json, tensorboard/), normal.svg, reduce.svg (+ .dot), config.json, checkpoint.bin",
        run.path.display()
    );
    Ok(())
}
