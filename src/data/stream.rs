//! Image sets a batch loader draws from: a [`Dataset`] held in memory, or a [`StreamedFolder`]
//! that only lists an ImageFolder tree and decodes each image, of any size and mode, when
//! its batch is prepared (the ImageNet protocol: crops come from the original image).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::folder::{SplitListing, TreeFindings, list_split, list_tree};
use super::{DataError, Dataset, class_problem, size_problem};

/// Pixels `[C, H, W]` of one image and its `(C, H, W)`.
pub type Pixels<'a> = (Cow<'a, [u8]>, (usize, usize, usize));

/// Labelled images a batch loader can draw from, by index.
pub trait ImageSet: Send + Sync {
    /// Number of images.
    fn len(&self) -> usize;
    /// True when there is no image.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Channels of every image as the loader delivers it.
    fn channels(&self) -> usize;
    /// The class of image `i`.
    fn label(&self, i: usize) -> u32;
    /// The pixels of image `i`.
    fn pixels(&self, i: usize) -> Result<Pixels<'_>, DataError>;
}

impl ImageSet for Dataset {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn label(&self, i: usize) -> u32 {
        self.labels[i]
    }

    fn pixels(&self, i: usize) -> Result<Pixels<'_>, DataError> {
        Ok((
            Cow::Borrowed(self.image(i)),
            (self.channels, self.height, self.width),
        ))
    }
}

/// An ImageFolder split listed, not decoded: every image becomes RGB (grey images are
/// repeated, alpha is dropped), as torchvision's ImageFolder loads them.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamedFolder {
    /// The image files, classes interleaved in proportion.
    pub files: Vec<PathBuf>,
    /// The class of each file.
    pub labels: Vec<u32>,
    /// Number of classes.
    pub classes: usize,
}

impl StreamedFolder {
    /// Lists `split_dir/<class>/…` for `classes` (label = index), classes interleaved in
    /// proportion as every ImageFolder listing is.
    pub fn list(split_dir: &Path, classes: &[String]) -> Result<Self, DataError> {
        let (listing, _, _) = list_split(split_dir, classes)?;
        Ok(Self::from_listing(listing, classes.len()))
    }

    /// A listed split of `classes` classes.
    pub fn from_listing(listing: SplitListing, classes: usize) -> Self {
        Self {
            files: listing.files,
            labels: listing.labels,
            classes,
        }
    }

    /// The first `n` files of the listing (all when `None`): every class in proportion.
    pub fn first(mut self, n: Option<usize>) -> Self {
        if let Some(n) = n {
            self.files.truncate(n);
            self.labels.truncate(n);
        }
        self
    }
}

impl ImageSet for StreamedFolder {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn channels(&self) -> usize {
        3
    }

    fn label(&self, i: usize) -> u32 {
        self.labels[i]
    }

    fn pixels(&self, i: usize) -> Result<Pixels<'_>, DataError> {
        let path = &self.files[i];
        let image = image::open(path).map_err(|e| DataError::Malformed {
            path: path.clone(),
            why: format!("cannot decode image: {e}"),
        })?;
        let rgb = image.to_rgb8();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        // interleaved HWC → planar CHW
        let mut planar = Vec::with_capacity(3 * w * h);
        for c in 0..3 {
            planar.extend(rgb.as_raw().iter().skip(c).step_by(3));
        }
        Ok((Cow::Owned(planar), (3, h, w)))
    }
}

/// Both splits of an ImageFolder tree, listed for streaming.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamedSplits {
    /// `train/`.
    pub train: StreamedFolder,
    /// `test/`.
    pub test: StreamedFolder,
    /// Class names (from `train/`), index order.
    pub class_names: Vec<String>,
    /// Untested classes and skipped files (see [`TreeFindings::notes`]).
    pub findings: TreeFindings,
}

/// Lists `dir/train` and `dir/test`, keeping the first `images.0` and `images.1` files, and
/// checks that a run can learn from them: two classes, two training images, a test image, and
/// no training class folder without an image unless the class count is stated
/// (`classes_stated`).
pub fn list_folder(
    dir: &Path,
    images: (Option<usize>, Option<usize>),
    classes_stated: bool,
) -> Result<StreamedSplits, DataError> {
    let tree = list_tree(dir)?;
    let classes = tree.class_names.len();
    let train = StreamedFolder::from_listing(tree.train, classes).first(images.0);
    let test = StreamedFolder::from_listing(tree.test, classes).first(images.1);
    let unusable = |why: String| DataError::Unusable {
        origin: dir.display().to_string(),
        why,
    };
    if let Some(why) = class_problem(classes)
        .or_else(|| size_problem(train.len(), Some(test.len())))
        .or_else(|| tree.findings.refusal(classes_stated))
    {
        return Err(unusable(why));
    }
    Ok(StreamedSplits {
        train,
        test,
        class_names: tree.class_names,
        findings: tree.findings,
    })
}
