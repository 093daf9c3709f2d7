//! `ista-nas train`, `eval` and `genotype show` through the binary.

mod common;

use common::{assert_clean_failure, run, text};

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
        "genotype.json",
        "normal.svg",
        "reduce.svg",
        "checkpoint.bin",
        "best.model",
        "last.model",
        "best.safetensors",
        "last.safetensors",
    ] {
        assert!(out.join(file).is_file(), "missing {file}");
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
    let parsed = ista_nas::genotype::Genotype::from_json(&text(&json.stdout), "stdout").unwrap();
    assert_eq!(
        parsed,
        ista_nas::genotype::Genotype::builtin("ISTA_NAS").unwrap()
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
        "built-in names",
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
        "cannot load --model",
    );
    assert_clean_failure(
        &run(&["train", "--resume", "/no/such/run"]),
        "cannot resume",
    );
}
