//! Inputs a run cannot learn from, crafted files and the genotype rule: each a typed error,
//! never a panic or a silent wrong run.

use std::path::Path;

use ista_nas::data::{DataError, Dataset, Splits, idx};
use ista_nas::storage::framed::{self, FrameKind};

fn dataset(labels: Vec<u32>, classes: usize) -> Dataset {
    Dataset {
        images: vec![7; labels.len() * 4],
        labels,
        channels: 1,
        height: 2,
        width: 2,
        classes,
    }
}

fn splits(train: Vec<u32>, test: Vec<u32>, inferred: bool) -> Splits {
    let classes = train
        .iter()
        .chain(&test)
        .max()
        .map_or(0, |&m| m as usize + 1);
    Splits {
        train: dataset(train, classes),
        test: dataset(test, classes),
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        source: "fixture".into(),
        classes_inferred: inferred,
        findings: Default::default(),
    }
}

fn unusable(result: Result<Splits, DataError>, expected: &str) {
    match result {
        Err(e @ DataError::Unusable { .. }) => {
            assert!(e.to_string().contains(expected), "{e} lacks {expected:?}")
        }
        other => panic!("expected an unusable-data error with {expected:?}, got {other:?}"),
    }
}

#[test]
fn data_a_run_cannot_learn_from_is_refused() {
    unusable(
        splits(vec![], vec![0, 1], true).usable(None, true),
        "0 training images",
    );
    unusable(
        splits(vec![1], vec![0, 1], true).usable(None, true),
        "1 training images",
    );
    unusable(
        splits(vec![0, 1], vec![], true).usable(None, true),
        "no test images",
    );
    assert!(splits(vec![0, 1], vec![], true).usable(None, false).is_ok());
    unusable(
        splits(vec![0, 0, 0], vec![0], false).usable(None, true),
        "1 class",
    );
    // Labels far beyond the data set's classes: an inferred 201-class problem with one class.
    unusable(
        splits(vec![200, 200, 200], vec![200], true).usable(None, true),
        "200 of its classes have no training image (classes 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, …); pass --classes 201",
    );
    // Stated on purpose, it runs with that many classes.
    let stated = splits(vec![200, 0, 200], vec![200], true)
        .usable(Some(201), true)
        .unwrap();
    assert_eq!(stated.train.classes, 201);
    assert_eq!(stated.class_names.len(), 201);
    unusable(
        splits(vec![0, 5], vec![1], true).usable(Some(3), true),
        "--classes 3, but a label is 5",
    );
    // Named classes (CIFAR, ImageFolder) may be empty in the training split: the names say so.
    assert!(
        splits(vec![0, 2, 0], vec![1], false)
            .usable(None, true)
            .is_ok()
    );
}

#[test]
fn labels_hold_many_more_than_256_classes() {
    let labels: Vec<u32> = (0..70_000).collect();
    let s = splits(labels.clone(), vec![69_999], true)
        .usable(None, true)
        .unwrap();
    assert_eq!(s.train.classes, 70_000);
    assert_eq!(s.train.labels[300], 300, "no wrapping at 256");
}

