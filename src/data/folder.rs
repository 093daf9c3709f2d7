//! ImageFolder layout: `train/<class>/*.{jpg,jpeg,png}` and `test/<class>/…`, classes in
//! alphabetical order. Images become 1-channel when every image is grey, else RGB.

use std::path::{Path, PathBuf};

use image::DynamicImage;

use super::{DataError, Dataset, Splits, io_error};

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
    matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png"))
}

/// Class folder names of a split, sorted.
pub fn class_names(split_dir: &Path) -> Result<Vec<String>, DataError> {
    let names: Vec<String> = sorted_entries(split_dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    if names.is_empty() {
        return Err(DataError::Malformed {
            path: split_dir.into(),
            why: "no class sub-folders".into(),
        });
    }
    Ok(names)
}

/// The JPEG and PNG files of a class folder, sorted.
pub fn image_files(class_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    Ok(sorted_entries(class_dir)?
        .into_iter()
        .filter(|p| is_image(p))
        .collect())
}

/// Decodes every image of one split, labelled by the index of its folder in `classes`.
pub fn load_split(split_dir: &Path, classes: &[String]) -> Result<Dataset, DataError> {
    let mut decoded: Vec<(DynamicImage, u32)> = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let class_dir = split_dir.join(class);
        for path in image_files(&class_dir)? {
            let image = image::open(&path).map_err(|e| DataError::Malformed {
                path: path.clone(),
                why: format!("cannot decode image: {e}"),
            })?;
            let first = decoded.first().map(|(i, _)| (i.width(), i.height()));
            if let Some((w, h)) = first
                && (w, h) != (image.width(), image.height())
            {
                return Err(DataError::Malformed {
                    path,
                    why: format!(
                        "{}x{} image among {w}x{h} images",
                        image.width(),
                        image.height()
                    ),
                });
            }
            decoded.push((image, label as u32));
        }
    }
    let Some((first, _)) = decoded.first() else {
        return Err(DataError::Malformed {
            path: split_dir.into(),
            why: "no JPEG or PNG image".into(),
        });
    };
    let (width, height) = (first.width() as usize, first.height() as usize);
    let channels = if decoded.iter().any(|(i, _)| i.color().has_color()) {
        3
    } else {
        1
    };
    let mut data = Dataset {
        images: Vec::new(),
        labels: Vec::new(),
        channels,
        height,
        width,
        classes: classes.len(),
    };
    for (image, label) in decoded {
        if channels == 1 {
            data.images.extend_from_slice(image.to_luma8().as_raw());
        } else {
            // interleaved HWC → planar CHW
            let rgb = image.to_rgb8();
            for c in 0..3 {
                data.images.extend(rgb.as_raw().iter().skip(c).step_by(3));
            }
        }
        data.labels.push(label);
    }
    Ok(data)
}

/// Reads `train/` and `test/` of an ImageFolder tree (the classes come from `train/`).
pub fn load_dir(dir: &Path) -> Result<Splits, DataError> {
    let classes = class_names(&dir.join("train"))?;
    let train = load_split(&dir.join("train"), &classes)?;
    let test = load_split(&dir.join("test"), &classes)?;
    if (train.channels, train.height, train.width) != (test.channels, test.height, test.width) {
        return Err(DataError::Malformed {
            path: dir.into(),
            why: "train and test images differ in size or channels".into(),
        });
    }
    Ok(Splits {
        train,
        test,
        class_names: classes,
        source: dir.display().to_string(),
        classes_inferred: false,
    })
}
