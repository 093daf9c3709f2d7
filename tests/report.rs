//! `ista-nas report` and `train --seeds`: mean ± std of the final and best test error over
//! seeds, with parameters and multiply-adds, as a Markdown table.

mod common;

use common::{assert_clean_failure, run, text};
use ista_nas::search_space::genotype::Genotype;
use ista_nas::studies::report::{RunResult, group, markdown, mean_std};

fn result(name: &str, genotype: &str, seed: u64, top1: &[f64]) -> RunResult {
    RunResult {
        name: name.into(),
        genotype: Genotype::builtin(genotype).unwrap(),
        seed,
        epochs: top1.len(),
        test_top1: top1.to_vec(),
        params: 3_316_726,
        multiply_adds: 552_000_000,
    }
}

#[test]
fn mean_and_sample_deviation() {
    let (m, s) = mean_std(&[2.5, 2.6]);
    assert!((m - 2.55).abs() < 1e-12 && (s - 0.070_710_678).abs() < 1e-8);
    assert_eq!(mean_std(&[3.0]), (3.0, 0.0));
    let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
    assert!((m - 2.5).abs() < 1e-12 && (s - 1.290_994_4).abs() < 1e-6);
}

/// Final errors 2.50 and 2.60 (%), best 2.40 and 2.45; another genotype in its own row.
#[test]
fn runs_of_a_genotype_make_one_row() {
    let runs = vec![
        result("seed-0", "ISTA_NAS", 0, &[0.90, 0.976, 0.975]),
        result("seed-1", "ISTA_NAS", 1, &[0.9755, 0.95, 0.974]),
        result("darts", "DARTS_V2", 0, &[0.97]),
    ];
    let groups = group(runs);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].name, "ISTA_NAS");
    let (fm, fs) = groups[0].final_error();
    assert!((fm - 2.55).abs() < 1e-9 && (fs - 0.070_710_678).abs() < 1e-6);
    let (bm, bs) = groups[0].best_error();
    assert!((bm - 2.425).abs() < 1e-9 && (bs - 0.035_355_339).abs() < 1e-6);
    let table = markdown(&groups);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert_eq!(
        lines[2],
        "| ISTA_NAS | 2 (0, 1) | 3 | 3.32 M | 552.00 M | 2.55 ± 0.07 | 2.42 ± 0.04 |"
    );
    assert!(lines[3].starts_with("| DARTS_V2 | 1 (0) | 1 |"), "{table}");
}

/// `train --seeds 0,1` trains both into one folder and reports them; running it again keeps
/// the finished runs; `report` reads the folder; a folder without runs is refused.
#[test]
fn train_seeds_then_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("set");
    let args = [
        "train",
        "--device",
        "cpu",
        "--seeds",
        "0,1",
        "--epochs",
        "2",
        "--train-images",
        "128",
        "--test-images",
        "64",
        "--channels",
        "4",
        "--layers",
        "3",
        "--batch-size",
        "32",
        "--out",
        out.to_str().unwrap(),
    ];
    let first = run(&args);
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(out.join("seed-0/last.model").is_file() && out.join("seed-1/last.model").is_file());
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| ISTA_NAS | 2 (0, 1) | 2 |"))
        .unwrap_or_else(|| panic!("no report row:\n{stdout}"));
    assert!(row.contains(" ± "), "{row}");

    let again = run(&args);
    let stdout2 = text(&again.stdout);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        stdout2.contains("seed 0 (1/2): finished, kept"),
        "{stdout2}"
    );
    assert!(stdout2.contains(row), "{stdout2}");

    let report = run(&["report", out.to_str().unwrap()]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    assert!(text(&report.stdout).contains(row));

    assert_clean_failure(
        &run(&[
            "report",
            dir.path().join("set/seed-0/tensorboard").to_str().unwrap(),
        ]),
        "holds no training run",
    );
    assert_clean_failure(
        &run(&["train", "--seeds", "1,1"]),
        "--seeds lists a seed twice",
    );
}
