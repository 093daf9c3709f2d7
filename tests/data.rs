//! Data readers, their errors on malformed input, augmentation, and the batch loader.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use flate2::Compression;
use flate2::write::GzEncoder;
use ista_nas::data::augment::{Augment, Normalization, cutout};
use ista_nas::data::loader::{BatchPlan, EpochLoader, epoch_order};
use ista_nas::data::{DataError, DataFormat, Dataset, detect_format, embedded, load};

fn idx_bytes(dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(payload);
    out
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A 4-image train / 2-image test IDX folder with 3×2 images.
fn idx_dir(gzipped: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let enc = |b: Vec<u8>| if gzipped { gz(&b) } else { b };
    let suffix = if gzipped { ".gz" } else { "" };
    let pixels: Vec<u8> = (0..24).collect();
    write(
        &dir.path().join(format!("train-images-idx3-ubyte{suffix}")),
        &enc(idx_bytes(&[4, 3, 2], &pixels)),
    );
    write(
        &dir.path().join(format!("train-labels-idx1-ubyte{suffix}")),
        &enc(idx_bytes(&[4], &[0, 1, 2, 9])),
    );
    write(
        &dir.path().join(format!("t10k-images-idx3-ubyte{suffix}")),
        &enc(idx_bytes(&[2, 3, 2], &pixels[..12])),
    );
    write(
        &dir.path().join(format!("t10k-labels-idx1-ubyte{suffix}")),
        &enc(idx_bytes(&[2], &[3, 4])),
    );
    dir
}

fn malformed(result: Result<impl std::fmt::Debug, DataError>, expected: &str) {
    match result {
        Err(e @ DataError::Malformed { .. }) => {
            assert!(e.to_string().contains(expected), "{e} lacks {expected:?}")
        }
        other => panic!("expected a malformed-data error with {expected:?}, got {other:?}"),
    }
}

#[test]
fn embedded_subset_is_real_fashion_mnist() {
    let splits = embedded().unwrap();
    assert_eq!((splits.train.len(), splits.test.len()), (6000, 1000));
    assert_eq!(
        (
            splits.train.channels,
            splits.train.height,
            splits.train.width
        ),
        (1, 28, 28)
    );
    assert_eq!(splits.class_names.len(), 10);
    for class in 0..10 {
        assert!(splits.train.labels.iter().filter(|&&l| l == class).count() > 450);
    }
    let (mean, std) = splits.train.channel_stats();
    assert!(
        (mean[0] - 0.286).abs() < 0.01 && (std[0] - 0.353).abs() < 0.01,
        "{mean:?} {std:?}"
    );
    let (train, val) = splits.train.split_half();
    assert_eq!((train.len(), val.len()), (3000, 3000));
    assert_eq!(val.image(0), splits.train.image(3000));
}

#[test]
fn idx_plain_and_gzipped_read_the_same() {
    let (plain, zipped) = (idx_dir(false), idx_dir(true));
    assert_eq!(detect_format(plain.path()).unwrap(), DataFormat::Idx);
    let a = load(plain.path(), None).unwrap();
    let b = load(zipped.path(), Some(DataFormat::Idx)).unwrap();
    assert_eq!(a.train, b.train);
    assert_eq!(a.train.labels, vec![0, 1, 2, 9]);
    assert_eq!((a.train.height, a.train.width), (3, 2));
    assert_eq!(a.test.image(1), &[6, 7, 8, 9, 10, 11]);
}

#[test]
fn malformed_idx_is_an_error() {
    let dir = idx_dir(false);
    let images = dir.path().join("train-images-idx3-ubyte");
    write(&images, b"\x00\x00\x08");
    malformed(load(dir.path(), None), "bad magic");
    write(&images, &idx_bytes(&[4, 3, 2], &[0; 20]));
    malformed(load(dir.path(), None), "20 data bytes");
    write(&images, &idx_bytes(&[5, 3, 2], &[0; 30]));
    malformed(load(dir.path(), None), "labels for 5 images");
    write(&images, &[0x1f, 0x8b, 1, 2, 3]);
    malformed(load(dir.path(), None), "bad gzip");
    std::fs::remove_file(&images).unwrap();
    malformed(
        load(dir.path(), Some(DataFormat::Idx)),
        "no train*images-idx3* file",
    );
}

fn cifar_record(label: u8, value: u8) -> Vec<u8> {
    let mut record = vec![label];
    record.extend(std::iter::repeat_n(value, 3072));
    record
}

#[test]
fn cifar_binary_batches() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("data_batch_1.bin"),
        &[cifar_record(3, 10), cifar_record(7, 20)].concat(),
    );
    write(&dir.path().join("data_batch_2.bin"), &cifar_record(1, 30));
    write(&dir.path().join("test_batch.bin"), &cifar_record(9, 40));
    assert_eq!(detect_format(dir.path()).unwrap(), DataFormat::Cifar);
    let splits = load(dir.path(), None).unwrap();
    assert_eq!(splits.train.labels, vec![3, 7, 1]);
    assert_eq!(splits.train.channels, 3);
    assert!(splits.train.image(2).iter().all(|&p| p == 30));
    assert_eq!(splits.class_names[9], "truck");

    write(
        &dir.path().join("test_batch.bin"),
        &cifar_record(9, 40)[..3000],
    );
    malformed(load(dir.path(), None), "not a whole number");
    write(&dir.path().join("test_batch.bin"), &cifar_record(12, 40));
    malformed(load(dir.path(), None), "label 12 outside 0..10");
}

