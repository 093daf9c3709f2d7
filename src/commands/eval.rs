//! `ista-nas eval`: score a saved model on a test set (top-1, top-5, loss).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ista_nas::data::loader::BatchPlan;
use ista_nas::data::stream::ImageSet;
use ista_nas::devices::adapter::DeviceChoice;
use ista_nas::model::heads::NetKind;
use ista_nas::storage::framed;
use ista_nas::storage::model_file::{ModelHeader, build_model, read_model};
use ista_nas::train::evaluate::evaluate_with;

use super::options::DataSource;
use super::supernet_score::score_search;

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
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, help = super::DEVICE_HELP)]
    pub device: DeviceChoice,
    /// Model file written by `ista-nas train` (best.model or last.model) or by a one-stage search (folded.model).
    #[arg(long, required_unless_present = "search")]
    pub model: Option<PathBuf>,
    /// Score the supernet of a search run folder instead, with the architecture it ended with: on its val half (one-stage: on the test split), with the run's own data and settings.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["model", "data", "format", "split", "images"])]
    pub search: Option<PathBuf>,
    /// With --search: first recompute the supernet's BN statistics as the mean over N augmented training batches (0: keep the search's running averages, as the reference code scores).
    #[arg(long, value_name = "N")]
    pub recalibrate_bn: Option<usize>,
    #[command(flatten)]
    pub source: DataSource,
    /// Split to score.
    #[arg(long, value_enum, default_value_t = Split::Test)]
    pub split: Split,
    /// Score only the first N images of the split.
    #[arg(long)]
    pub images: Option<usize>,
    /// Images per batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Also write every image's logits as CSV: its index in the split, its label, the predicted class, then one column per class (full f32 precision).
    #[arg(long, value_name = "CSV", conflicts_with = "search")]
    pub logits: Option<PathBuf>,
}

/// Runs `ista-nas eval`.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    if args.recalibrate_bn.is_some() && args.search.is_none() {
        bail!("--recalibrate-bn recomputes a supernet's BN statistics: give --search RUN_DIR");
    }
    let model_path = match (&args.model, &args.search) {
        (_, Some(dir)) => return eval_search(dir, args.recalibrate_bn.unwrap_or(0), args.device),
        (Some(path), None) => path.clone(),
        (None, None) => bail!("give --model FILE or --search RUN_DIR"),
    };
    let cannot_load = || "cannot load --model";
    let (header, record) = read_model(&model_path).with_context(cannot_load)?;
    let net = &header.network;
    let (data, source) = images_to_score(&args, &header)?;
    let selected = super::device::open(args.device)?;
    let model =
        build_model(&header, record, &model_path, &selected.device).with_context(cannot_load)?;
    println!(
        "model: {} ({:?} net C={} L={}, trained {} epochs, saved with test top-1 {:.2} %)",
        model_path.display(),
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
    let mut logits = Vec::new(); // [images · classes]
    let mut forward = |x| {
        let y = model.forward(x); // [B, classes]
        if args.logits.is_some() {
            logits.extend(y.clone().into_data().iter::<f32>());
        }
        Ok(y)
    };
    let scores = evaluate_with(
        &mut forward,
        &data,
        &plan,
        &selected.device,
        &mut |done, _| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    if let Some(path) = &args.logits {
        write_logits(path, &logits, data.as_ref(), &header.class_names)
            .with_context(|| format!("cannot write --logits {}", path.display()))?;
    }
    println!(
        "{count} images of {}: top-1 {:.2} %, top-5 {:.2} %, loss {:.4}",
        source,
        100.0 * scores.top1,
        100.0 * scores.top5,
        scores.loss
    );
    Ok(())
}

/// Writes `logits` (row-major, one row per image of `data` in order) as CSV under a header
/// naming `classes`.
fn write_logits(
    path: &Path,
    logits: &[f32],
    data: &dyn ImageSet,
    classes: &[String],
) -> anyhow::Result<()> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = ["image", "label", "predicted"].map(String::from);
    out.write_record(header.iter().chain(classes))?;
    for (i, row) in logits.chunks(classes.len()).enumerate() {
        let best = (0..row.len()).fold(0, |b, k| if row[k] > row[b] { k } else { b });
        let mut record = vec![i.to_string(), data.label(i).to_string(), best.to_string()];
        record.extend(row.iter().map(f32::to_string));
        out.write_record(&record)?;
    }
    framed::write_atomic(path, &out.into_inner()?)?;
    Ok(())
}

/// The images `args` asks to score, checked against the model `header` describes, and where
/// they came from. ImageFolder data of an ImageNet-protocol model is streamed from disk, at any
/// image size.
fn images_to_score(
    args: &EvalArgs,
    header: &ModelHeader,
) -> anyhow::Result<(Arc<dyn ImageSet>, String)> {
    let net = &header.network;
    let limits = match args.split {
        Split::Test => (None, args.images),
        Split::Train => (args.images, None),
    };
    let images = super::data::run_images(
        (args.source.data.as_deref(), args.source.format),
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
    Ok((data, images.source))
}

/// `eval --search RUN_DIR`: the search's supernet scored again (see [`score_search`]).
fn eval_search(dir: &Path, bn_batches: usize, device: DeviceChoice) -> anyhow::Result<()> {
    let selected = super::device::open(device)?;
    let score = score_search(dir, bn_batches, &selected.device)
        .with_context(|| format!("cannot score the supernet of --search {}", dir.display()))?;
    let statistics = match bn_batches {
        0 => "the search's running BN statistics".to_string(),
        n => format!("BN statistics recomputed on {n} training batches"),
    };
    println!(
        "supernet of {} after {} epochs, {statistics}: {} accuracy {:.2} %, loss {:.4}",
        dir.display(),
        score.epochs,
        score.split,
        100.0 * score.accuracy,
        score.loss
    );
    if let Some(recorded) = score.recorded_accuracy {
        println!(
            "(the search recorded {:.2} % after its last search epoch, with that epoch's architecture and statistics)",
            100.0 * recorded
        );
    }
    Ok(())
}
