//! Image-classification data: readers (IDX, CIFAR-10 binary, ImageFolder), the embedded
//! Fashion-MNIST subset, augmentation and a batch loader that works off the training thread.

pub mod augment;
pub mod cifar;
pub mod class_interleave;
pub mod folder;
pub mod idx;
pub mod loader;
pub mod resample;
pub mod stream;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use augment::Normalization;

/// A labelled image set held in memory as bytes, `[N, C, H, W]` row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Pixels, image after image, channel-major within an image.
    pub images: Vec<u8>,
    /// One class index per image.
    pub labels: Vec<u32>,
    /// Channels per image (1 or 3).
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Number of classes (labels lie in `0..classes`).
    pub classes: usize,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The square side a supernet runs these images at: the larger image side, at least 32
    /// (smaller images are centred on zero pixels).
    pub fn supernet_side(&self) -> usize {
        self.height.max(self.width).max(32)
    }

    /// Bytes per image.
    pub fn image_size(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.image_size();
        &self.images[i * size..(i + 1) * size]
    }

    /// Images `range` as a new data set.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Dataset {
        let size = self.image_size();
        Dataset {
            images: self.images[range.start * size..range.end * size].to_vec(),
            labels: self.labels[range].to_vec(),
            ..*self
        }
    }

    /// The first `n` images (all of them when `n` is `None` or exceeds the set).
    pub fn first(&self, n: Option<usize>) -> Dataset {
        self.slice(0..n.map_or(self.len(), |n| n.min(self.len())))
    }

    /// The search split: first half for weights, second half for the architecture (docs/method.md §4).
    pub fn split_half(&self) -> (Dataset, Dataset) {
        let half = self.len() / 2;
        (self.slice(0..half), self.slice(half..self.len()))
    }

    /// Per-channel mean and standard deviation of the pixels, scaled to [0, 1].
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let plane = self.height * self.width;
        let mut sum = vec![0.0f64; self.channels];
        let mut sum_sq = vec![0.0f64; self.channels];
        for image in self.images.chunks_exact(self.image_size()) {
            for (c, channel) in image.chunks_exact(plane).enumerate() {
                for &p in channel {
                    let v = p as f64 / 255.0;
                    sum[c] += v;
                    sum_sq[c] += v * v;
                }
            }
        }
        let count = (self.len() * plane).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        let std = sum_sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| ((s / count - m * m).max(0.0)).sqrt().max(1e-6) as f32)
            .collect();
        (mean.into_iter().map(|m| m as f32).collect(), std)
    }

    /// Normalisation by this set's own channel statistics.
    pub fn normalization(&self) -> Normalization {
        let (mean, std) = self.channel_stats();
        Normalization { mean, std }
    }

    /// Checks that pixels and labels fit the declared shape and class count.
    pub fn validate(&self, source: &Path) -> Result<(), DataError> {
        let malformed = |why: String| DataError::Malformed {
            path: source.into(),
            why,
        };
        if self.images.len() != self.len() * self.image_size() {
            return Err(malformed(format!(
                "{} pixel bytes for {} images of {}x{}x{}",
                self.images.len(),
                self.len(),
                self.channels,
                self.height,
                self.width
            )));
        }
        if let Some(bad) = self.labels.iter().find(|&&l| l as usize >= self.classes) {
            return Err(malformed(format!(
                "label {bad} outside 0..{}",
                self.classes
            )));
        }
        Ok(())
    }
}

/// The training and test parts of a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    /// Training images.
    pub train: Dataset,
    /// Test images.
    pub test: Dataset,
    /// Class names, index order.
    pub class_names: Vec<String>,
    /// Where it came from (a path, or `embedded`).
    pub source: String,
    /// True when the class count was inferred from the largest label (IDX), not named by the
    /// format (CIFAR-10) or the folders (ImageFolder).
    pub classes_inferred: bool,
    /// For an ImageFolder tree: empty classes, untested classes, skipped files.
    pub findings: folder::TreeFindings,
}

