//! CIFAR-10 binary batches: records of 1 label byte and 3 × 32 × 32 pixel bytes.

use std::path::Path;

use super::{DataError, Dataset, Splits, io_error};

const SIDE: usize = 32;
const RECORD: usize = 1 + 3 * SIDE * SIDE;

/// CIFAR-10 class names, label order.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Parses one binary batch file.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Dataset, DataError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::Malformed {
            path: path.into(),
            why: format!(
                "{} bytes is not a whole number of {RECORD}-byte records",
                bytes.len()
            ),
        });
    }
    let mut data = Dataset {
        images: Vec::with_capacity(bytes.len()),
        labels: Vec::new(),
        channels: 3,
        height: SIDE,
        width: SIDE,
        classes: 10,
    };
    for record in bytes.chunks_exact(RECORD) {
        data.labels.push(u32::from(record[0]));
        data.images.extend_from_slice(&record[1..]);
    }
    data.validate(path)?;
    Ok(data)
}

fn read(path: &Path) -> Result<Dataset, DataError> {
    parse(&std::fs::read(path).map_err(io_error(path))?, path)
}

/// Reads `data_batch_1..5.bin` (those present, at least one) and `test_batch.bin`.
pub fn load_dir(dir: &Path) -> Result<Splits, DataError> {
    let mut train: Option<Dataset> = None;
    for i in 1..=5 {
        let path = dir.join(format!("data_batch_{i}.bin"));
        if !path.exists() {
            continue;
        }
        let batch = read(&path)?;
        match train.as_mut() {
            Some(all) => {
                all.images.extend(batch.images);
                all.labels.extend(batch.labels);
            }
            None => train = Some(batch),
        }
    }
    let train = train.ok_or_else(|| DataError::Malformed {
        path: dir.into(),
        why: "no data_batch_*.bin file".into(),
    })?;
    let test = read(&dir.join("test_batch.bin"))?;
    Ok(Splits {
        train,
        test,
        class_names: CLASSES.iter().map(|s| s.to_string()).collect(),
        source: dir.display().to_string(),
        classes_inferred: false,
        findings: Default::default(),
    })
}
