//! A consistency study spread over processes: `--shard i/n` runs its share of the seeds into
//! one shared folder while the other shards run, and `--merge` summarises what they finished,
//! exactly as one unsharded study would.

mod common;

use std::process::Command;

use common::{run, text};
use ista_nas::studies::consistency::Shard;

const TINY: [&str; 20] = [
    "--device",
    "cpu",
    "--searches",
    "3",
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
];

/// consistency.csv without its seconds columns (they differ between runs).
fn results(csv: &str) -> Vec<String> {
    csv.lines()
        .map(|line| {
            // Everything but search_seconds and train_seconds (columns 7 and 8).
            let fields: Vec<&str> = line.splitn(10, ',').collect();
            format!("{}|{}", fields[..7].join(","), fields[9])
        })
        .collect()
}

#[test]
fn shard_parses_and_owns_its_seeds() {
    let shard: Shard = "1/3".parse().unwrap();
    assert_eq!((shard.index, shard.count), (1, 3));
    let owned: Vec<u64> = (0..7).filter(|&o| shard.owns(o)).collect();
    assert_eq!(owned, [1, 4]);
    for bad in ["3/3", "1/0", "1", "a/2", "-1/2"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn two_shards_at_once_then_merge_equal_one_study() {
    let dir = tempfile::tempdir().unwrap();
    // Both shards start before either is waited on.
    let concurrent = dir.path().join("concurrent");
    let concurrent_arg = concurrent.to_str().unwrap();
    let children: Vec<_> = ["0/2", "1/2"]
        .iter()
        .map(|shard| {
            Command::new(env!("CARGO_BIN_EXE_ista-nas"))
                .arg("consistency")
                .args(TINY)
                .args(["--out", concurrent_arg, "--shard", shard])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the binary starts")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for (output, seeds) in outputs.iter().zip(["[0, 2]", "[1]"]) {
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            text(&output.stderr)
        );
        assert!(
            stdout.contains(&format!("seeds {seeds} of 0..=2")),
            "{stdout}"
        );
    }
    // Shards write only their seeds' folders and the one shared config.json, besides the
    // study's and each shard's lock file (which ran side by side: the shared lock).
    let mut names: Vec<String> = std::fs::read_dir(&concurrent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".lock",
            ".lock-shard-0-of-2",
            ".lock-shard-1-of-2",
            "config.json",
            "seed-0",
            "seed-1",
            "seed-2"
        ]
    );

    let merged = run(&["consistency", "--merge", concurrent_arg]);
    let stdout = text(&merged.stdout);
    assert!(
        merged.status.success(),
        "{stdout}\n{}",
        text(&merged.stderr)
    );
    assert!(stdout.contains("3 of 3 seeds finished"), "{stdout}");
    assert!(stdout.contains("3 seeds of ista: Kendall τ = "), "{stdout}");
    for file in ["consistency.csv", "correlation.json", "consistency.svg"] {
        assert!(concurrent.join(file).exists(), "{file}");
    }

    let single = dir.path().join("single");
    let mut args = vec!["consistency"];
    args.extend(TINY);
    args.extend(["--out", single.to_str().unwrap()]);
    let whole = run(&args);
    assert!(whole.status.success(), "{}", text(&whole.stderr));
    let read = |d: &std::path::Path| std::fs::read_to_string(d.join("consistency.csv")).unwrap();
    assert_eq!(results(&read(&concurrent)), results(&read(&single)));
}

#[test]
fn merge_lists_missing_seeds_and_needs_two() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let out_arg = out.to_str().unwrap();
    let mut args = vec!["consistency"];
    args.extend(TINY);
    args.extend(["--out", out_arg, "--shard", "1/3"]);
    let shard = run(&args);
    assert!(shard.status.success(), "{}", text(&shard.stderr));
    let merged = run(&["consistency", "--merge", out_arg]);
    assert!(!merged.status.success());
    let stdout = text(&merged.stdout);
    assert!(stdout.contains("1 of 3 seeds finished"), "{stdout}");
    assert!(
        stdout.contains("missing: seed 0 (its search); seed 2 (its search)"),
        "{stdout}"
    );
    assert!(
        text(&merged.stderr).contains("a rank correlation needs at least 2"),
        "{}",
        text(&merged.stderr)
    );
    // A shard with other settings is refused, and the study's settings stay.
    let last = args.len() - 1;
    args[last] = "0/3";
    args.extend(["--first-seed", "5"]);
    let other = run(&args);
    assert!(!other.status.success());
    assert!(text(&other.stderr).contains("holds a study with other settings"));
    let merge_missing = run(&[
        "consistency",
        "--merge",
        dir.path().join("none").to_str().unwrap(),
    ]);
    assert!(text(&merge_missing.stderr).contains("is not a consistency study"));
}