impl Splits {
    /// These splits if a run can learn from them, with `classes` classes when given (more than
    /// the labels name, on purpose); else why not. Training images and (when `need_test`) test
    /// images must exist, with at least two classes; where the class count was inferred from
    /// the labels, every class needs a training image unless `classes` states the count.
    pub fn usable(mut self, classes: Option<usize>, need_test: bool) -> Result<Splits, DataError> {
        let unusable = |why: String| DataError::Unusable {
            origin: self.source.clone(),
            why,
        };
        let test = need_test.then_some(self.test.len());
        if let Some(why) = size_problem(self.train.len(), test) {
            return Err(unusable(why));
        }
        let named = self.train.classes.max(self.test.classes);
        let largest = self.train.labels.iter().chain(&self.test.labels).max();
        let needed = largest.map_or(0, |&l| l as usize + 1);
        let count = match classes {
            Some(k) if k < needed => {
                return Err(unusable(format!(
                    "--classes {k}, but a label is {}: the labels need at least {needed} classes",
                    needed - 1
                )));
            }
            Some(k) => k,
            None => named,
        };
        if let Some(why) = class_problem(count) {
            return Err(unusable(why));
        }
        if let Some(why) = self.findings.refusal(classes.is_some()) {
            return Err(unusable(why));
        }
        if classes.is_none() && self.classes_inferred {
            let mut seen = vec![false; count];
            for &l in &self.train.labels {
                seen[l as usize] = true;
            }
            let missing: Vec<usize> = (0..count).filter(|&c| !seen[c]).collect();
            if !missing.is_empty() {
                let shown: Vec<String> = missing.iter().take(10).map(usize::to_string).collect();
                let more = if missing.len() > 10 { ", …" } else { "" };
                return Err(unusable(format!(
                    "the class count {count} is inferred from the largest label, but {} of its classes have no training image (classes {}{more}); pass --classes {count} to train on {count} classes on purpose",
                    missing.len(),
                    shown.join(", ")
                )));
            }
        }
        self.train.classes = count;
        self.test.classes = count;
        while self.class_names.len() < count {
            self.class_names.push(self.class_names.len().to_string());
        }
        Ok(self)
    }
}

/// CIFAR-10's normalisation as the reference code fixes it (docs/method.md §6).
pub fn cifar10_normalization() -> Normalization {
    Normalization {
        mean: vec![0.491_399_7, 0.482_158_3, 0.446_531_2],
        std: vec![0.247_032_3, 0.243_485_05, 0.261_587_7],
    }
}

/// ImageNet's normalisation as the reference ImageNet script fixes it (torchvision's values).
pub fn imagenet_normalization() -> Normalization {
    Normalization {
        mean: vec![0.485, 0.456, 0.406],
        std: vec![0.229, 0.224, 0.225],
    }
}

impl Splits {
    /// True for CIFAR-10: three-channel images of 32×32 with CIFAR-10's ten classes in order,
    /// whether read from its binary batches or from an ImageFolder copy.
    pub fn is_cifar10(&self) -> bool {
        self.train.channels == 3
            && (self.train.height, self.train.width) == (32, 32)
            && self
                .class_names
                .iter()
                .map(String::as_str)
                .eq(cifar::CLASSES)
    }

    /// The fixed normalisation the reference code uses for these images, when it fixes one:
    /// CIFAR-10's, and ImageNet's for RGB images under the ImageNet protocol (`imagenet`).
    /// `None`: a run normalises by the statistics of its training images.
    pub fn reference_normalization(&self, imagenet: bool) -> Option<Normalization> {
        if self.is_cifar10() {
            Some(cifar10_normalization())
        } else if imagenet && self.train.channels == 3 {
            Some(imagenet_normalization())
        } else {
            None
        }
    }
}

/// Why a run cannot learn from `train` training images and (when scored) `test` test images.
pub(crate) fn size_problem(train: usize, test: Option<usize>) -> Option<String> {
    if train < 2 {
        Some(format!("{train} training images; a run needs at least 2"))
    } else if test == Some(0) {
        Some("no test images to score the run on".into())
    } else {
        None
    }
}

/// Why a classifier cannot have `count` classes.
pub(crate) fn class_problem(count: usize) -> Option<String> {
    (count < 2).then(|| format!("{count} class; a classifier needs at least 2"))
}

