//! `ista-nas data`: read a data set (or the embedded one) and summarise it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use ista_nas::data::augment::Normalization;
use ista_nas::data::{DataFormat, Dataset, Splits, embedded, load};
use ista_nas::model::skeleton::NetworkConfig;

/// Options of `ista-nas data`.
#[derive(Args, Debug)]
pub struct DataArgs {
    /// Data folder (IDX files, CIFAR-10 binary batches, or an ImageFolder tree); default: the embedded Fashion-MNIST subset.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Layout of `--data`; detected when omitted.
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
}

fn describe(name: &str, data: &Dataset, class_names: &[String]) {
    let counts: Vec<String> = (0..data.classes)
        .map(|c| {
            let n = data.labels.iter().filter(|&&l| l as usize == c).count();
            format!("{}: {n}", class_names.get(c).map_or("?", |s| s.as_str()))
        })
        .collect();
    println!(
        "{name}: {} images of {}x{}x{}; per class {}",
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
    Ok(splits.usable(classes, need_test)?)
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
    let start = Instant::now();
    let splits = read_splits(args.data.as_deref(), args.format)?;
    println!(
        "data: {} (read in {:.1} s)",
        splits.source,
        start.elapsed().as_secs_f64()
    );
    describe("train", &splits.train, &splits.class_names);
    describe("test", &splits.test, &splits.class_names);
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