fn save_png(path: &Path, rgb: bool, side: u32, value: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if rgb {
        image::RgbImage::from_fn(side, side, |x, _| image::Rgb([value, x as u8, 255 - value]))
            .save(path)
            .unwrap();
    } else {
        image::GrayImage::from_pixel(side, side, image::Luma([value]))
            .save(path)
            .unwrap();
    }
}

#[test]
fn image_folder_rgb_and_grey() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    save_png(&root.join("train/cat/0.png"), true, 4, 5);
    save_png(&root.join("train/ant/0.png"), true, 4, 6);
    save_png(&root.join("train/ant/1.png"), true, 4, 7);
    save_png(&root.join("test/cat/0.png"), true, 4, 8);
    std::fs::create_dir_all(root.join("test/ant")).unwrap();
    assert_eq!(detect_format(root).unwrap(), DataFormat::Folder);
    let splits = load(root, None).unwrap();
    assert_eq!(splits.class_names, vec!["ant", "cat"]);
    // classes interleaved in proportion: ant, cat, ant
    assert_eq!(splits.train.labels, vec![0, 1, 0]);
    assert_eq!(splits.findings.untested_classes, ["ant"]);
    assert_eq!(splits.train.channels, 3);
    // planar CHW: red plane first, then green (= x), then blue
    assert_eq!(&splits.train.image(0)[..4], &[6, 6, 6, 6]);
    assert_eq!(&splits.train.image(0)[16..20], &[0, 1, 2, 3]);

    let grey = tempfile::tempdir().unwrap();
    save_png(&grey.path().join("train/a/0.png"), false, 3, 9);
    save_png(&grey.path().join("test/a/0.png"), false, 3, 9);
    let splits = load(grey.path(), None).unwrap();
    assert_eq!(
        (splits.train.channels, splits.train.image(0)),
        (1, &[9u8; 9][..])
    );
}

#[test]
fn image_folder_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    save_png(&root.join("train/a/0.png"), true, 4, 1);
    save_png(&root.join("train/a/1.png"), true, 5, 1);
    save_png(&root.join("test/a/0.png"), true, 4, 1);
    malformed(load(root, None), "5x5 image among 4x4 images");
    std::fs::remove_file(root.join("train/a/1.png")).unwrap();
    write(&root.join("train/a/2.jpg"), b"not a jpeg");
    malformed(load(root, None), "cannot decode image");
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        detect_format(empty.path()),
        Err(DataError::UnknownFormat { .. })
    ));
    assert!(matches!(
        load(&empty.path().join("missing"), None),
        Err(DataError::Io { .. })
    ));
}

fn tiny(len: usize) -> Dataset {
    Dataset {
        images: (0..len * 4).map(|i| (i % 251) as u8).collect(),
        labels: (0..len).map(|i| (i % 10) as u32).collect(),
        channels: 1,
        height: 2,
        width: 2,
        classes: 10,
    }
}

fn identity_norm() -> Normalization {
    Normalization {
        mean: vec![0.0],
        std: vec![1.0 / 255.0],
    }
}

#[test]
fn padding_centres_small_images() {
    let data = tiny(1);
    let plan = BatchPlan {
        batch_size: 1,
        shuffle: false,
        augment: Augment::plain(4),
        norm: identity_norm(),
    };
    let batch = EpochLoader::start(Arc::new(data), plan, 0, 0, 0)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(batch.shape, [1, 1, 4, 4]);
    #[rustfmt::skip]
    let want = [0., 0., 0., 0.,  0., 0., 1., 0.,  0., 2., 3., 0.,  0., 0., 0., 0.];
    assert_eq!(batch.images, want);
}

