//! The `ista-nas` binary: help text, device selection and bad input (clear error, non-zero exit, no panic).

mod common;

use common::{assert_clean_failure, run, text};

#[test]
fn help_explains_the_device_choices() {
    let out = run(&["device", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in [
        "auto",
        "vulkan",
        "metal",
        "dx12",
        "cpu",
        "lavapipe",
        "CPU backend",
    ] {
        assert!(help.contains(word), "--help lacks {word:?}:\n{help}");
    }
    let top = text(&run(&["--help"]).stdout);
    assert!(top.contains("lasso") && top.contains("device"), "{top}");
}

#[test]
fn vulkan_device_prints_adapter_and_api() {
    let out = run(&["device", "--device", "vulkan"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with("device: ") && stdout.contains("[Vulkan"),
        "{stdout}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn missing_api_is_a_clear_error_with_a_hint() {
    let out = run(&["device", "--device", "metal"]);
    assert_clean_failure(&out, "no metal adapter found");
    assert_clean_failure(&out, "hint:");
}

#[test]
fn unknown_device_is_rejected_by_the_parser() {
    let out = run(&["device", "--device", "tpu"]);
    assert_clean_failure(&out, "invalid value 'tpu'");
}

#[test]
fn bad_recover_arguments_are_errors() {
    assert_clean_failure(
        &run(&["lasso", "--draws", "0"]),
        "--draws must be at least 1",
    );
    assert_clean_failure(&run(&["lasso", "--m", "0"]), "--m must be at least 1");
    assert_clean_failure(&run(&["lasso", "--lambda=-1"]), "λ must be finite");
}

#[test]
fn recover_demo_runs_and_reports_both_solvers() {
    let out = run(&["lasso", "--device", "vulkan", "--draws", "2"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for line in [
        "16 problems",
        "normal node 0:",
        "reduce node 3:",
        "CPU f64",
        "GPU f32",
        "hybrid",
    ] {
        assert!(stdout.contains(line), "output lacks {line:?}:\n{stdout}");
    }
}

#[test]
fn data_command_summarises_the_embedded_set() {
    let out = run(&["data"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("train: 6000 images of 1x28x28"), "{stdout}");
    assert!(stdout.contains("ankle boot"), "{stdout}");
}

#[test]
fn data_command_rejects_unknown_layouts() {
    let dir = std::env::temp_dir().join(format!("ista-nas-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = run(&["data", "--data", dir.to_str().unwrap()]);
    assert_clean_failure(&out, "cannot tell the data format");
    let out = run(&["data", "--data", dir.to_str().unwrap(), "--format", "cifar"]);
    assert_clean_failure(&out, "no data_batch_*.bin file");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn search_writes_a_complete_run_folder_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_str = out.to_str().unwrap();
    let args = [
        "search",
        "--device",
        "vulkan",
        "--epochs",
        "1",
        "--train-images",
        "128",
        "--batch-size",
        "32",
        "--channels",
        "4",
        "--layers",
        "3",
        "--out",
        out_str,
    ];
    let result = run(&args);
    let stdout = text(&result.stdout);
    assert!(result.status.success(), "{}", text(&result.stderr));
    assert!(
        stdout.contains("epoch 1/1: train loss") && stdout.contains("results in"),
        "{stdout}"
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
    ] {
        assert!(out.join(file).exists(), "missing {file}");
    }
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    assert_eq!(lines[0], ista_nas::search::checkpoint::METRICS_HEADER);
    assert_eq!(lines.len(), 2, "{metrics}");
    assert_eq!(lines[1].split(',').count(), 10, "{}", lines[1]);
    assert!(
        lines[1].ends_with(",0"),
        "the f64 recovery converges: {}",
        lines[1]
    );
    let genotypes: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("genotype.json")).unwrap()).unwrap();
    let last = serde_json::to_string(&genotypes["final"]).unwrap();
    ista_nas::search_space::genotype::Genotype::from_json(&last, "final").unwrap();
    assert_eq!(genotypes["history"].as_array().unwrap().len(), 1);

    // The same --out again is refused; --resume of a finished run has nothing left to do.
    assert_clean_failure(&run(&args), "already holds a run");
    let resumed = run(&["search", "--device", "vulkan", "--resume", out_str]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(
        text(&resumed.stdout).contains("resuming"),
        "{}",
        text(&resumed.stdout)
    );
}

#[test]
fn bad_search_arguments_are_errors() {
    assert_clean_failure(
        &run(&["search", "--epochs", "0"]),
        "--epochs must be at least 1",
    );
    assert_clean_failure(
        &run(&["search", "--channels", "5"]),
        "--channels must be even",
    );
    assert_clean_failure(&run(&["search", "--m", "0"]), "--m must lie in 1..=14");
    assert_clean_failure(
        &run(&["search", "--layers", "2"]),
        "--layers must lie in 3..=256",
    );
    assert_clean_failure(
        &run(&["search", "--batch-size", "100000"]),
        "--batch-size must lie in 1..=65536",
    );
    let missing = run(&["search", "--resume", "/no/such/run"]);
    assert_clean_failure(&missing, "cannot resume");
    assert_clean_failure(
        &run(&["search", "--resume", "x", "--lr", "0.5"]),
        "cannot be used with",
    );
}

/// Mesa prints `error: XDG_RUNTIME_DIR is invalid or not set` on every adapter probe when the
/// variable is missing; the tool gives itself a private runtime folder so that a healthy machine
/// shows no error line.
#[test]
fn no_error_line_without_a_runtime_dir() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(["device", "--device", "vulkan"])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}
