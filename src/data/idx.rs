//! IDX files (MNIST, Fashion-MNIST), plain or gzipped.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::{DataError, Dataset, Splits, io_error};

/// Reads a whole file, gunzipping it when it starts with the gzip magic bytes.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    gunzip_if_needed(std::fs::read(path).map_err(io_error(path))?, path)
}

/// `raw` itself, or its gzip-decoded content when it starts with gzip's magic bytes (`path`
/// names it in errors).
pub fn gunzip_if_needed(raw: Vec<u8>, path: &Path) -> Result<Vec<u8>, DataError> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| DataError::Malformed {
                path: path.into(),
                why: format!("bad gzip: {e}"),
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an unsigned-byte IDX file into its dimensions and payload.
pub fn parse(bytes: &[u8], path: &Path) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let malformed = |why: String| DataError::Malformed {
        path: path.into(),
        why,
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(malformed("not an IDX file (bad magic number)".into()));
    }
    if bytes[2] != 0x08 {
        return Err(malformed(format!(
            "element type 0x{:02x}, expected unsigned bytes (0x08)",
            bytes[2]
        )));
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if rank == 0 || bytes.len() < header {
        return Err(malformed(format!("truncated header for {rank} dimensions")));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| malformed(format!("dimensions {dims:?} overflow the address space")))?;
    let payload = &bytes[header..];
    if payload.len() != expected {
        return Err(malformed(format!(
            "{} data bytes for dimensions {dims:?} ({expected} expected)",
            payload.len()
        )));
    }
    Ok((dims, payload.to_vec()))
}

/// Reads an images file (`[N, H, W]`) and a labels file (`[N]`) into a 1-channel data set.
pub fn load_pair(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    pair_from_bytes(
        (&read_maybe_gz(images)?, images),
        (&read_maybe_gz(labels)?, labels),
    )
}

/// An images file's and a labels file's (decoded) bytes as a 1-channel data set; the paths
/// name them in errors.
pub fn pair_from_bytes(
    (image_bytes, images): (&[u8], &Path),
    (label_file, labels): (&[u8], &Path),
) -> Result<Dataset, DataError> {
    let (dims, pixels) = parse(image_bytes, images)?;
    let (label_dims, label_bytes) = parse(label_file, labels)?;
    if dims.len() != 3 {
        return Err(DataError::Malformed {
            path: images.into(),
            why: format!("images must have 3 dimensions, found {dims:?}"),
        });
    }
    if label_dims.len() != 1 || label_dims[0] != dims[0] {
        return Err(DataError::Malformed {
            path: labels.into(),
            why: format!("{label_dims:?} labels for {} images", dims[0]),
        });
    }
    let classes = label_bytes.iter().max().map_or(0, |&m| m as usize + 1);
    let data = Dataset {
        images: pixels,
        labels: label_bytes.into_iter().map(u32::from).collect(),
        channels: 1,
        height: dims[1],
        width: dims[2],
        classes,
    };
    data.validate(images)?;
    Ok(data)
}

fn find(dir: &Path, prefixes: &[&str], kind: &str) -> Result<PathBuf, DataError> {
    let entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    names.sort();
    names
        .into_iter()
        .find(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            prefixes.iter().any(|pre| name.starts_with(pre)) && name.contains(kind)
        })
        .ok_or_else(|| DataError::Malformed {
            path: dir.into(),
            why: format!("no {}*{kind}* file", prefixes.join("|")),
        })
}

/// Reads `train-*` and `t10k-*` (or `test-*`) image and label files from a folder.
pub fn load_dir(dir: &Path) -> Result<Splits, DataError> {
    let train = load_pair(
        &find(dir, &["train"], "images-idx3")?,
        &find(dir, &["train"], "labels-idx1")?,
    )?;
    let test_prefixes = ["t10k", "test"];
    let test = load_pair(
        &find(dir, &test_prefixes, "images-idx3")?,
        &find(dir, &test_prefixes, "labels-idx1")?,
    )?;
    if (train.height, train.width) != (test.height, test.width) {
        return Err(DataError::Malformed {
            path: dir.into(),
            why: "train and test image sizes differ".into(),
        });
    }
    let classes = train.classes.max(test.classes);
    Ok(Splits {
        train: Dataset { classes, ..train },
        test: Dataset { classes, ..test },
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        source: dir.display().to_string(),
        classes_inferred: true,
        findings: Default::default(),
    })
}
