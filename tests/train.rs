//! Training from scratch on lavapipe: learning, exact resume, model files and their exports.

mod common;

use common::serial;
use ista_nas::data::{Dataset, embedded};
use ista_nas::search_space::genotype::Genotype;
use ista_nas::step_metrics::StepControl;
use ista_nas::storage::model_file::{export_safetensors, load_model, save_model};
use ista_nas::train::checkpoint::TrainCheckpoint;
use ista_nas::train::config::TrainConfig;
use ista_nas::train::trainer::{TrainRecord, Trainer};

/// A tiny net exercising every training feature: auxiliary head, drop path, cutout.
fn tiny() -> TrainConfig {
    let mut config = TrainConfig {
        channels: 2,
        layers: 3,
        epochs: 2,
        batch_size: 32,
        test_images: Some(64),
        auxiliary_weight: 0.4,
        drop_path: 0.2,
        ..TrainConfig::quick(Genotype::builtin("ISTA_NAS").unwrap())
    };
    config.data.train_images = Some(192);
    config.data.cutout = Some(8);
    config
}

fn data(config: &TrainConfig) -> (Dataset, Dataset, Vec<String>) {
    let splits = embedded().unwrap();
    (
        splits.train.slice(0..config.data.train_images.unwrap()),
        splits.test.slice(0..config.test_images.unwrap()),
        splits.class_names,
    )
}

fn trainer(config: &TrainConfig) -> Trainer {
    let (train, test, names) = data(config);
    Trainer::new(config.clone(), train, test, names, &common::vulkan())
}

/// A record without its timings, which differ from run to run.
fn untimed(mut r: TrainRecord) -> TrainRecord {
    r.seconds = 0.0;
    r.peak_memory_bytes = None;
    r
}

#[test]
fn resume_matches_an_uninterrupted_run() {
    let _serial = serial();
    let config = tiny();
    let mut straight = trainer(&config);
    let first = straight
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    let second = straight
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    assert!(second.drop_path > 0.0 && second.lr < first.lr);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.bin");
    let mut interrupted = trainer(&config);
    let again = interrupted
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    assert_eq!(untimed(again.clone()), untimed(first));
    interrupted
        .checkpoint(&[again])
        .unwrap()
        .save(&path)
        .unwrap();
    drop(interrupted);

    let checkpoint = TrainCheckpoint::load(&path).unwrap();
    assert_eq!(checkpoint.header.config, config);
    let mut resumed = trainer(&checkpoint.header.config);
    resumed.restore(checkpoint).unwrap();
    let resumed_second = resumed
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    assert_eq!(untimed(resumed_second), untimed(second));
}

#[test]
fn model_files_round_trip_and_export_safetensors() {
    let _serial = serial();
    let config = TrainConfig {
        epochs: 1,
        ..tiny()
    };
    let mut run = trainer(&config);
    let record = run
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    let dir = tempfile::tempdir().unwrap();
    let header = run.model_header(record.test);
    let path = dir.path().join("m.model");
    save_model(&path, &header, &run.eval_model()).unwrap();
    let (loaded_header, loaded) = load_model(&path, &common::vulkan()).unwrap();
    assert_eq!(loaded_header, header);
    let images = common::random([3, 1, 32, 32], 9, &common::vulkan());
    let expected = common::host(run.eval_model().forward(images.clone()));
    let got = common::host(loaded.forward(images));
    assert!(common::max_abs_diff(&expected, &got) < 1e-6);

    let export = dir.path().join("m.safetensors");
    export_safetensors(&export, &header, &run.eval_model()).unwrap();
    let bytes = std::fs::read(&export).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let names = tensors.names();
    assert!(
        names
            .iter()
            .any(|n| n.contains("stem") && n.ends_with("weight")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("running_mean")),
        "{names:?}"
    );
    let count: usize = tensors
        .tensors()
        .iter()
        .filter(|(n, _)| !n.contains("running") && !n.ends_with("num_batches_tracked"))
        .map(|(_, t)| t.shape().iter().product::<usize>())
        .sum();
    assert_eq!(count, ista_nas::model::trainable_params(&run.model));
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let json = metadata
        .metadata()
        .as_ref()
        .unwrap()
        .get("ista_nas")
        .unwrap();
    assert!(json.contains("\"genotype\""), "{json}");
}

#[test]
fn malformed_model_files_are_clear_errors() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let device = common::vulkan();
    let path = dir.path().join("bad.model");
    std::fs::write(&path, b"definitely not a model").unwrap();
    let error = load_model(&path, &device).unwrap_err().to_string();
    assert!(
        error.contains("not a usable ista-nas model file"),
        "{error}"
    );
    let mut truncated = b"ISTAMDL\x01".to_vec();
    truncated.extend(10_000u64.to_le_bytes());
    std::fs::write(&path, &truncated).unwrap();
    let error = load_model(&path, &device).unwrap_err().to_string();
    assert!(error.contains("header of 10000 bytes"), "{error}");
    let missing = load_model(&dir.path().join("missing.model"), &device).unwrap_err();
    assert!(missing.to_string().contains("missing.model"), "{missing}");

    // A well-formed file whose weights belong to a different network.
    let mut run = trainer(&tiny());
    let header = run.model_header(Default::default());
    let mut wider = header.clone();
    wider.network.channels = 4;
    run.epochs_done = 0;
    save_model(&path, &wider, &run.eval_model()).unwrap();
    let error = load_model(&path, &device).unwrap_err().to_string();
    assert!(error.contains("do not fit"), "{error}");
}

#[test]
fn imagenet_protocol_trains_a_step_on_small_images() {
    let _serial = serial();
    let mut config = TrainConfig {
        channels: 4,
        layers: 3,
        epochs: 2,
        warmup_epochs: 1,
        batch_size: 16,
        test_images: Some(16),
        image_size: 64,
        eval_resize: 72,
        auxiliary_weight: 0.0,
        ..TrainConfig::imagenet(Genotype::builtin("ISTA_NAS_IMAGENET").unwrap())
    };
    config.data.train_images = Some(32);
    assert_eq!(config.lr_at(0), 0.5); // warm-up 0.5 · 1/1
    assert!((config.lr_at(1) - 0.1).abs() < 1e-12); // 2 epochs: tail slope 0.5 · 1/(1 · 5)
    let mut run = trainer(&config);
    let record = run
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    assert!(record.train_loss.is_finite() && record.test.loss.is_finite());
}

#[test]
fn protocol_presets() {
    let genotype = Genotype::builtin("ISTA_NAS").unwrap();
    let cifar = TrainConfig::cifar(genotype.clone());
    assert_eq!(
        (cifar.epochs, cifar.batch_size, cifar.data.cutout),
        (600, 96, Some(16))
    );
    assert!((cifar.drop_path_at(300) - 0.1).abs() < 1e-12);
    let imagenet = TrainConfig::imagenet(genotype);
    assert!((imagenet.label_smoothing, imagenet.sgd.weight_decay) == (0.1, 3e-5));
}
