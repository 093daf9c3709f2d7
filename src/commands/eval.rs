//! `ista-nas eval`: score a saved model on a test set (top-1, top-5, loss).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ista_nas::data::DataFormat;
use ista_nas::data::loader::BatchPlan;
use ista_nas::device::DeviceChoice;
use ista_nas::framed;
use ista_nas::model::eval_network::NetKind;
use ista_nas::train::evaluate::evaluate;
use ista_nas::train::model_file::{build_model, parse_model};

/// Which split to score.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Split {
    /// The test images.
    Test,
    /// The training images (no augmentation).
    Train,
}

/// Options of `ista-nas eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Compute device: auto (the best hardware GPU, else Burn's CPU backend), vulkan (any Vulkan adapter, lavapipe included), metal, dx12, or cpu (Burn's CPU backend).
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Model file written by `ista-nas train` (best.model or last.model) or by a one-stage search (folded.model).
    #[arg(long)]
    pub model: PathBuf,
    /// Data folder (IDX, CIFAR-10 binary or ImageFolder); default: the embedded Fashion-MNIST subset.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Layout of `--data`; detected when omitted.
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
    /// Split to score.
    #[arg(long, value_enum, default_value_t = Split::Test)]
    pub split: Split,
    /// Score only the first N images of the split.
    #[arg(long)]
    pub images: Option<usize>,
    /// Images per batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
}

/// Runs `ista-nas eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let cannot_load = || format!("cannot load --model {}", args.model.display());
    let bytes = framed::read(&args.model).with_context(cannot_load)?;
    let (header, record) = parse_model(&bytes, &args.model).with_context(cannot_load)?;
    let net = &header.network;
    let limits = match args.split {
        Split::Test => (None, args.images),
        Split::Train => (args.images, None),
    };
    // ImageFolder data of an ImageNet-protocol model is streamed from disk, at any image size.
    let images = super::data::run_images(
        (args.data.as_deref(), args.format),
        limits,
        None,
        None,
        (net.kind == NetKind::Imagenet, header.augment.size),
    )?;
    let data = match args.split {
        Split::Test => images.test.clone(),
        Split::Train => images.train.clone(),
    };
    if data.channels() != net.in_channels || images.class_names.len() != net.classes {
        bail!(
            "the model takes {}-channel images of {} classes; {} has {}-channel images of {} classes",
            net.in_channels,
            net.classes,
            images.source,
            data.channels(),
            images.class_names.len()
        );
    }
    if data.is_empty() {
        bail!("no images to score in {}", images.source);
    }
    let selected = super::device::open(args.device)?;
    let model =
        build_model(&header, record, &args.model, &selected.device).with_context(cannot_load)?;
    println!(
        "model: {} ({:?} net C={} L={}, trained {} epochs, saved with test top-1 {:.2} %)",
        args.model.display(),
        net.kind,
        net.channels,
        net.layers,
        header.epoch,
        100.0 * header.scores.top1
    );
    let plan = BatchPlan {
        batch_size: args.batch_size,
        shuffle: false,
        augment: header.augment.clone(),
        norm: header.norm.clone(),
    };
    let bar = ProgressBar::new(plan.batches(data.len()) as u64).with_style(
        ProgressStyle::with_template("eval [{bar:30}] {pos}/{len} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let count = data.len();
    let scores = evaluate(&model, &data, &plan, &selected.device, &mut |done, _| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    println!(
        "{count} images of {}: top-1 {:.2} %, top-5 {:.2} %, loss {:.4}",
        images.source,
        100.0 * scores.top1,
        100.0 * scores.top5,
        scores.loss
    );
    Ok(())
}