#[test]
fn an_idx_header_whose_dimensions_overflow_is_malformed() {
    let mut bytes = vec![0, 0, 0x08, 3];
    for d in [u32::MAX, u32::MAX, u32::MAX] {
        bytes.extend(d.to_be_bytes());
    }
    let error = idx::parse(&bytes, Path::new("huge"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("overflow") || error.contains("data bytes"),
        "{error}"
    );
    // A product that wraps to exactly the payload length must not pass either.
    let mut wrap = vec![0, 0, 0x08, 2];
    wrap.extend(0x8000_0000u32.to_be_bytes());
    wrap.extend(0x2u32.to_be_bytes());
    assert!(idx::parse(&wrap, Path::new("wrap")).is_err());
}

const KIND: FrameKind = FrameKind {
    magic: b"ISTATST\x01",
    name: "test file",
};

#[test]
fn framed_files_with_crafted_record_lengths_are_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crafted.bin");
    for lengths in [
        "[18446744073709551615, 1]",
        "[9223372036854775808, 9223372036854775808, 4]",
        "[5]",
        "[]",
    ] {
        let json = format!(r#"{{"header": 1, "record_lengths": {lengths}}}"#);
        let mut bytes = KIND.magic.to_vec();
        bytes.extend((json.len() as u64).to_le_bytes());
        bytes.extend(json.as_bytes());
        bytes.extend([1, 2, 3, 4]);
        std::fs::write(&path, &bytes).unwrap();
        let result = framed::load::<u32>(&path, KIND);
        match (lengths, result) {
            (_, Err(framed::FileError::Corrupt { .. })) => {}
            (lengths, other) => panic!("{lengths}: {other:?}"),
        }
    }
    // A header length beyond the file.
    let mut bytes = KIND.magic.to_vec();
    bytes.extend(u64::MAX.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        framed::load::<u32>(&path, KIND),
        Err(framed::FileError::Corrupt { .. })
    ));
}

#[test]
fn an_image_folder_of_300_classes_keeps_every_label() {
    let dir = tempfile::tempdir().unwrap();
    for class in 0..300 {
        for split in ["train", "test"] {
            let path = dir.path().join(format!("{split}/c{class:03}/0.png"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::GrayImage::from_pixel(2, 2, image::Luma([(class % 256) as u8]))
                .save(path)
                .unwrap();
        }
    }
    let splits = ista_nas::data::load(dir.path(), None)
        .unwrap()
        .usable(None, true)
        .unwrap();
    assert_eq!(splits.class_names.len(), 300);
    assert_eq!(splits.train.classes, 300);
    let mut labels = splits.train.labels.clone();
    labels.sort_unstable();
    assert_eq!(
        labels,
        (0..300).collect::<Vec<u32>>(),
        "no label wraps at 256"
    );
}

/// A model file whose header asks for a network or preprocessing it cannot have is refused
/// before any network is built.
#[test]
fn model_headers_out_of_bounds_are_refused() {
    use burn::tensor::Device;
    use ista_nas::data::augment::{Augment, Normalization};
    use ista_nas::model::eval_network::{EvalConfig, EvalNetwork};
    use ista_nas::model::heads::NetKind;
    use ista_nas::search_space::genotype::Genotype;
    use ista_nas::storage::model_file::{ModelHeader, Scores, parse_model, save_model};

    let network = EvalConfig {
        kind: NetKind::Cifar,
        genotype: Genotype::builtin("ISTA_NAS").unwrap(),
        channels: 2,
        layers: 3,
        classes: 3,
        in_channels: 1,
        auxiliary: false,
        extra_norms: false,
    };
    let header = ModelHeader {
        network: network.clone(),
        augment: Augment::plain(32),
        norm: Normalization {
            mean: vec![0.5],
            std: vec![0.25],
        },
        class_names: vec!["a".into(), "b".into(), "c".into()],
        epoch: 1,
        scores: Scores::default(),
    };
    let model = EvalNetwork::new(&network, &Device::flex());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.model");
    let refused = |h: &ModelHeader, expected: &str| {
        save_model(&path, h, &model).unwrap();
        let error = parse_model(&std::fs::read(&path).unwrap(), &path)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error} lacks {expected:?}");
    };
    save_model(&path, &header, &model).unwrap();
    assert!(parse_model(&std::fs::read(&path).unwrap(), &path).is_ok());
    let mut huge = header.clone();
    huge.network.channels = 1 << 20;
    refused(&huge, "--channels must be even, from 2 to 4096");
    let mut deep = header.clone();
    deep.network.layers = 100_000;
    refused(&deep, "--layers must lie in 3..=256");
    let mut classes = header.clone();
    classes.network.classes = 1;
    refused(&classes, "1 classes of 1-channel images");
    let mut norm = header.clone();
    norm.norm.mean = vec![0.5, 0.5];
    refused(&norm, "preprocessing that does not fit the network");
}
