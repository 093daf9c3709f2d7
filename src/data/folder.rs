//! ImageFolder layout, read as torchvision's `ImageFolder` reads it: `train/<class>/…` and
//! `test/<class>/…`, classes in sorted order, every file under a class folder (sub-folders
//! too) with one of torchvision's image extensions. Each split is listed with its classes
//! interleaved in proportion (see [`class_interleave`](super::class_interleave)), so any prefix
//! holds every class. Images become 1-channel when every image is grey, else RGB.

use std::path::{Path, PathBuf};

use image::DynamicImage;

use super::class_interleave::interleave_items;
use super::{DataError, Dataset, Splits, io_error};

/// torchvision's `IMG_EXTENSIONS`, matched without regard to case.
pub const IMG_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "ppm", "bmp", "pgm", "tif", "tiff", "webp",
];

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_error(dir))?
        .map(|e| e.map(|e| e.path()).map_err(io_error(dir)))
        .collect::<Result<_, _>>()?;
    paths.sort();
    Ok(paths)
}

fn is_image(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    ext.is_some_and(|e| IMG_EXTENSIONS.contains(&e.as_str()))
}

/// Names of the sub-folders of `dir`, sorted.
fn sub_folders(dir: &Path) -> Result<Vec<String>, DataError> {
    Ok(sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect())
}

/// Class folder names of a split, sorted.
pub fn class_names(split_dir: &Path) -> Result<Vec<String>, DataError> {
    let names = sub_folders(split_dir)?;
    if names.is_empty() {
        return Err(DataError::Malformed {
            path: split_dir.into(),
            why: "no class sub-folders".into(),
        });
    }
    Ok(names)
}

/// The image files under a class folder (sub-folders too, links followed), in torchvision's
/// order: folder by folder, names sorted; and how many other files were skipped.
pub fn image_files(class_dir: &Path) -> Result<(Vec<PathBuf>, usize), DataError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(class_dir).follow_links(true) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(class_dir).to_path_buf();
            DataError::Io {
                source: e.into_io_error().unwrap_or_else(|| {
                    std::io::Error::other("a symbolic link loops back to a folder above it")
                }),
                path,
            }
        })?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    files.sort_by(|a, b| (a.parent(), a.file_name()).cmp(&(b.parent(), b.file_name())));
    let total = files.len();
    files.retain(|p| is_image(p));
    let skipped = total - files.len();
    Ok((files, skipped))
}

/// One split of an ImageFolder tree, listed: its image files with classes interleaved.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SplitListing {
    /// Image files, classes interleaved in proportion.
    pub files: Vec<PathBuf>,
    /// The class of each file.
    pub labels: Vec<u32>,
}

/// What reading an ImageFolder tree found beside its images.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TreeFindings {
    /// Training class folders that hold no image, as `train/<class>`.
    pub empty_classes: Vec<String>,
    /// Training classes of which `test/` holds no image.
    pub untested_classes: Vec<String>,
    /// Files in class folders skipped for an extension not in [`IMG_EXTENSIONS`].
    pub skipped_files: usize,
}

impl TreeFindings {
    /// Why a run refuses the tree: a training class folder without an image, unless the class
    /// count was stated on purpose (`--classes`).
    pub fn refusal(&self, classes_stated: bool) -> Option<String> {
        let first = self.empty_classes.first().filter(|_| !classes_stated)?;
        let more = match self.empty_classes.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        Some(format!(
            "class folder {first}{more} holds no image ({}), so its class could never be learnt (torchvision's ImageFolder refuses such a tree); remove the folder, or pass --classes to keep its class on purpose",
            extensions()
        ))
    }

    /// What a run's summary says about the tree, one line each.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.untested_classes.is_empty() {
            let shown: Vec<&str> = self
                .untested_classes
                .iter()
                .take(5)
                .map(String::as_str)
                .collect();
            let more = if self.untested_classes.len() > 5 {
                ", …"
            } else {
                ""
            };
            notes.push(format!(
                "note: test/ has no image of {} training class{} ({}{more}); test scores cover the classes it holds",
                self.untested_classes.len(),
                if self.untested_classes.len() == 1 { "" } else { "es" },
                shown.join(", ")
            ));
        }
        if self.skipped_files > 0 {
            notes.push(format!(
                "note: {} file{} in class folders skipped: not an image by extension ({})",
                self.skipped_files,
                if self.skipped_files == 1 { "" } else { "s" },
                extensions()
            ));
        }
        notes
    }
}

fn extensions() -> String {
    let dotted: Vec<String> = IMG_EXTENSIONS.iter().map(|e| format!(".{e}")).collect();
    dotted.join(" ")
}

/// An ImageFolder tree listed: classes from `train/`, both splits interleaved.
#[derive(Clone, Debug, PartialEq)]
pub struct TreeListing {
    /// Class names (the folders of `train/`), index order.
    pub class_names: Vec<String>,
    /// `train/`.
    pub train: SplitListing,
    /// `test/`.
    pub test: SplitListing,
    /// Empty classes, classes without test images, skipped files.
    pub findings: TreeFindings,
}

