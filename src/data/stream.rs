//! Image sets a batch loader draws from: a [`Dataset`] held in memory, or a [`StreamedFolder`]
//! that only lists an ImageFolder tree and decodes each JPEG/PNG, of any size and mode, when
//! its batch is prepared (the ImageNet protocol: crops come from the original image).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::folder::{class_names, image_files};
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
    /// The image files, class by class.
    pub files: Vec<PathBuf>,
    /// The class of each file.
    pub labels: Vec<u32>,
    /// Number of classes.
    pub classes: usize,
}

impl StreamedFolder {
    /// Lists `split_dir/<class>/*.{jpg,jpeg,png}` for `classes` (label = index).
    pub fn list(split_dir: &Path, classes: &[String]) -> Result<Self, DataError> {
        let mut folder = Self {
            files: Vec::new(),
            labels: Vec::new(),
            classes: classes.len(),
        };
        for (label, class) in classes.iter().enumerate() {
            for path in image_files(&split_dir.join(class))? {
                folder.files.push(path);
                folder.labels.push(label as u32);
            }
        }
        Ok(folder)
    }

    /// The first `n` files (all when `None`).
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
}

/// Lists `dir/train` and `dir/test`, keeping the first `images.0` and `images.1` files, and
/// checks that a run can learn from them: two classes, two training images, a test image.
pub fn list_folder(
    dir: &Path,
    images: (Option<usize>, Option<usize>),
) -> Result<StreamedSplits, DataError> {
    let classes = class_names(&dir.join("train"))?;
    let train = StreamedFolder::list(&dir.join("train"), &classes)?.first(images.0);
    let test = StreamedFolder::list(&dir.join("test"), &classes)?.first(images.1);
    let unusable = |why: String| DataError::Unusable {
        origin: dir.display().to_string(),
        why,
    };
    if let Some(why) =
        class_problem(classes.len()).or_else(|| size_problem(train.len(), Some(test.len())))
    {
        return Err(unusable(why));
    }
    Ok(StreamedSplits {
        train,
        test,
        class_names: classes,
    })
}
