//! `bench`, `consistency` and `search --method` through the binary, at tiny sizes on the Vulkan
//! adapter (lavapipe in CI).

mod common;

use common::{assert_clean_failure, run, text};
use ista_nas::bench::recovery::RECOVERY_CSV_HEADER;
use ista_nas::bench::results::BENCH_CSV_HEADER;
use ista_nas::studies::consistency::CONSISTENCY_CSV_HEADER;

/// Each method's first batch runs; the larger batch is predicted past the 1 MiB limit and
/// skipped with the reason; the CSV has the promised columns and DARTS's ratio to itself is 1.
#[test]
fn bench_writes_csv_table_plot_and_skips_what_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let args = [
        "bench",
        "--device",
        "vulkan",
        "--methods",
        "ista,darts",
        "--batch-sizes",
        "2,8",
        "--channels",
        "4",
        "--layers",
        "3",
        "--warmup",
        "1",
        "--steps",
        "1",
        "--memory-limit-mib",
        "1",
        "--recovery-draws",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let result = run(&args);
    let stdout = text(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        text(&result.stderr)
    );
    assert!(
        stdout.contains("| method | batch | devices | ms/step"),
        "{stdout}"
    );

    let csv = std::fs::read_to_string(out.join("bench.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.join(","), BENCH_CSV_HEADER);
    for column in [
        "method",
        "batch_size",
        "ms_per_step",
        "images_per_s",
        "peak_memory_bytes",
        "ms_ratio_to_darts",
        "memory_ratio_to_darts",
        "status",
    ] {
        assert!(header.contains(&column), "missing {column}");
    }
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4, "{csv}");
    let field = |row: &Vec<&str>, name: &str| {
        row[header.iter().position(|h| *h == name).unwrap()].to_string()
    };
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{csv}");
        let (method, batch, status) = (
            field(row, "method"),
            field(row, "batch_size"),
            field(row, "status"),
        );
        if batch == "2" {
            assert_eq!(status, "ok", "{csv}");
            let ms: f64 = field(row, "ms_per_step").parse().unwrap();
            let images: f64 = field(row, "images_per_s").parse().unwrap();
            assert!(
                ms > 0.0 && (images - 2000.0 / ms).abs() < 1e-3 * images + 1e-4,
                "{csv}"
            );
            assert!(field(row, "peak_memory_bytes").parse::<u64>().unwrap() > 0);
            let ratio: f64 = field(row, "ms_ratio_to_darts").parse().unwrap();
            if method == "darts" {
                assert_eq!(ratio, 1.0);
            }
            assert!(field(row, "memory_ratio_to_darts").parse::<f64>().unwrap() > 0.0);
        } else {
            assert!(status.starts_with("skipped: predicted"), "{csv}");
            assert_eq!(field(row, "ms_per_step"), "");
        }
    }
    let recovery = std::fs::read_to_string(out.join("recovery.csv")).unwrap();
    assert_eq!(recovery.lines().next(), Some(RECOVERY_CSV_HEADER));
    assert_eq!(recovery.lines().count(), 1 + 6, "{recovery}"); // 3 solvers × (8, 16 problems)
    let svg = std::fs::read_to_string(out.join("bench.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("ms per search step"));
    assert!(
        std::fs::read_to_string(out.join("bench.md"))
            .unwrap()
            .contains("| darts | 2 |")
    );
}

/// A two-seed micro study: both searches and trainings run, the CSV, correlation and plot are
/// written, and running it again continues (nothing reruns); more seeds extend it (only the new
/// seed runs), fewer seeds and other settings are refused.
#[test]
fn consistency_study_runs_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let mut args = vec![
        "consistency",
        "--device",
        "vulkan",
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
    let first = run(&args);
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{stdout}\n{}", text(&first.stderr));
    assert!(stdout.contains("2 seeds of ista: Kendall τ = "), "{stdout}");
    let csv = std::fs::read_to_string(out.join("consistency.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some(CONSISTENCY_CSV_HEADER));
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let correlation: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("correlation.json")).unwrap()).unwrap();
    assert_eq!(correlation["n"], 2);
    assert!(
        std::fs::read_to_string(out.join("consistency.svg"))
            .unwrap()
            .starts_with("<svg")
    );
    for seed in [0, 1] {
        assert!(
            out.join(format!("seed-{seed}/search/genotype.json"))
                .exists()
        );
        assert!(out.join(format!("seed-{seed}/train/last.model")).exists());
    }

    let again = run(&args);
    let again_out = text(&again.stdout);
    assert!(again.status.success());
    assert!(again_out.contains("continuing the study"), "{again_out}");
    assert!(
        !again_out.contains("epoch 1/1"),
        "a finished run was repeated: {again_out}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("consistency.csv")).unwrap(),
        csv
    );

    args[4] = "3";
    let extended = run(&args);
    let extended_out = text(&extended.stdout);
    assert!(
        extended.status.success(),
        "{extended_out}\n{}",
        text(&extended.stderr)
    );
    assert!(
        extended_out.contains("extending the study") && extended_out.contains("from 2 to 3 seeds"),
        "{extended_out}"
    );
    assert!(
        !extended_out.contains("seed-0/search") && !extended_out.contains("seed-1/train"),
        "a finished run was repeated: {extended_out}"
    );
    assert!(extended_out.contains("3 seeds of ista: Kendall τ = "));
    assert!(
        extended_out.contains("one-sided permutation test"),
        "{extended_out}"
    );
    let csv = std::fs::read_to_string(out.join("consistency.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let correlation: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("correlation.json")).unwrap()).unwrap();
    assert_eq!(correlation["n"], 3);
    let p = correlation["kendall_p"].as_f64().expect("a p-value");
    // exact over the 3! orderings: a multiple of 1/6, at least the observed one's own
    assert!(
        p >= 1.0 / 6.0 - 1e-9 && ((6.0 * p).round() - 6.0 * p).abs() < 1e-9,
        "{p}"
    );

    args[4] = "2";
    assert_clean_failure(&run(&args), "holds a study of 3 seeds");
    args[4] = "3";
    args[6] = "2";
    assert_clean_failure(&run(&args), "holds a study with other settings");
}

/// A method whose settings cannot run at the bench's size is skipped with the reason, and the
/// bench still writes its files.
#[test]
fn bench_skips_cases_whose_settings_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let args = [
        "bench",
        "--device",
        "vulkan",
        "--methods",
        "pc-darts",
        "--batch-sizes",
        "2",
        "--channels",
        "4",
        "--layers",
        "3",
        "--recovery-draws",
        "0",
        "--out",
        out.to_str().unwrap(),
    ];
    let result = run(&args);
    assert!(result.status.success(), "{}", text(&result.stderr));
    assert!(
        text(&result.stdout)
            .contains("pc-darts batch 2 on 1 device(s): skipped: pc-darts sends C/K channels")
    );
    let csv = std::fs::read_to_string(out.join("bench.csv")).unwrap();
    let row = csv.lines().nth(1).unwrap();
    assert!(row.starts_with("pc-darts,2,1,4,3,,"), "{csv}");
    assert!(
        row.contains("must be a multiple of 2·K (K = --partial-channels = 4)"),
        "{csv}"
    );
    assert!(!out.join("recovery.csv").exists());
}

/// Bad baseline settings are clear errors.
#[test]
fn bad_baseline_arguments_are_errors() {
    let out = run(&[
        "search",
        "--device",
        "vulkan",
        "--method",
        "pc-darts",
        "--channels",
        "12",
    ]);
    assert_clean_failure(&out, "must be a multiple of 2·K");
    let out = run(&["search", "--method", "enas"]);
    assert_clean_failure(&out, "invalid value 'enas'");
    let out = run(&["bench", "--device", "vulkan", "--batch-sizes", "0"]);
    assert_clean_failure(&out, "--batch-sizes be at least 1");
    let out = run(&["bench", "--device", "vulkan", "--genotype", "NOPE"]);
    assert_clean_failure(&out, "NOPE");
    let out = run(&["bench", "--device", "vulkan", "--steps", "0"]);
    assert_clean_failure(&out, "--steps at least 1");
    let out = run(&["bench", "--device", "vulkan", "--channels", "5"]);
    assert_clean_failure(&out, "--channels must be even");
    let out = run(&["bench", "--device", "vulkan", "--layers", "2"]);
    assert_clean_failure(&out, "--layers at least 3");
    let out = run(&["bench-case", "--device", "vulkan", "--case", "{not json"]);
    assert_clean_failure(&out, "bad --case JSON");
    let out = run(&["consistency", "--searches", "1"]);
    assert_clean_failure(&out, "--searches must be at least 2");
}

/// `--trainings 2`: each genotype trained twice with different seeds; the CSV holds the
/// mean, its spread and the count, and the spread is summarised.
#[test]
fn consistency_averages_several_trainings_per_genotype() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let result = run(&[
        "consistency",
        "--device",
        "cpu",
        "--searches",
        "2",
        "--trainings",
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
    ]);
    let stdout = text(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        text(&result.stderr)
    );
    assert!(
        stdout.contains("over 2 trainings per genotype: standard deviation"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ground truth test–retest (each genotype's first training against the mean of its others): Kendall τ"),
        "{stdout}"
    );
    let correlation: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("correlation.json")).unwrap()).unwrap();
    assert_eq!(correlation["ground_truth_retest"]["n"], 2, "{correlation}");
    assert_eq!(correlation["supernet_score"], "as the search recorded it");
    let seeds: Vec<u64> = ["seed-1/train", "seed-1/train-1"]
        .iter()
        .map(|d| {
            let config: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out.join(d).join("config.json")).unwrap())
                    .unwrap();
            config["seed"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(seeds, [1, 1_000_004]);
    let csv = std::fs::read_to_string(out.join("consistency.csv")).unwrap();
    for line in csv.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[5], "2", "{line}");
        let runs: Vec<f64> = ["train", "train-1"]
            .iter()
            .map(|d| {
                let metrics = std::fs::read_to_string(
                    out.join(format!("seed-{}/{d}/metrics.csv", fields[0])),
                )
                .unwrap();
                let last = metrics.lines().last().unwrap().split(',').nth(4).unwrap();
                last.parse().unwrap()
            })
            .collect();
        assert_eq!(
            fields[6],
            format!("{:.6};{:.6}", runs[0], runs[1]),
            "{line}"
        );
        let mean: f64 = fields[3].parse().unwrap();
        assert!(
            (mean - (runs[0] + runs[1]) / 2.0).abs() < 1e-5,
            "{line} {runs:?}"
        );
        let std: f64 = fields[4].parse().unwrap();
        let expected = (runs[0] - runs[1]).abs() / 2f64.sqrt();
        assert!((std - expected).abs() < 1e-5, "{line} {runs:?}");
    }
}

/// A study folder whose config.json is valid JSON but not a study's settings is refused with
/// a message, before anything runs.
#[test]
fn consistency_refuses_a_foreign_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("config.json"), "[1, 2]").unwrap();
    let result = run(&[
        "consistency",
        "--searches",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&result, "is not a consistency study's settings");
    assert!(!out.join("seed-0").exists());
}