/// Lists the images of `split_dir/<class>` for each of `class_names` (label = index; a missing
/// folder holds none), classes interleaved; also the classes without an image and the count of
/// skipped files.
pub fn list_split(
    split_dir: &Path,
    class_names: &[String],
) -> Result<(SplitListing, Vec<String>, usize), DataError> {
    let (mut lists, mut empty, mut skipped) = (Vec::new(), Vec::new(), 0);
    for class in class_names {
        let class_dir = split_dir.join(class);
        let (files, other) = if class_dir.is_dir() {
            image_files(&class_dir)?
        } else {
            (Vec::new(), 0)
        };
        if files.is_empty() {
            empty.push(class.clone());
        }
        skipped += other;
        lists.push(files);
    }
    let (files, labels) = interleave_items(lists).into_iter().unzip();
    Ok((SplitListing { files, labels }, empty, skipped))
}

/// Lists `dir/train` and `dir/test`. A class folder in `test/` that `train/` lacks is an error
/// naming it (its images could not be scored); empty training classes and training classes
/// without test images are recorded in the findings.
pub fn list_tree(dir: &Path) -> Result<TreeListing, DataError> {
    let (train_dir, test_dir) = (dir.join("train"), dir.join("test"));
    let class_names = class_names(&train_dir)?;
    let test_names = if test_dir.is_dir() {
        sub_folders(&test_dir)?
    } else {
        Vec::new()
    };
    if let Some(stray) = test_names.iter().find(|n| !class_names.contains(n)) {
        return Err(DataError::Malformed {
            path: test_dir.join(stray),
            why: "a class folder that train/ lacks: a model of train/'s classes cannot score its images; add it to train/ or move it out of test/".into(),
        });
    }
    let (train, empty, train_skipped) = list_split(&train_dir, &class_names)?;
    let (test, untested, test_skipped) = list_split(&test_dir, &class_names)?;
    let findings = TreeFindings {
        untested_classes: untested
            .into_iter()
            .filter(|c| !empty.contains(c))
            .collect(),
        empty_classes: empty.iter().map(|c| format!("train/{c}")).collect(),
        skipped_files: train_skipped + test_skipped,
    };
    Ok(TreeListing {
        class_names,
        train,
        test,
        findings,
    })
}

/// Decodes the images of one listed split, in the listing's order.
pub fn load_split(
    split_dir: &Path,
    listing: &SplitListing,
    classes: usize,
) -> Result<Dataset, DataError> {
    let mut decoded: Vec<DynamicImage> = Vec::with_capacity(listing.files.len());
    for path in &listing.files {
        let image = image::open(path).map_err(|e| DataError::Malformed {
            path: path.clone(),
            why: format!("cannot decode image: {e}"),
        })?;
        let first = decoded.first().map(|i| (i.width(), i.height()));
        if let Some((w, h)) = first
            && (w, h) != (image.width(), image.height())
        {
            return Err(DataError::Malformed {
                path: path.clone(),
                why: format!(
                    "{}x{} image among {w}x{h} images",
                    image.width(),
                    image.height()
                ),
            });
        }
        decoded.push(image);
    }
    let Some(first) = decoded.first() else {
        return Err(DataError::Malformed {
            path: split_dir.into(),
            why: format!("no image ({})", extensions()),
        });
    };
    let (width, height) = (first.width() as usize, first.height() as usize);
    let channels = if decoded.iter().any(|i| i.color().has_color()) {
        3
    } else {
        1
    };
    let mut data = Dataset {
        images: Vec::with_capacity(decoded.len() * channels * height * width),
        labels: listing.labels.clone(),
        channels,
        height,
        width,
        classes,
    };
    for image in decoded {
        if channels == 1 {
            data.images.extend_from_slice(image.to_luma8().as_raw());
        } else {
            // interleaved HWC → planar CHW
            let rgb = image.to_rgb8();
            for c in 0..3 {
                data.images.extend(rgb.as_raw().iter().skip(c).step_by(3));
            }
        }
    }
    Ok(data)
}

/// Reads `train/` and `test/` of an ImageFolder tree (the classes come from `train/`).
pub fn load_dir(dir: &Path) -> Result<Splits, DataError> {
    let tree = list_tree(dir)?;
    let classes = tree.class_names.len();
    let train = load_split(&dir.join("train"), &tree.train, classes)?;
    let test = load_split(&dir.join("test"), &tree.test, classes)?;
    if (train.channels, train.height, train.width) != (test.channels, test.height, test.width) {
        return Err(DataError::Malformed {
            path: dir.into(),
            why: "train and test images differ in size or channels".into(),
        });
    }
    Ok(Splits {
        train,
        test,
        class_names: tree.class_names,
        source: dir.display().to_string(),
        classes_inferred: false,
        findings: tree.findings,
    })
}
