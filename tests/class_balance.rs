//! The images a run takes hold every class in proportion: ImageFolder listings interleave their
//! classes, so every prefix (`--train-images`, `--test-images`, bench's batches, a study's data,
//! streamed lists) and the search's two halves hold each class at its share of the whole set,
//! while IDX files keep their order (the reference's). Folders are read as torchvision reads
//! them, or refused with a reason; a batch larger than the data is refused.

mod common;

use std::path::Path;

use common::{assert_clean_failure, run, text};
use image::{GrayImage, Luma};
use ista_nas::data::class_interleave::interleave;
use ista_nas::data::stream::{ImageSet, list_folder};
use ista_nas::data::{Dataset, load};
use proptest::prelude::*;

/// Images of each class in `labels`.
fn counts(labels: &[u32], classes: usize) -> Vec<usize> {
    let mut n = vec![0; classes];
    for &l in labels {
        n[l as usize] += 1;
    }
    n
}

/// The largest |count_c − len·share_c| of `labels` against the shares `whole / total`.
fn deviation(labels: &[u32], whole: &[usize]) -> f64 {
    let total: usize = whole.iter().sum();
    counts(labels, whole.len())
        .iter()
        .zip(whole)
        .map(|(&n, &w)| (n as f64 - labels.len() as f64 * w as f64 / total as f64).abs())
        .fold(0.0, f64::max)
}

proptest! {
    /// Every prefix holds each class within B = 1 − 1/(2(k−1)) of its share; the first half of
    /// a prefix is a prefix, its second half is within twice that, and the halves of the whole
    /// listing within B.
    #[test]
    fn every_prefix_holds_each_class_within_one_image(
        sizes in prop::collection::vec(prop_oneof![1usize..6, 1usize..60, 0usize..3], 1..12)
    ) {
        let order = interleave(&sizes);
        prop_assert_eq!(counts(&order, sizes.len()), sizes.clone());
        let k = sizes.iter().filter(|&&n| n > 0).count();
        let bound = if k < 2 { 0.0 } else { 1.0 - 1.0 / (2.0 * (k as f64 - 1.0)) } + 1e-9;
        for n in 1..=order.len() {
            prop_assert!(deviation(&order[..n], &sizes) <= bound, "prefix {n} of {sizes:?}: {order:?}");
            prop_assert!(deviation(&order[n / 2..n], &sizes) < 2.0, "second half of {n}");
        }
        let half = order.len() / 2;
        prop_assert!(deviation(&order[half..], &sizes) <= bound);
    }

    /// Classes of one size take turns: every window of the listing holds each class within one.
    #[test]
    fn equal_classes_take_turns(classes in 1usize..9, each in 1usize..20) {
        let order = interleave(&vec![each; classes]);
        for (i, &c) in order.iter().enumerate() {
            prop_assert_eq!(c as usize, i % classes);
        }
    }
}

/// `root/{train,test}/<class>/NN.png`, sorted by class as such trees are, of unequal class
/// sizes; each 4×4 grey image holds 10·class + index, so its file can be told from its pixels.
fn sorted_folder(root: &Path, train: &[usize], test: &[usize]) {
    for (split, sizes) in [("train", train), ("test", test)] {
        for (c, &n) in sizes.iter().enumerate() {
            let dir = root.join(split).join(format!("class{c}"));
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..n {
                GrayImage::from_pixel(4, 4, Luma([(10 * c + i) as u8]))
                    .save(dir.join(format!("{i:02}.png")))
                    .unwrap();
            }
        }
    }
}

fn assert_in_proportion(part: &Dataset, whole: &[usize], slack: f64, what: &str) {
    let deviation = deviation(&part.labels, whole);
    assert!(
        deviation < slack,
        "{what}: {:?} of {} images is off the shares of {whole:?} by {deviation}",
        counts(&part.labels, whole.len()),
        part.len()
    );
}

