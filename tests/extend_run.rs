//! `--resume DIR --epochs N` extends a finished run: the epochs done stay as they were, the
//! learning-rate schedule runs over N from then on, config.json records N, and N not above the
//! epochs done is refused.

mod common;

use common::{assert_clean_failure, run, text, tiny_one_stage, tiny_search, tiny_training};

/// The data rows of a run's metrics.csv.
fn metric_rows(dir: &std::path::Path) -> Vec<String> {
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    csv.lines().skip(1).map(str::to_string).collect()
}

/// The `epochs` a run's config.json holds.
fn configured_epochs(dir: &std::path::Path) -> u64 {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    json["epochs"].as_u64().unwrap()
}

#[test]
fn a_finished_training_is_extended() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("train");
    tiny_training(&out, &[]);
    let before = metric_rows(&out);
    assert_eq!(before.len(), 2);
    let path = out.to_str().unwrap();
    assert_clean_failure(
        &run(&["train", "--resume", path, "--epochs", "2"]),
        "the run has done 2; give more to extend it",
    );
    assert_clean_failure(
        &run(&["train", "--resume", path, "--lr", "0.5"]),
        "--resume cannot be used with --lr",
    );
    let done = run(&["train", "--resume", path, "--epochs", "4"]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let stdout = text(&done.stdout);
    assert!(stdout.contains("extended to 4 epochs"), "{stdout}");
    // the new plan: cosine over 4 epochs, stepped before each (0.1 peak of the quick preset)
    assert!(
        stdout.contains("lr by epoch: 0.0854, 0.0500, 0.0146, 0.0000"),
        "{stdout}"
    );
    let after = metric_rows(&out);
    assert_eq!(after.len(), 4);
    assert_eq!(after[..2], before[..], "the epochs done stay as they were");
    assert_eq!(configured_epochs(&out), 4);
}

#[test]
fn a_finished_search_is_extended() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("search");
    tiny_search(&out, &["--epochs", "1"]);
    let path = out.to_str().unwrap();
    let done = run(&["search", "--resume", path, "--epochs", "2"]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(text(&done.stdout).contains("extended to 2 epochs"));
    assert_eq!(metric_rows(&out).len(), 2);
    assert_eq!(configured_epochs(&out), 2);
    assert!(out.join("genotype.json").exists());
}

#[test]
fn a_finished_one_stage_run_is_extended_by_its_training_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one-stage");
    let path = out.to_str().unwrap();
    let extra = ["--search-epochs", "1", "--epochs", "1"];
    let first = tiny_one_stage(&["--one-stage"], &out, &extra);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let rows = metric_rows(&out).len();
    assert_clean_failure(
        &run(&["search", "--resume", path, "--epochs", "1"]),
        "the run has done 1; give more to extend it",
    );
    let done = run(&["search", "--resume", path, "--epochs", "3"]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(text(&done.stdout).contains("extended to 3 epochs"));
    assert_eq!(
        metric_rows(&out).len(),
        rows + 2,
        "two more training epochs"
    );
    assert_eq!(configured_epochs(&out), 3);
    assert!(out.join("folded.model").exists());
}
