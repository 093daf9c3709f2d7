//! ImageFolder data streamed from disk for the ImageNet protocol: images of mixed sizes and
//! modes (grey, RGB, RGBA, grey PNG), decoded to RGB as batches are made; a training run and
//! its evaluation on such a folder; a corrupt image stops a run with its name.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{run, text};
use image::{GrayImage, Rgb, RgbImage, Rgba, RgbaImage};
use ista_nas::data::augment::Augment;
use ista_nas::data::imagenet_normalization;
use ista_nas::data::loader::{BatchPlan, EpochLoader};
use ista_nas::data::stream::{ImageSet, StreamedFolder, list_folder};

/// `root/{train,test}/{a,b}/…` with images of several sizes and modes.
fn mixed_folder(root: &Path) {
    for (split, per_class) in [("train", 6), ("test", 3)] {
        for (class, shade) in [("a", 40u8), ("b", 200u8)] {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..per_class {
                let (w, h) = (40 + 13 * i as u32, 90 - 7 * i as u32);
                let path = dir.join(format!("{i}"));
                match i % 4 {
                    0 => RgbImage::from_fn(w, h, |x, _| Rgb([shade, (x % 255) as u8, 90]))
                        .save(path.with_extension("jpg")),
                    1 => GrayImage::from_fn(w, h, |_, y| image::Luma([shade ^ (y as u8)]))
                        .save(path.with_extension("jpeg")),
                    2 => RgbaImage::from_pixel(w, h, Rgba([shade, 10, 20, 128]))
                        .save(path.with_extension("png")),
                    _ => GrayImage::from_pixel(w, h, image::Luma([shade]))
                        .save(path.with_extension("png")),
                }
                .unwrap();
            }
        }
    }
}

/// Every mode becomes planar RGB at the file's own size: grey repeated, alpha dropped.
#[test]
fn streamed_images_decode_to_rgb_at_their_own_size() {
    let dir = tempfile::tempdir().unwrap();
    mixed_folder(dir.path());
    let splits = list_folder(dir.path(), (None, None), false).unwrap();
    assert_eq!(splits.class_names, ["a", "b"]);
    assert_eq!((splits.train.len(), splits.test.len()), (12, 6));
    let train = &splits.train;
    // two classes of six take turns: a0, b0, a1, b1, …
    assert_eq!(train.label(0), 0);
    assert_eq!(train.label(1), 1);
    let (rgba, dims) = train.pixels(4).unwrap(); // class a, i = 2: RGBA PNG 66x76
    assert_eq!(dims, (3, 76, 66));
    let plane = 76 * 66;
    assert_eq!((rgba[0], rgba[plane], rgba[2 * plane]), (40, 10, 20));
    let (grey, dims) = train.pixels(7).unwrap(); // class b, i = 3: grey PNG 79x69
    assert_eq!(dims, (3, 69, 79));
    let plane = 69 * 79;
    assert_eq!(
        (grey[5], grey[plane + 5], grey[2 * plane + 5]),
        (200, 200, 200)
    );
}

/// The loader crops every image to one side and delivers whole batches, in order.
#[test]
fn streamed_batches_have_one_shape() {
    let dir = tempfile::tempdir().unwrap();
    mixed_folder(dir.path());
    let splits = list_folder(dir.path(), (None, None), false).unwrap();
    let plan = BatchPlan {
        batch_size: 5,
        shuffle: true,
        augment: Augment::imagenet_train(32, 0.4),
        norm: imagenet_normalization(),
    };
    let batches: Vec<_> = EpochLoader::start(Arc::new(splits.train), plan, 3, 0, 0)
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(batches.len(), 3);
    assert_eq!(batches[0].shape, [5, 3, 32, 32]);
    assert_eq!(batches[2].shape, [2, 3, 32, 32]);
    assert!(
        batches
            .iter()
            .all(|b| b.images.iter().all(|v| v.is_finite()))
    );
}

/// A file that is no image stops the epoch with an error naming it.
#[test]
fn a_corrupt_image_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    mixed_folder(dir.path());
    let bad = dir.path().join("train/a/zz.jpg");
    std::fs::write(&bad, b"not a jpeg").unwrap();
    let folder =
        StreamedFolder::list(&dir.path().join("train"), &["a".into(), "b".into()]).unwrap();
    let plan = BatchPlan {
        batch_size: 4,
        shuffle: false,
        augment: Augment::imagenet_eval(36, 32),
        norm: imagenet_normalization(),
    };
    let results: Vec<_> = EpochLoader::start(Arc::new(folder), plan, 0, 0, 0).collect();
    let error = results
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("an error");
    assert!(error.to_string().contains("zz.jpg"), "{error}");
    assert!(
        results.last().unwrap().is_err(),
        "the epoch stops at the error"
    );
}

