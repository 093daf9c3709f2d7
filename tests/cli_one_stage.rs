//! `search --one-stage` end to end on the embedded data (Burn's CPU backend): the run folder,
//! freezing, training, the folded network that `eval` scores exactly as the supernet scored
//! itself, `fold` on demand, `genotype show` of the folded model, the parameter budget, resume
//! and the inputs the one-stage commands refuse.

mod common;

use std::path::Path;

use common::{assert_clean_failure, run, text};
use ista_nas::search::one_stage::checkpoint::ONE_STAGE_METRICS_HEADER;

/// A tiny one-stage run into `out` with `extra` options.
fn one_stage(out: &Path, extra: &[&str]) -> std::process::Output {
    one_stage_as(&["--one-stage"], out, extra)
}

/// [`one_stage`] with `method` naming one-stage ISTA-NAS on the command line.
fn one_stage_as(method: &[&str], out: &Path, extra: &[&str]) -> std::process::Output {
    common::tiny_one_stage(method, out, extra)
}

fn metrics(out: &Path) -> Vec<Vec<String>> {
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(ONE_STAGE_METRICS_HEADER));
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// The top-1 percentage `eval` prints.
fn eval_top1(model: &Path) -> String {
    let out = run(&[
        "eval",
        "--device",
        "cpu",
        "--model",
        model.to_str().unwrap(),
        "--images",
        "64",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let at = stdout.find("top-1 ").expect("eval prints top-1") + 6;
    stdout[at..].split(' ').next().unwrap().to_string()
}

#[test]
fn one_stage_run_freezes_trains_folds_and_eval_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let result = one_stage(
        &out,
        &[
            "--search-epochs",
            "2",
            "--epochs",
            "2",
            "--epsilon",
            "1e-2",
            "--auxiliary-weight",
            "0.4",
            "--drop-path",
            "0.2",
        ],
    );
    let stdout = text(&result.stdout);
    assert!(result.status.success(), "{}", text(&result.stderr));
    assert!(stdout.contains("folded network (Eq. 12)"), "{stdout}");
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
        "folded.model",
        "folded.safetensors",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let rows = metrics(&out);
    assert_eq!(rows.len(), 4);
    let phases: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(phases, ["search", "search", "train", "train"]);
    for row in &rows[2..] {
        for node in &row[10..18] {
            assert!(
                node == "frozen@1" || node == "frozen@2" || node == "forced@2",
                "{node}"
            );
        }
    }
    assert_eq!(rows[0][20], "accepted");
    assert!(
        rows[3][8].parse::<f64>().unwrap() > 0.0,
        "drop path in training"
    );
    let genotypes: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("genotype.json")).unwrap()).unwrap();
    assert_eq!(genotypes["history"].as_array().unwrap().len(), 4);

    // The folded network scores exactly what the supernet scored on the same test images.
    let supernet_top1 = format!("{:.2}", 100.0 * rows[3][5].parse::<f64>().unwrap());
    assert_eq!(eval_top1(&out.join("folded.model")), supernet_top1);

    // Fold on demand gives the same network again.
    let refold = run(&["fold", out.to_str().unwrap(), "--device", "cpu"]);
    assert!(refold.status.success(), "{}", text(&refold.stderr));
    assert_eq!(eval_top1(&out.join("folded.model")), supernet_top1);

    // genotype show reads the folded model and counts its network.
    let show = run(&[
        "genotype",
        "show",
        out.join("folded.model").to_str().unwrap(),
    ]);
    let shown = text(&show.stdout);
    assert!(show.status.success(), "{}", text(&show.stderr));
    assert!(
        shown.contains(
            "this model: Cifar network C=4 L=3, 10 classes, 1 input channels (one-stage net"
        ),
        "{shown}"
    );

    // A finished run resumes to nothing and leaves its results as they are.
    let before = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let resumed = run(&[
        "search",
        "--device",
        "cpu",
        "--resume",
        out.to_str().unwrap(),
    ]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(text(&resumed.stdout).contains("resuming"));
    assert_eq!(
        std::fs::read_to_string(out.join("metrics.csv")).unwrap(),
        before
    );
}

#[test]
fn a_budget_no_candidate_fits_keeps_the_first_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let result = one_stage(
        &out,
        &["--search-epochs", "2", "--epochs", "0", "--max-params", "1"],
    );
    assert!(result.status.success(), "{}", text(&result.stderr));
    assert!(text(&result.stdout).contains("candidate rejected"));
    let rows = metrics(&out);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r[20] == "rejected"));
    // Both epochs ran the supports recovered from the initial b, and kept them.
    assert_eq!(rows[0][9], rows[1][9]);
    let genotypes: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("genotype.json")).unwrap()).unwrap();
    let history = genotypes["history"].as_array().unwrap();
    assert_eq!(history[0]["genotype"], history[1]["genotype"]);
    assert!(history.iter().all(|h| !h["rejected"].is_null()));
    assert!(out.join("folded.model").exists());
}