/// Every `--train-images` / `--test-images` prefix and both search halves of every prefix,
/// read into memory and streamed alike, hold each class in proportion; the streamed listing is
/// the same images in the same order.
#[test]
fn subsets_and_halves_of_a_sorted_folder_hold_every_class() {
    let dir = tempfile::tempdir().unwrap();
    let (train_sizes, test_sizes) = ([12, 9, 6, 5], [4, 4, 3, 2]);
    sorted_folder(dir.path(), &train_sizes, &test_sizes);
    let splits = load(dir.path(), None).unwrap();
    assert_eq!(counts(&splits.train.labels, 4), train_sizes);
    for n in 1..=splits.train.len() {
        let taken = splits.train.first(Some(n));
        assert_in_proportion(&taken, &train_sizes, 1.0, &format!("--train-images {n}"));
        let (weights, arch) = taken.split_half();
        assert_in_proportion(&weights, &train_sizes, 1.0, &format!("weights of {n}"));
        assert_in_proportion(&arch, &train_sizes, 2.0, &format!("architecture of {n}"));
    }
    let (weights, arch) = splits.train.split_half();
    assert_in_proportion(&weights, &train_sizes, 1.0, "weights");
    assert_in_proportion(&arch, &train_sizes, 1.0, "architecture");
    for m in 1..=splits.test.len() {
        let taken = splits.test.first(Some(m));
        assert_in_proportion(&taken, &test_sizes, 1.0, &format!("--test-images {m}"));
    }
    for (n, m) in [(2, 1), (7, 5), (16, 13), (32, 13)] {
        let streamed = list_folder(dir.path(), (Some(n), Some(m)), false).unwrap();
        for (listed, loaded) in [
            (&streamed.train, &splits.train),
            (&streamed.test, &splits.test),
        ] {
            let len = listed.len();
            assert_eq!(len, loaded.first(Some(len)).len());
            for i in 0..len {
                assert_eq!(listed.label(i), loaded.labels[i]);
                assert_eq!(listed.pixels(i).unwrap().0[0], loaded.image(i)[0]);
            }
        }
    }
}

/// IDX files keep their order: the first N images are the file's first N, as the reference
/// code's `indices[:split]` takes them.
#[test]
fn idx_files_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let idx = |magic: u32, dims: &[u32], payload: &[u8]| {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend(payload);
        bytes
    };
    let labels = [1u8, 1, 1, 0, 0, 2];
    for (prefix, n) in [("train", 6u32), ("t10k", 2)] {
        let pixels = vec![7u8; n as usize * 4];
        let images = idx(0x803, &[n, 2, 2], &pixels);
        std::fs::write(
            dir.path().join(format!("{prefix}-images-idx3-ubyte")),
            images,
        )
        .unwrap();
        let file = idx(0x801, &[n], &labels[..n as usize]);
        std::fs::write(dir.path().join(format!("{prefix}-labels-idx1-ubyte")), file).unwrap();
    }
    let splits = load(dir.path(), None).unwrap();
    assert_eq!(splits.train.first(Some(3)).labels, [1, 1, 1]);
}

