//! `ista-nas data`: read a data set (or the embedded one) and summarise it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use ista_nas::data::augment::Augment;
use ista_nas::data::augment::Normalization;
use ista_nas::data::folder::TreeFindings;
use ista_nas::data::loader::{BatchPlan, EpochLoader};
use ista_nas::data::stream::{ImageSet, list_folder};
use ista_nas::data::{
    DataFormat, Dataset, Splits, detect_format, embedded, imagenet_normalization, load,
};
use ista_nas::model::skeleton::NetworkConfig;

use super::options::DataSource;

/// Options of `ista-nas data`.
#[derive(Args, Debug)]
pub struct DataArgs {
    #[command(flatten)]
    pub source: DataSource,
    /// Count only the first N training images, as a run with `--train-images N` takes them.
    #[arg(long, value_name = "N")]
    pub train_images: Option<usize>,
    /// Count only the first N test images, as a run with `--test-images N` takes them.
    #[arg(long, value_name = "N")]
    pub test_images: Option<usize>,
    /// Instead of reading the set into memory, stream N training images of an ImageFolder tree through the ImageNet training pipeline (decode, random-resized crop 224, flip, colour jitter; batches of 64) and print the images decoded per second.
    #[arg(long, value_name = "N")]
    pub throughput: Option<usize>,
}

/// Prints the images of `data` per class; `whole` is the count they were taken from (0: none).
fn describe(name: &str, data: &Dataset, class_names: &[String], whole: usize) {
    let counts: Vec<String> = (0..data.classes)
        .map(|c| {
            let n = data.labels.iter().filter(|&&l| l as usize == c).count();
            format!("{}: {n}", class_names.get(c).map_or("?", |s| s.as_str()))
        })
        .collect();
    let taken = if whole > data.len() {
        format!(" (the first {} of {whole})", data.len())
    } else {
        String::new()
    };
    println!(
        "{name}: {} images{taken} of {}x{}x{}; per class {}",
        data.len(),
        data.channels,
        data.height,
        data.width,
        counts.join(", ")
    );
}

/// Reads `data` (or the embedded set when `None`) with an error naming the folder.
pub fn read_splits(data: Option<&Path>, format: Option<DataFormat>) -> anyhow::Result<Splits> {
    match data {
        Some(path) => load(path, format).with_context(|| format!("reading {}", path.display())),
        None => embedded().context("reading the embedded data set"),
    }
}

/// Reads `data` (or the embedded set), keeps the first `images.0` training and `images.1`
/// test images, and checks that a run can learn from them (see [`Splits::usable`]).
pub fn read_usable(
    data: Option<&Path>,
    format: Option<DataFormat>,
    images: (Option<usize>, Option<usize>),
    classes: Option<usize>,
    need_test: bool,
) -> anyhow::Result<Splits> {
    let mut splits = read_splits(data, format)?;
    splits.train = splits.train.first(images.0);
    splits.test = splits.test.first(images.1);
    let splits = splits.usable(classes, need_test)?;
    print_notes(&splits.findings);
    Ok(splits)
}

/// Prints what reading an ImageFolder tree found beside its images, a line each.
fn print_notes(findings: &TreeFindings) {
    for note in findings.notes() {
        println!("{note}");
    }
}

/// An error when `batch_size` is more than the `images` a run draws its batches from (`what`
/// names them): such a run would take one smaller batch per epoch, not the batch it states.
pub fn check_batch(batch_size: usize, images: usize, what: &str) -> anyhow::Result<()> {
    if batch_size > images {
        bail!(
            "--batch-size {batch_size} is more than the {images} {what}, so every batch would hold {images}; pass --batch-size {images} or less, or more images"
        );
    }
    Ok(())
}

/// The normalisation a run of `splits` uses: `saved` when resuming (checked against the
/// images), else the reference code's fixed statistics where it fixes them (CIFAR-10, and
/// ImageNet under the ImageNet protocol, `imagenet`), else the statistics of `part`, the images
/// the run trains on.
pub fn normalization(
    saved: Option<&Normalization>,
    splits: &Splits,
    part: &Dataset,
    imagenet: bool,
) -> anyhow::Result<Normalization> {
    let norm = match saved {
        Some(norm) => norm.clone(),
        None => splits
            .reference_normalization(imagenet)
            .unwrap_or_else(|| part.normalization()),
    };
    let channels = splits.train.channels;
    let sane = |v: &[f32]| v.len() == channels && v.iter().all(|x| x.is_finite());
    if !sane(&norm.mean) || !sane(&norm.std) || norm.std.iter().any(|&s| s <= 0.0) {
        bail!(
            "the settings' normalisation (mean {:?}, std {:?}) does not fit {channels}-channel images with finite means and positive deviations",
            norm.mean,
            norm.std
        );
    }
    Ok(norm)
}

/// A training run's images: read into memory, or for ImageFolder data under the ImageNet
/// protocol listed and streamed from disk (images of any size, decoded as batches are made).
pub struct RunImages {
    /// Training images.
    pub train: Arc<dyn ImageSet>,
    /// Test images.
    pub test: Arc<dyn ImageSet>,
    /// Class names, index order.
    pub class_names: Vec<String>,
    /// Where they came from.
    pub source: String,
    /// Their normalisation (see [`normalization`]).
    pub norm: Normalization,
}