/// `root/{train,test}/<class>/…` of four classes told apart by pattern (horizontal stripes,
/// vertical stripes, a checkerboard, flat), which survives crops, flips and colour jitter;
/// `train` and `test` images per class, of several sizes, grey PNG, RGB PNG and JPEG.
fn patterned_folder(root: &Path, train: usize, test: usize) {
    for (split, per_class) in [("train", train), ("test", test)] {
        for c in 0..4u32 {
            let dir = root.join(split).join(format!("c{c}"));
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..per_class {
                let (w, h) = (48 + 11 * (i % 5) as u32, 80 - 9 * (i % 4) as u32);
                let value = |x: u32, y: u32| {
                    let on = match c {
                        0 => (y / 8) % 2,
                        1 => (x / 8) % 2,
                        2 => (x / 8 + y / 8) % 2,
                        _ => 0,
                    };
                    (60 + (i * 37) % 50 + 130 * on as usize) as u8
                };
                let path = dir.join(format!("{i:02}"));
                if i % 2 == 0 {
                    GrayImage::from_fn(w, h, |x, y| image::Luma([value(x, y)]))
                        .save(path.with_extension("png"))
                } else {
                    RgbImage::from_fn(w, h, |x, y| Rgb([value(x, y), value(x, y) / 2, 90]))
                        .save(path.with_extension(if i % 3 == 0 { "png" } else { "jpg" }))
                }
                .unwrap();
            }
        }
    }
}

/// `train --preset imagenet` on a patterned folder streams it, learns its four classes well above
/// chance, and `eval` of its model on the same folder (streamed too) reproduces the run's last
/// test top-1: a model that learnt nothing would score the same however `eval` preprocessed,
/// one that learnt only under the training run's preprocessing would not.
#[test]
fn imagenet_protocol_trains_on_a_streamed_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    patterned_folder(&data, 10, 8);
    let out = dir.path().join("run");
    let result = run(&[
        "train",
        "--device",
        "cpu",
        "--preset",
        "imagenet",
        "--data",
        data.to_str().unwrap(),
        "--image-size",
        "64",
        "--channels",
        "4",
        "--layers",
        "3",
        "--batch-size",
        "8",
        "--lr",
        "0.05",
        "--epochs",
        "20",
        "--warmup-epochs",
        "1",
        "--auxiliary-weight",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = text(&result.stdout);
    assert!(
        result.status.success(),
        "{}\n{stdout}",
        text(&result.stderr)
    );
    assert!(
        stdout.contains("(streamed) — 40 training and 32 test images, 4 classes"),
        "{stdout}"
    );
    let last = stdout
        .lines()
        .rfind(|l| l.starts_with("epoch 20/20"))
        .unwrap();
    let top1 = last
        .split("top-1 ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let value: f64 = top1.parse().unwrap();
    assert!(
        value >= 75.0,
        "four classes apart by pattern are learnt well above chance (25 %): {last}"
    );
    let config = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(
        config.contains("0.485"),
        "ImageNet's normalisation is kept: {config}"
    );

    let model = out.join("last.model");
    let eval = run(&[
        "eval",
        "--device",
        "cpu",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    let eval_out = text(&eval.stdout);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    assert!(
        eval_out.contains(&format!("top-1 {top1} %")),
        "{eval_out}\n{last}"
    );
}

/// 1,001 classes: every class folder keeps its own label.
#[test]
fn a_thousand_and_one_classes_keep_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    for split in ["train", "test"] {
        for c in 0..1001 {
            let class = dir.path().join(split).join(format!("n{c:05}"));
            std::fs::create_dir_all(&class).unwrap();
            GrayImage::from_pixel(3, 2, image::Luma([c as u8]))
                .save(class.join("x.png"))
                .unwrap();
        }
    }
    let splits = list_folder(dir.path(), (None, None), false).unwrap();
    assert_eq!(splits.class_names.len(), 1001);
    assert_eq!(splits.train.label(1000), 1000);
    assert_eq!(splits.train.classes, 1001);
    assert_eq!(splits.test.pixels(700).unwrap().0[0], (700 % 256) as u8);
}

/// A streamed folder a run cannot learn from is refused with the same messages as loaded data:
/// one class, one training image, no test image.
#[test]
fn unusable_streamed_folders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    mixed_folder(dir.path());
    let refused = |images, expected: &str| {
        let error = list_folder(dir.path(), images, false)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    };
    refused((Some(1), None), "1 training images; a run needs at least 2");
    refused((None, Some(0)), "no test images to score the run on");
    std::fs::remove_dir_all(dir.path().join("train/b")).unwrap();
    refused(
        (None, None),
        "test/b is malformed: a class folder that train/ lacks",
    );
    std::fs::remove_dir_all(dir.path().join("test/b")).unwrap();
    refused((None, None), "1 class; a classifier needs at least 2");
}
