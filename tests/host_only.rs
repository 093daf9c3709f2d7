//! `bench --host-only`: the real step on wgpu's noop backend (no kernel runs) issues exactly
//! the project's own dispatches of the same step on a GPU-shaped real adapter, and reports
//! them apart from Burn's.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::text;

/// A tiny bench (C=4, L=3, batch 2, one timed step) of ISTA-NAS, DARTS and PC-DARTS with
/// `extra` options and the GPU kernel shape; bench.csv as (method → row by column name).
fn tiny_bench(extra: &[&str], out: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let result = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args([
            "bench",
            "--methods",
            "ista,darts,pc-darts",
            "--batch-sizes",
            "2",
            "--channels",
            "8",
            "--layers",
            "3",
            "--warmup",
            "1",
            "--steps",
            "1",
            "--recovery-draws",
            "0",
            "--out",
            out.to_str().unwrap(),
        ])
        .args(extra)
        .env("ISTA_NAS_KERNELS", "gpu")
        .output()
        .expect("the binary runs");
    let stdout = text(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        text(&result.stderr)
    );
    let csv = std::fs::read_to_string(out.join("bench.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            let row: BTreeMap<String, String> = header
                .iter()
                .zip(l.split(','))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (row["method"].clone(), row)
        })
        .collect()
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column}: {row:?}"))
}

#[test]
fn host_only_issues_the_same_own_dispatches_as_a_real_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let noop = tiny_bench(&["--host-only"], &dir.path().join("noop"));
    let real = tiny_bench(&["--device", "vulkan"], &dir.path().join("vulkan"));
    let md = std::fs::read_to_string(dir.path().join("noop/bench.md")).unwrap();
    assert!(md.contains("host work only"), "{md}");
    for method in ["ista", "darts", "pc-darts"] {
        let (n, r) = (&noop[method], &real[method]);
        assert_eq!(n["status"], "ok", "{n:?}");
        let own = number(n, "own_dispatches_per_step");
        let burn = number(n, "burn_dispatches_per_step");
        assert!(own > 100.0 && burn > 100.0, "{method}: {n:?}");
        assert_eq!(own + burn, number(n, "dispatches_per_step"), "{method}");
        assert_eq!(
            own,
            number(r, "own_dispatches_per_step"),
            "{method}: own dispatches on noop and on the Vulkan adapter"
        );
        assert!(number(n, "ms_per_step") > 0.0);
    }
}

#[test]
fn host_only_runs_on_one_device() {
    let result = common::run(&["bench", "--host-only", "--device-counts", "1,2"]);
    common::assert_clean_failure(&result, "--host-only runs on one (noop) device");
}
