//! `eval --search RUN_DIR`: a search's supernet scored again from its checkpoint (Burn's CPU
//! backend), with the search's BN statistics or recomputed ones, and the inputs it refuses.

mod common;

use std::path::Path;

use common::{assert_clean_failure, run, text};

/// A one-epoch DARTS search into `out`.
fn darts_search(out: &Path) {
    let result = run(&[
        "search",
        "--device",
        "cpu",
        "--method",
        "darts",
        "--epochs",
        "1",
        "--train-images",
        "64",
        "--batch-size",
        "16",
        "--channels",
        "4",
        "--layers",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", text(&result.stderr));
}

/// `eval --search` on `dir` with `extra` options: (the accuracy it prints, the accuracy the
/// search recorded, stdout).
fn score(dir: &Path, extra: &[&str]) -> (String, String, String) {
    let mut args = vec!["eval", "--device", "cpu", "--search", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run(&args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let after = |marker: &str| {
        let at = stdout.find(marker).expect(marker) + marker.len();
        stdout[at..].split(' ').next().unwrap().to_string()
    };
    (
        after("val accuracy "),
        after("the search recorded "),
        stdout.clone(),
    )
}

/// A DARTS supernet ends with the architecture it was scored with, so its score with the
/// search's statistics is the recorded one; recalibration scores it again and leaves the
/// checkpoint as it was.
#[test]
fn a_search_is_scored_again_with_its_own_or_recomputed_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("darts");
    darts_search(&out);
    let (again, recorded, _) = score(&out, &[]);
    assert_eq!(again, recorded);
    let checkpoint = std::fs::read(out.join("checkpoint.bin")).unwrap();
    let (recalibrated, _, stdout) = score(&out, &["--recalibrate-bn", "3"]);
    assert!(
        stdout.contains("BN statistics recomputed on 3 training batches"),
        "{stdout}"
    );
    let accuracy: f64 = recalibrated.parse().unwrap();
    assert!((0.0..=100.0).contains(&accuracy), "{recalibrated}");
    assert_eq!(
        std::fs::read(out.join("checkpoint.bin")).unwrap(),
        checkpoint
    );
}

/// A folder without a search, a model together with a search, and recalibration without a
/// search are clear errors.
#[test]
fn bad_supernet_scoring_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().to_str().unwrap();
    assert_clean_failure(
        &run(&["eval", "--device", "cpu", "--search", empty]),
        "holds no search checkpoint",
    );
    let both = run(&["eval", "--search", empty, "--model", "x.model"]);
    assert!(!both.status.success());
    assert!(text(&both.stderr).contains("cannot be used with"));
    let alone = run(&["eval", "--model", "x.model", "--recalibrate-bn", "2"]);
    assert!(!alone.status.success());
    assert!(text(&alone.stderr).contains("--search"));
}