/// The images of a training run on `data` (see [`RunImages`]): `images` limits the training
/// and test images, `classes` states the class count, `saved` is a resumed run's
/// normalisation; under the CIFAR protocol (`imagenet` false) the images must fit in
/// `image_size`.
pub fn run_images(
    (data, format): (Option<&Path>, Option<DataFormat>),
    images: (Option<usize>, Option<usize>),
    classes: Option<usize>,
    saved: Option<&Normalization>,
    (imagenet, image_size): (bool, usize),
) -> anyhow::Result<RunImages> {
    if let Some(path) = data
        && imagenet
    {
        let format = match format {
            Some(format) => format,
            None => detect_format(path).with_context(|| format!("reading {}", path.display()))?,
        };
        if format == DataFormat::Folder {
            let mut s = list_folder(path, images, classes.is_some())
                .with_context(|| format!("reading {}", path.display()))?;
            print_notes(&s.findings);
            if let Some(k) = classes {
                if k < s.class_names.len() {
                    bail!(
                        "--classes {k}, but {} has {} class folders",
                        path.display(),
                        s.class_names.len()
                    );
                }
                s.class_names
                    .extend((s.class_names.len()..k).map(|c| c.to_string()));
            }
            let norm = saved.cloned().unwrap_or_else(imagenet_normalization);
            if norm.mean.len() != 3 || norm.std.len() != 3 {
                bail!("the settings' normalisation does not fit streamed RGB images");
            }
            return Ok(RunImages {
                train: Arc::new(s.train),
                test: Arc::new(s.test),
                class_names: s.class_names,
                source: format!("{} (streamed)", path.display()),
                norm,
            });
        }
    }
    let splits = read_usable(data, format, images, classes, true)?;
    let norm = normalization(saved, &splits, &splits.train, imagenet)?;
    let train = &splits.train;
    if !imagenet && train.height.max(train.width) > image_size {
        bail!(
            "images are {}x{}, larger than --image-size {image_size}; raise it or use --preset imagenet",
            train.height,
            train.width,
        );
    }
    Ok(RunImages {
        train: Arc::new(splits.train),
        test: Arc::new(splits.test),
        class_names: splits.class_names,
        source: splits.source,
        norm,
    })
}

/// An error naming `splits` when a supernet of C = `channels`, L = `layers` (with an auxiliary
/// head when `auxiliary`) cannot take their images; else the network's shape.
pub fn supernet_for(
    splits: &Splits,
    channels: usize,
    layers: usize,
    auxiliary: bool,
) -> anyhow::Result<NetworkConfig> {
    let network = NetworkConfig {
        channels,
        layers,
        classes: splits.class_names.len(),
        in_channels: splits.train.channels,
    };
    let side = splits.train.supernet_side();
    if let Some(why) = network.plan().input_problem(side, auxiliary) {
        bail!("{}: {why}", splits.source);
    }
    Ok(network)
}

/// Runs `ista-nas data`.
pub fn run(args: DataArgs) -> anyhow::Result<()> {
    if let Some(count) = args.throughput {
        let Some(path) = args.source.data.as_deref() else {
            bail!("--throughput needs an ImageFolder tree as --data");
        };
        return throughput(path, count);
    }
    let start = Instant::now();
    let mut splits = read_splits(args.source.data.as_deref(), args.source.format)?;
    println!(
        "data: {} (read in {:.1} s)",
        splits.source,
        start.elapsed().as_secs_f64()
    );
    let whole = (splits.train.len(), splits.test.len());
    splits.train = splits.train.first(args.train_images);
    splits.test = splits.test.first(args.test_images);
    describe("train", &splits.train, &splits.class_names, whole.0);
    describe("test", &splits.test, &splits.class_names, whole.1);
    let (weights, arch) = splits.train.split_half();
    describe("search's weights", &weights, &splits.class_names, 0);
    describe("search's architecture", &arch, &splits.class_names, 0);
    if let Some(why) = splits.findings.refusal(false) {
        println!("warning: {why}");
    }
    print_notes(&splits.findings);
    let (mean, std) = splits.train.channel_stats();
    println!("statistics of train: mean {mean:.4?}, std {std:.4?}");
    if let Some(fixed) = splits.reference_normalization(false) {
        println!(
            "runs normalise these images as the reference code does: mean {:.4?}, std {:.4?}",
            fixed.mean, fixed.std
        );
    }
    Ok(())
}

/// Streams the first `count` training images of the ImageFolder tree `path` (shuffled) through
/// the ImageNet training pipeline and prints the images prepared per second.
fn throughput(path: &Path, count: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    let splits = list_folder(path, (None, Some(1)), true)
        .with_context(|| format!("reading {}", path.display()))?;
    let listed = start.elapsed().as_secs_f64();
    let plan = BatchPlan {
        batch_size: 64,
        shuffle: true,
        augment: Augment::imagenet_train(224, 0.4),
        norm: imagenet_normalization(),
    };
    let total = splits.train.len();
    let workers = rayon::current_num_threads();
    let start = Instant::now();
    let mut done = 0;
    for batch in EpochLoader::start(Arc::new(splits.train), plan, 0, 0, 0) {
        done += batch?.labels.len();
        if done >= count {
            break;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{path}: {total} training images of {} classes listed in {listed:.2} s; {done} decoded, cropped to 224x224 and augmented in {seconds:.2} s: {:.0} images/s on {workers} worker threads",
        splits.class_names.len(),
        done as f64 / seconds.max(1e-9),
        path = path.display()
    );
    Ok(())
}