#[test]
fn one_stage_inputs_it_cannot_use_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    assert_clean_failure(&one_stage(&out, &["--epsilon=-1"]), "--epsilon");
    assert_clean_failure(&one_stage(&out, &["--search-epochs=0"]), "--search-epochs");
    assert!(!out.exists(), "no run folder for refused settings");
    let conflicting = run(&["search", "--one-stage", "--sparsity", "3"]);
    assert!(!conflicting.status.success());
    assert!(text(&conflicting.stderr).contains("cannot be used with"));
    let needs_one_stage = run(&["search", "--search-epochs", "3"]);
    assert!(!needs_one_stage.status.success());
    assert!(text(&needs_one_stage.stderr).contains("--one-stage"));

    let no_test = [
        "search",
        "--one-stage",
        "--device",
        "cpu",
        "--test-images",
        "0",
        "--out",
        out.to_str().unwrap(),
    ];
    assert_clean_failure(&run(&no_test), "--test-images must be at least 1");
    // 34×34 images reach the second reduction at 17×17, which it cannot halve.
    let odd = dir.path().join("odd");
    for (split, class) in [("train", "a"), ("train", "b"), ("test", "a"), ("test", "b")] {
        let path = odd.join(format!("{split}/{class}/0.png"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_pixel(34, 34, image::Luma([9]))
            .save(path)
            .unwrap();
    }
    assert_clean_failure(
        &one_stage(&out, &["--data", odd.to_str().unwrap()]),
        "which it must halve",
    );
    assert!(!out.exists(), "no run folder for refused data");

    assert_clean_failure(
        &run(&["fold", "/no/such/run", "--device", "cpu"]),
        "cannot fold",
    );
    let two_stage = dir.path().join("two-stage");
    std::fs::create_dir_all(&two_stage).unwrap();
    let mut checkpoint = b"ISTANAS\x03".to_vec();
    checkpoint.extend(2u64.to_le_bytes());
    checkpoint.extend(b"{}");
    std::fs::write(two_stage.join("checkpoint.bin"), checkpoint).unwrap();
    assert_clean_failure(
        &run(&["fold", two_stage.to_str().unwrap(), "--device", "cpu"]),
        "not a one-stage run",
    );
    let corrupt = dir.path().join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join("checkpoint.bin"), b"ISTA1ST\x01 truncated").unwrap();
    assert_clean_failure(
        &run(&["fold", corrupt.to_str().unwrap(), "--device", "cpu"]),
        "cannot fold",
    );
    assert_clean_failure(
        &run(&[
            "search",
            "--device",
            "cpu",
            "--resume",
            corrupt.to_str().unwrap(),
        ]),
        "cannot resume",
    );
}

/// A two-seed one-stage study: each run stops when its architecture froze, its genotype is
/// trained stand-alone as a one-stage net, and the correlation is written.
#[test]
fn one_stage_consistency_study_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let args = [
        "consistency",
        "--method",
        "ista-one-stage",
        "--device",
        "cpu",
        "--searches",
        "2",
        "--search-epochs",
        "1",
        "--train-epochs",
        "1",
        "--channels",
        "4",
        "--layers",
        "3",
        "--train-channels",
        "4",
        "--train-layers",
        "3",
        "--search-images",
        "64",
        "--train-images",
        "64",
        "--test-images",
        "50",
        "--out",
        out.to_str().unwrap(),
    ];
    let study = run(&args);
    let stdout = text(&study.stdout);
    assert!(study.status.success(), "{stdout}\n{}", text(&study.stderr));
    assert!(
        stdout.contains("2 seeds of ista-one-stage: Kendall τ = "),
        "{stdout}"
    );
    for seed in [0, 1] {
        let search = out.join(format!("seed-{seed}/search"));
        let rows = metrics(&search);
        assert_eq!(rows.len(), 1, "the run stops once frozen");
        assert!(search.join("folded.model").exists());
        let train: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out.join(format!("seed-{seed}/train/config.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(train["extra_norms"], true, "trained as a one-stage net");
    }
    let csv = std::fs::read_to_string(out.join("consistency.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        std::fs::read_to_string(out.join("consistency.svg"))
            .unwrap()
            .contains("supernet test accuracy when frozen")
    );

    // Scored again with recalibrated BN: no run repeats, each search keeps its score.
    let mut rescore = args.to_vec();
    rescore.extend(["--recalibrate-bn", "2"]);
    let rescored = run(&rescore);
    let stdout = text(&rescored.stdout);
    assert!(
        rescored.status.success(),
        "{stdout}\n{}",
        text(&rescored.stderr)
    );
    assert!(
        stdout.contains("scoring the supernets of the study"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("epoch 1/1"),
        "a run was repeated: {stdout}"
    );
    assert!(
        stdout.contains("with the supernet accuracy the searches recorded: Kendall τ"),
        "{stdout}"
    );
    for seed in [0, 1] {
        let score: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out.join(format!("seed-{seed}/search/supernet-bn2.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(score["split"], "test");
        assert_eq!(score["bn_batches"], 2);
        let accuracy = score["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy), "{score}");
    }
    assert!(
        std::fs::read_to_string(out.join("consistency.svg"))
            .unwrap()
            .contains("BN recalibrated")
    );
}

/// One-stage ISTA-NAS is a method like the others: `search --method ista-one-stage` runs exactly
/// what `--one-stage` runs (same settings, same genotype and metrics, timing aside).
#[test]
fn one_stage_is_a_method() {
    let dir = tempfile::tempdir().unwrap();
    let by_flag = dir.path().join("flag");
    let done = one_stage(&by_flag, &["--search-epochs", "1", "--epochs", "0"]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let by_method = dir.path().join("method");
    let method = ["--method", "ista-one-stage"];
    let done = one_stage_as(
        &method,
        &by_method,
        &["--search-epochs", "1", "--epochs", "0"],
    );
    assert!(done.status.success(), "{}", text(&done.stderr));
    for file in ["config.json", "genotype.json"] {
        let (a, b) = (by_flag.join(file), by_method.join(file));
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{file}"
        );
    }
    let accuracy = |dir: &Path| -> Vec<String> {
        let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        csv.lines()
            .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(accuracy(&by_flag), accuracy(&by_method));
}
