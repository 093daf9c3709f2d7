//! `bench --profile` at a tiny size: the profile and the launch counts it writes, on lavapipe
//! (kernel launches counted) and on the CPU backend (none to count).

mod common;

use common::{run, text};
use ista_nas::bench::profile_tables::{DISPATCHES_CSV_HEADER, PROFILE_CSV_HEADER};

/// A tiny profiled bench of ISTA-NAS and DARTS on `device` into `out`; its stdout.
fn bench(device: &str, out: &std::path::Path) -> String {
    let stdout = tiny_bench(device, "ista,darts", &["--profile"], out);
    assert!(stdout.contains("| scope | calls/step"), "{stdout}");
    stdout
}

/// `bench` of `methods` at C=4, L=3, batch 2, one timed step, with `extra` options; its stdout.
fn tiny_bench(device: &str, methods: &str, extra: &[&str], out: &std::path::Path) -> String {
    let mut args = vec![
        "bench",
        "--device",
        device,
        "--methods",
        methods,
        "--batch-sizes",
        "2",
        "--channels",
        "4",
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
    ];
    args.extend_from_slice(extra);
    let result = run(&args);
    let stdout = text(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        text(&result.stderr)
    );
    stdout
}

/// (scope → ms per step) of one method's rows in profile.csv.
fn scopes(csv: &str, method: &str) -> Vec<(String, f64)> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[0] == method)
        .map(|f| (f[2].to_string(), f[4].parse().unwrap()))
        .collect()
}

fn column(csv: &str, name: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(at).unwrap().to_string())
        .collect()
}

#[test]
fn profile_and_dispatch_columns_are_written() {
    let dir = tempfile::tempdir().unwrap();
    for device in ["vulkan", "cpu"] {
        let out = dir.path().join(device);
        bench(device, &out);
        let profile = std::fs::read_to_string(out.join("profile.csv")).unwrap();
        assert_eq!(profile.lines().next().unwrap(), PROFILE_CSV_HEADER);
        for method in ["ista", "darts"] {
            let rows = scopes(&profile, method);
            let ms = |name: &str| rows.iter().find(|(s, _)| s == name).map(|r| r.1);
            for scope in [
                "arch step/forward",
                "arch step/backward",
                "weight step/forward/batch norm",
                "weight step/forward/1x1 conv",
                "weight step/forward/mixed op",
                "weight step/backward",
                "weight step/clip",
                "weight step/optimiser",
            ] {
                assert!(
                    ms(scope).is_some_and(|v| v >= 0.0),
                    "{device} {method}: no {scope}:\n{profile}"
                );
            }
            // The phases hold their parts.
            let step = ms("weight step").unwrap();
            assert!(
                ms("weight step/forward").unwrap() <= step + 1e-6,
                "{profile}"
            );
        }
        let bench_csv = std::fs::read_to_string(out.join("bench.csv")).unwrap();
        let dispatches = column(&bench_csv, "dispatches_per_step");
        // a step reads nothing back to the host
        let reads = column(&bench_csv, "host_reads_per_step");
        assert!(
            reads.len() == 2 && reads.iter().all(|r| r == "0.00"),
            "{bench_csv}"
        );
        let per_kernel = std::fs::read_to_string(out.join("dispatches.csv")).unwrap();
        assert_eq!(per_kernel.lines().next().unwrap(), DISPATCHES_CSV_HEADER);
        if device == "vulkan" {
            let counts: Vec<f64> = dispatches.iter().map(|d| d.parse().unwrap()).collect();
            // ISTA-NAS runs 2 ops per node, DARTS all 8 on every edge: more launches.
            assert!(counts[0] > 50.0 && counts[1] > counts[0], "{bench_csv}");
            assert!(per_kernel.lines().count() > 2, "{per_kernel}");
        } else {
            assert!(dispatches.iter().all(|d| d.is_empty()), "{bench_csv}");
            assert_eq!(per_kernel.lines().count(), 1, "{per_kernel}");
        }
    }
}

/// `bench` times one-stage ISTA-NAS beside the two-stage methods (one step updates the weights
/// and b together), on the CPU backend and on lavapipe, with no host read inside its steps.
#[test]
fn bench_times_one_stage_beside_the_others() {
    let dir = tempfile::tempdir().unwrap();
    for device in ["cpu", "vulkan"] {
        let out = dir.path().join(device);
        tiny_bench(device, "ista,ista-one-stage", &[], &out);
        let csv = std::fs::read_to_string(out.join("bench.csv")).unwrap();
        let methods = column(&csv, "method");
        assert_eq!(methods, ["ista", "ista-one-stage"], "{csv}");
        let ms: Vec<f64> = column(&csv, "ms_per_step")
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(ms.iter().all(|&m| m > 0.0), "{csv}");
        assert_eq!(
            column(&csv, "host_reads_per_step"),
            ["0.00", "0.00"],
            "{csv}"
        );
        if device == "vulkan" {
            let launches = column(&csv, "dispatches_per_step");
            assert!(launches[1].parse::<f64>().unwrap() > 50.0, "{csv}");
        }
    }
}