/// On-disk layouts the readers understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// MNIST / Fashion-MNIST IDX files, plain or gzipped.
    Idx,
    /// CIFAR-10 binary batches (`data_batch_*.bin`, `test_batch.bin`).
    Cifar,
    /// One sub-folder per class under `train/` and `test/`, images as torchvision's ImageFolder reads them.
    Folder,
}

/// Why data could not be read.
#[derive(Debug, Error)]
pub enum DataError {
    /// A file or folder could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The content is not what the format promises.
    #[error("{path} is malformed: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Readable data that no run can learn from.
    #[error("{origin}: {why}")]
    Unusable {
        /// Where the data came from.
        origin: String,
        /// What is missing.
        why: String,
    },
    /// The folder matches no known layout.
    #[error("{path}: cannot tell the data format ({why}); pass --format idx|cifar|folder")]
    UnknownFormat {
        /// The folder.
        path: PathBuf,
        /// What was looked for.
        why: String,
    },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.into(),
        source,
    }
}

/// Fashion-MNIST class names.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
];

/// The embedded subset's gzipped IDX files, compiled into the binary (about 3 MB), so the
/// default data set goes wherever the binary goes.
const EMBEDDED_FILES: [(&str, &[u8]); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        include_bytes!("../../datasets/fashion-mnist-subset/train-images-idx3-ubyte.gz"),
    ),
    (
        "train-labels-idx1-ubyte.gz",
        include_bytes!("../../datasets/fashion-mnist-subset/train-labels-idx1-ubyte.gz"),
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        include_bytes!("../../datasets/fashion-mnist-subset/t10k-images-idx3-ubyte.gz"),
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        include_bytes!("../../datasets/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz"),
    ),
];

/// The embedded real subset of Fashion-MNIST (6,000 train, 1,000 test images; MIT licence),
/// read from the copy compiled into the binary.
pub fn embedded() -> Result<Splits, DataError> {
    let file = |i: usize| -> Result<(Vec<u8>, PathBuf), DataError> {
        let (name, bytes) = EMBEDDED_FILES[i];
        let path = Path::new("embedded").join(name);
        Ok((idx::gunzip_if_needed(bytes.to_vec(), &path)?, path))
    };
    let pair = |images: usize, labels: usize| -> Result<Dataset, DataError> {
        let ((image_bytes, image_path), (label_bytes, label_path)) = (file(images)?, file(labels)?);
        idx::pair_from_bytes((&image_bytes, &image_path), (&label_bytes, &label_path))
    };
    let (train, test) = (pair(0, 1)?, pair(2, 3)?);
    let classes = train.classes.max(test.classes);
    let mut splits = Splits {
        train: Dataset { classes, ..train },
        test: Dataset { classes, ..test },
        class_names: Vec::new(),
        source: String::new(),
        classes_inferred: true,
        findings: Default::default(),
    };
    splits.class_names = FASHION_MNIST_CLASSES
        .iter()
        .map(|s| s.to_string())
        .collect();
    splits.source = "embedded Fashion-MNIST subset".into();
    splits.classes_inferred = false;
    Ok(splits)
}

/// Guesses the layout of a data folder.
pub fn detect_format(path: &Path) -> Result<DataFormat, DataError> {
    let names: Vec<String> = std::fs::read_dir(path)
        .map_err(io_error(path))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.iter().any(|n| n.contains("idx3-ubyte")) {
        Ok(DataFormat::Idx)
    } else if names
        .iter()
        .any(|n| n.starts_with("data_batch_") && n.ends_with(".bin"))
    {
        Ok(DataFormat::Cifar)
    } else if path.join("train").is_dir() && path.join("test").is_dir() {
        Ok(DataFormat::Folder)
    } else {
        Err(DataError::UnknownFormat {
            path: path.into(),
            why: "no *idx3-ubyte*, data_batch_*.bin, or train/ and test/ folders".into(),
        })
    }
}

/// Reads a data set from `path`, in `format` or the detected one.
pub fn load(path: &Path, format: Option<DataFormat>) -> Result<Splits, DataError> {
    let format = match format {
        Some(format) => format,
        None => detect_format(path)?,
    };
    match format {
        DataFormat::Idx => idx::load_dir(path),
        DataFormat::Cifar => cifar::load_dir(path),
        DataFormat::Folder => folder::load_dir(path),
    }
}