#[test]
fn cutout_masks_one_square_clipped_at_the_border() {
    let mut image = vec![1.0f32; 2 * 8 * 8];
    cutout(&mut image, 2, 8, 4, 0, 7); // centred on the top-right corner
    for c in 0..2 {
        for y in 0..8 {
            for x in 0..8 {
                let masked = y < 2 && x >= 5;
                assert_eq!(image[(c * 8 + y) * 8 + x] == 0.0, masked, "c{c} y{y} x{x}");
            }
        }
    }
}

#[test]
fn loader_covers_each_image_once_and_replays_exactly() {
    let data = Arc::new(tiny(23));
    let plan = BatchPlan {
        batch_size: 5,
        shuffle: true,
        augment: Augment::train(4, Some(2)),
        norm: identity_norm(),
    };
    let epoch: Vec<_> = EpochLoader::start(data.clone(), plan.clone(), 7, 3, 0)
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(epoch.len(), 5);
    assert_eq!(epoch.last().unwrap().shape[0], 3);
    let mut labels: Vec<i64> = epoch.iter().flat_map(|b| b.labels.clone()).collect();
    labels.sort_unstable();
    let mut want: Vec<i64> = data.labels.iter().map(|&l| l as i64).collect();
    want.sort_unstable();
    assert_eq!(labels, want);
    // Resuming at batch 2 gives exactly batches 2.. of the same epoch; another epoch differs.
    let resumed: Vec<_> = EpochLoader::start(data.clone(), plan.clone(), 7, 3, 2)
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(resumed, epoch[2..]);
    assert_ne!(epoch_order(23, true, 7, 3), epoch_order(23, true, 7, 4));
    // Dropping a loader mid-epoch does not hang.
    let mut partial = EpochLoader::start(data, plan, 7, 5, 0);
    assert!(partial.next().is_some());
}

#[test]
fn imagenet_crops_stay_inside_the_image() {
    use ista_nas::data::resample::{centre_region, random_resized_region};
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    for _ in 0..500 {
        let (top, left, h, w) = random_resized_region(300, 400, &mut rng);
        assert!(top >= 0.0 && left >= 0.0 && top + h <= 300.0 && left + w <= 400.0);
        let area = h * w / (300.0 * 400.0);
        assert!((0.07..=1.0).contains(&area), "area fraction {area}");
        assert!((0.74..=1.36).contains(&(w / h)), "aspect {}", w / h);
    }
    // Resize 256 / centre crop 224 of a 512×384 image keeps the centred 336×336 square.
    assert_eq!(
        centre_region(384, 512, 256, 224),
        (24.0, 88.0, 336.0, 336.0)
    );
}

#[test]
fn resampling_the_whole_image_at_its_size_is_exact() {
    use ista_nas::data::resample::resample;
    let image: Vec<u8> = (0..3 * 6 * 6).map(|i| (i * 7 % 256) as u8).collect();
    let out = resample(&image, (3, 6, 6), (0.0, 0.0, 6.0, 6.0), 6, false);
    let expected: Vec<f32> = image.iter().map(|&p| p as f32 / 255.0).collect();
    assert!(out.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6));
    let flipped = resample(&image, (3, 6, 6), (0.0, 0.0, 6.0, 6.0), 6, true);
    assert_eq!(flipped[0], expected[5]);
}

#[test]
fn colour_jitter_stays_in_range_and_zero_strength_is_identity() {
    use ista_nas::data::resample::colour_jitter;
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let original: Vec<f32> = (0..3 * 16).map(|i| (i as f32 / 47.0).fract()).collect();
    let mut same = original.clone();
    colour_jitter(&mut same, 3, 0.0, &mut rng);
    assert_eq!(same, original);
    let mut changed = original.clone();
    colour_jitter(&mut changed, 3, 0.4, &mut rng);
    assert_ne!(changed, original);
    assert!(changed.iter().all(|v| (0.0..=1.0).contains(v)));
}

/// The default data set is compiled into the binary: it equals the files in the source tree,
/// and a binary copied elsewhere still reads it.
#[test]
fn embedded_subset_travels_with_the_binary() {
    let folder =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/fashion-mnist-subset");
    let from_files = ista_nas::data::idx::load_dir(&folder).unwrap();
    let compiled = embedded().unwrap();
    assert_eq!(compiled.train.images, from_files.train.images);
    assert_eq!(compiled.train.labels, from_files.train.labels);
    assert_eq!(compiled.test.images, from_files.test.images);
    assert_eq!(compiled.test.labels, from_files.test.labels);

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("ista-nas");
    std::fs::copy(env!("CARGO_BIN_EXE_ista-nas"), &copy).unwrap();
    let out = std::process::Command::new(&copy)
        .arg("data")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("train: 6000 images of 1x28x28"), "{stdout}");
}
