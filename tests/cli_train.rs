//! `ista-nas train`, `eval` and `genotype show` through the binary.

mod common;

use common::{assert_clean_failure, run, text, tiny_training_run};

/// The percentage after `key` in `line`, e.g. `top-1 57.80 %`.
fn percent_after(line: &str, key: &str) -> f64 {
    let rest = &line[line
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} in {line}"))
        + key.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn short_training_learns_and_eval_reproduces_its_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_str = out.to_str().unwrap();
    let args = [
        "train",
        "--device",
        "vulkan",
        "--genotype",
        "ISTA_NAS",
        "--epochs",
        "2",
        "--train-images",
        "1024",
        "--test-images",
        "500",
        "--channels",
        "4",
        "--layers",
        "3",
        "--batch-size",
        "32",
        "--auxiliary-weight",
        "0",
        "--out",
        out_str,
    ];
    let result = run(&args);
    let stdout = text(&result.stdout);
    assert!(result.status.success(), "{}", text(&result.stderr));
    let best = stdout
        .lines()
        .find(|l| l.starts_with("best: epoch"))
        .expect("a best line");
    let trained = percent_after(best, "test top-1");
    assert!(
        trained > 35.0,
        "10 classes: chance is 10 %, got {trained} %\n{stdout}"
    );
    for file in [
        "config.json",
        "metrics.csv",
        "curves.json",
        "curves.svg",
        "tensorboard",
        "genotype.json",
        "normal.svg",
        "reduce.svg",
        "checkpoint.bin",
        "best.model",
        "last.model",
        "best.safetensors",
        "last.safetensors",
    ] {
        assert!(out.join(file).exists(), "missing {file}");
    }
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    assert_eq!(lines[0], ista_nas::train::checkpoint::TRAIN_METRICS_HEADER);
    assert_eq!(lines.len(), 3, "{metrics}");

    let model = out.join("best.model");
    let eval = run(&[
        "eval",
        "--device",
        "vulkan",
        "--model",
        model.to_str().unwrap(),
        "--images",
        "500",
    ]);
    let eval_out = text(&eval.stdout);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    let line = eval_out
        .lines()
        .find(|l| l.starts_with("500 images"))
        .expect("a result line");
    let reproduced = percent_after(line, "top-1");
    assert!(
        (reproduced - trained).abs() < 1e-9,
        "train said {trained} %, eval says {reproduced} %"
    );
    assert!(percent_after(line, "top-5") >= reproduced);

    // The genotype file of the run is accepted back by --genotype; a finished run resumes to nothing.
    let show = run(&[
        "genotype",
        "show",
        out.join("genotype.json").to_str().unwrap(),
    ]);
    assert!(show.status.success(), "{}", text(&show.stderr));
    assert_clean_failure(&run(&args), "already holds a run");
    let resumed = run(&["train", "--device", "vulkan", "--resume", out_str]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
}

#[test]
fn genotype_show_prints_cells_and_published_sizes() {
    for (name, expected) in [
        ("DARTS_V2", "3349342 parameters"),
        ("ISTA_NAS", "3316726 parameters"),
        ("ISTA_NAS_ONE_STAGE", "3371806 parameters"),
        ("ISTA_NAS_IMAGENET", "5651392 parameters"),
    ] {
        let out = run(&["genotype", "show", name]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            stdout.contains(expected) && stdout.contains("state 5 = "),
            "{stdout}"
        );
        assert!(
            stdout.contains("multiply-adds per 224x224 image"),
            "{stdout}"
        );
    }
    let json = run(&["genotype", "show", "ISTA_NAS", "--json"]);
    let parsed =
        ista_nas::search_space::genotype::Genotype::from_json(&text(&json.stdout), "stdout")
            .unwrap();
    assert_eq!(
        parsed,
        ista_nas::search_space::genotype::Genotype::builtin("ISTA_NAS").unwrap()
    );
}

#[test]
fn bad_train_and_eval_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad_genotype = dir.path().join("g.json");
    std::fs::write(&bad_genotype, r#"{"normal": [["conv_9x9", 0]]}"#).unwrap();
    let bad = bad_genotype.to_str().unwrap();
    assert_clean_failure(&run(&["train", "--genotype", bad]), "not valid JSON");
    assert_clean_failure(&run(&["genotype", "show", bad]), "not valid JSON");
    assert_clean_failure(
        &run(&["train", "--genotype", "NO_SUCH_NAME"]),
        "NO_SUCH_NAME is neither a built-in genotype (DARTS_V2, ISTA_NAS",
    );
    assert_clean_failure(&run(&["train", "--drop-path", "1"]), "--drop-path");
    let model = dir.path().join("m.model");
    std::fs::write(&model, b"garbage").unwrap();
    assert_clean_failure(
        &run(&["eval", "--model", model.to_str().unwrap()]),
        "not a usable ista-nas model file",
    );
    assert_clean_failure(
        &run(&["eval", "--model", "/no/such.model"]),
        "cannot load --model: /no/such.model: ",
    );
    // a folder, or a file of another kind: which files are model files
    for (path, what) in [
        (
            dir.path().to_path_buf(),
            "is a folder, not a model file; model files are",
        ),
        (
            dir.path().join("w.safetensors"),
            "(a .safetensors file holds weights",
        ),
        (
            dir.path().join("checkpoint.bin"),
            "(checkpoint.bin is what `--resume` reads)",
        ),
    ] {
        std::fs::write(dir.path().join("w.safetensors"), b"{}").unwrap();
        std::fs::write(dir.path().join("checkpoint.bin"), b"ISTACKPT and more").unwrap();
        let p = path.to_str().unwrap();
        assert_clean_failure(&run(&["eval", "--model", p]), what);
        assert_clean_failure(&run(&["export", p, "--onnx", "x.onnx"]), what);
    }
    // built-in names with `-` for `_`
    let shown = run(&["genotype", "show", "ista-nas"]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert_clean_failure(
        &run(&["train", "--resume", "/no/such/run"]),
        "cannot resume",
    );
    // Valid JSON that names an op outside the search space.
    let unknown_op = dir.path().join("unknown.json");
    let json = ista_nas::search_space::genotype::Genotype::builtin("ISTA_NAS")
        .unwrap()
        .to_json()
        .replace("sep_conv_5x5", "conv_9x9");
    std::fs::write(&unknown_op, json).unwrap();
    assert_clean_failure(
        &run(&["train", "--genotype", unknown_op.to_str().unwrap()]),
        "unknown op \"conv_9x9\"",
    );
    for (args, expected) in [
        (
            &["train", "--epochs", "0"][..],
            "--epochs must be at least 1",
        ),
        (&["train", "--channels", "5"], "--channels must be even"),
        (&["train", "--layers", "2"], "--layers must lie in 3..=256"),
        (&["train", "--label-smoothing", "1"], "--label-smoothing"),
        (
            &[
                "train",
                "--preset",
                "imagenet",
                "--epochs",
                "3",
                "--warmup-epochs",
                "5",
            ],
            "--warmup-epochs (5) must be fewer than --epochs (3)",
        ),
        (
            &["train", "--image-size", "16"],
            "larger than --image-size 16",
        ),
        (&["train", "--image-size", "34"], "which it must halve"),
        (
            &[
                "train",
                "--preset",
                "imagenet",
                "--image-size",
                "64",
                "--epochs",
                "9",
            ],
            "too small for its 5x5 pool",
        ),
        (
            &["eval", "--model", "x.model", "--batch-size", "0"],
            "--batch-size must be at least 1",
        ),
    ] {
        assert_clean_failure(&run(args), expected);
    }
    // Input found bad only after reading the data leaves no run folder behind.
    let never = dir.path().join("never");
    let never_str = never.to_str().unwrap();
    assert_clean_failure(
        &run(&["train", "--image-size", "16", "--out", never_str]),
        "larger than --image-size 16",
    );
    assert_clean_failure(
        &run(&["search", "--data", "/no/such/data", "--out", never_str]),
        "reading /no/such/data",
    );
    assert!(!never.exists(), "a failed start left {}", never.display());
    // A search run's checkpoint is not a training checkpoint.
    let search_run = dir.path().join("search-run");
    std::fs::create_dir(&search_run).unwrap();
    let mut search_checkpoint = b"ISTANAS\x03".to_vec();
    search_checkpoint.extend(2u64.to_le_bytes());
    search_checkpoint.extend(b"{}");
    std::fs::write(search_run.join("checkpoint.bin"), search_checkpoint).unwrap();
    assert_clean_failure(
        &run(&["train", "--resume", search_run.to_str().unwrap()]),
        "no ista-nas training checkpoint signature",
    );
}

#[test]
fn eval_refuses_data_the_model_was_not_built_for() {
    use burn::tensor::Device;
    use ista_nas::data::augment::{Augment, Normalization};
    use ista_nas::model::eval_network::{EvalConfig, EvalNetwork};
    use ista_nas::model::heads::NetKind;
    use ista_nas::storage::model_file::{ModelHeader, save_model};
    let network = EvalConfig {
        kind: NetKind::Cifar,
        genotype: ista_nas::search_space::genotype::Genotype::builtin("ISTA_NAS").unwrap(),
        channels: 2,
        layers: 3,
        classes: 10,
        in_channels: 3,
        auxiliary: false,
        extra_norms: false,
    };
    let header = ModelHeader {
        network: network.clone(),
        augment: Augment::plain(32),
        norm: Normalization {
            mean: vec![0.5; 3],
            std: vec![0.25; 3],
        },
        class_names: (0..10).map(|c| c.to_string()).collect(),
        epoch: 0,
        scores: Default::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rgb.model");
    save_model(&path, &header, &EvalNetwork::new(&network, &Device::flex())).unwrap();
    // The embedded data is grey (1 channel).
    assert_clean_failure(
        &run(&["eval", "--model", path.to_str().unwrap()]),
        "the model takes 3-channel images of 10 classes",
    );
    let grey = EvalConfig {
        in_channels: 1,
        ..network
    };
    let header = ModelHeader {
        network: grey.clone(),
        norm: Normalization {
            mean: vec![0.5],
            std: vec![0.25],
        },
        ..header
    };
    let path = dir.path().join("grey.model");
    save_model(&path, &header, &EvalNetwork::new(&grey, &Device::flex())).unwrap();
    assert_clean_failure(
        &run(&["eval", "--model", path.to_str().unwrap(), "--images", "0"]),
        "no test images to score",
    );
}

/// The start lines show each epoch's learning rate, and a run whose last epochs would train at
/// under 1 % of the peak (every cosine run to lr_min 0: the schedule is stepped before each
/// epoch) says which; a one-stage run steps after each epoch, so its first is at the peak.
#[test]
fn the_lr_plan_is_printed_and_epochs_at_lr_zero_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let done = tiny_training_run(&dir.path().join("one"), 1, &[]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let (stdout, stderr) = (text(&done.stdout), text(&done.stderr));
    assert!(stdout.contains("lr by epoch: 0.0000\n"), "{stdout}");
    let warning = "warning: epoch 1 of 1 trains at under 1 % of the peak lr";
    assert!(stderr.contains(warning), "{stderr}");

    let done = tiny_training_run(&dir.path().join("floor"), 2, &["--lr-min", "0.01"]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let (stdout, stderr) = (text(&done.stdout), text(&done.stderr));
    assert!(stdout.contains("lr by epoch: 0.0550, 0.0100\n"), "{stdout}");
    assert!(!stderr.contains("warning: epoch"), "{stderr}");
}