/// `data --train-images N` prints the class counts a run would take, and the search's halves.
#[test]
fn data_prints_the_classes_a_run_takes() {
    let dir = tempfile::tempdir().unwrap();
    sorted_folder(dir.path(), &[10, 10, 10, 10], &[3, 3, 3, 3]);
    let out = run(&[
        "data",
        "--data",
        dir.path().to_str().unwrap(),
        "--train-images",
        "8",
        "--test-images",
        "6",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for line in [
        "train: 8 images (the first 8 of 40) of 1x4x4; per class class0: 2, class1: 2, class2: 2, class3: 2",
        "test: 6 images (the first 6 of 12) of 1x4x4; per class class0: 2, class1: 2, class2: 1, class3: 1",
        "search's weights: 4 images of 1x4x4; per class class0: 1, class1: 1, class2: 1, class3: 1",
        "search's architecture: 4 images of 1x4x4; per class class0: 1, class1: 1, class2: 1, class3: 1",
    ] {
        assert!(stdout.contains(line), "{line:?} not in\n{stdout}");
    }
}

/// torchvision's extensions (any case, in sub-folders too) are read and other files skipped
/// and counted; an empty training class is refused naming it unless `--classes` states the
/// count; a test class that training lacks is refused naming it; a test split without some
/// training class is allowed and said.
#[test]
fn folders_read_as_torchvision_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let grey = GrayImage::from_pixel(4, 4, Luma([50]));
    let a = root.join("train/a");
    std::fs::create_dir_all(a.join("nested")).unwrap();
    for name in [
        "0.bmp", "1.webp", "2.tif", "3.tiff", "4.pgm", "5.png", "6.JPG",
    ] {
        grey.save(a.join(name)).unwrap();
    }
    image::RgbImage::from_pixel(4, 4, image::Rgb([50, 50, 50]))
        .save(a.join("7.ppm"))
        .unwrap();
    grey.save(a.join("nested/8.jpeg")).unwrap();
    std::fs::write(a.join("notes.txt"), "not an image").unwrap();
    std::fs::write(a.join("9.gif"), b"GIF89a").unwrap();
    let rgb = image::RgbImage::from_pixel(4, 4, image::Rgb([50, 60, 70]));
    for class in ["train/b", "test/a"] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        rgb.save(root.join(class).join("x.png")).unwrap();
    }
    let splits = load(root, None).unwrap();
    assert_eq!(counts(&splits.train.labels, 2), [9, 1]);
    assert_eq!(splits.findings.skipped_files, 2);
    assert_eq!(splits.findings.untested_classes, ["b"]);
    let data = |extra: &[&str]| {
        let mut args = vec!["data", "--data", root.to_str().unwrap()];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = data(&[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("note: 2 files in class folders skipped: not an image by extension")
            && stdout.contains("note: test/ has no image of 1 training class (b)"),
        "{stdout}"
    );

    std::fs::create_dir_all(root.join("train/c")).unwrap();
    let error = load(root, None).unwrap().usable(None, true).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("class folder train/c holds no image"),
        "{error}"
    );
    let kept = load(root, None).unwrap().usable(Some(3), true).unwrap();
    assert_eq!(kept.class_names, ["a", "b", "c"]);
    let streamed = list_folder(root, (None, None), false).unwrap_err();
    assert!(streamed.to_string().contains("train/c holds no image"));
    let search = run(&[
        "search",
        "--device",
        "cpu",
        "--data",
        root.to_str().unwrap(),
        "--out",
        root.join("run").to_str().unwrap(),
    ]);
    assert_clean_failure(&search, "class folder train/c holds no image");
    std::fs::remove_dir(root.join("train/c")).unwrap();

    std::fs::create_dir_all(root.join("test/d")).unwrap();
    rgb.save(root.join("test/d/x.png")).unwrap();
    assert_clean_failure(
        &data(&[]),
        "test/d is malformed: a class folder that train/ lacks",
    );
}

/// A batch larger than the images it is drawn from is refused, not silently shrunk.
#[test]
fn a_batch_larger_than_the_data_is_refused() {
    let weights = "--batch-size 64 is more than the 32 images for the weights";
    let training = "--batch-size 32 is more than the 16 training images";
    let cases: [(&[&str], [&str; 2], &str); 3] = [
        (&["search"], ["64", "64"], weights),
        (&["train"], ["16", "32"], training),
        (&["search", "--one-stage"], ["16", "32"], training),
    ];
    for (command, [images, batch], expected) in cases {
        let mut args = command.to_vec();
        args.extend([
            "--device",
            "cpu",
            "--train-images",
            images,
            "--batch-size",
            batch,
        ]);
        assert_clean_failure(&run(&args), expected);
    }
}

/// A search on a class-sorted folder of random noise, taking fewer images than one class holds:
/// read class by class, every image would be of the first class and the search would report
/// 100 %; interleaved, its weights and architecture halves hold all four classes, which noise
/// cannot tell apart.
#[test]
fn a_search_on_a_sorted_folder_of_noise_learns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("noise");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for (split, per_class) in [("train", 40), ("test", 4)] {
        for c in 0..4 {
            let class = data.join(split).join(format!("c{c}"));
            std::fs::create_dir_all(&class).unwrap();
            for i in 0..per_class {
                let image = GrayImage::from_fn(8, 8, |_, _| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    Luma([(state >> 56) as u8])
                });
                image.save(class.join(format!("{i:03}.png"))).unwrap();
            }
        }
    }
    let out = dir.path().join("run");
    let result = run(&[
        "search",
        "--device",
        "cpu",
        "--data",
        data.to_str().unwrap(),
        "--train-images",
        "32",
        "--batch-size",
        "8",
        "--epochs",
        "3",
        "--channels",
        "4",
        "--layers",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = text(&result.stdout);
    assert!(result.status.success(), "{}", text(&result.stderr));
    assert!(
        stdout.contains("16 images for weights, 16 for the architecture, 4 classes"),
        "{stdout}"
    );
    for line in stdout.lines().filter(|l| l.starts_with("epoch ")) {
        let val = line.split("val loss").nth(1).unwrap();
        let acc: f64 = val
            .split("acc ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            acc <= 62.5,
            "noise scored {acc} % on held-out images: {line}"
        );
    }
}
