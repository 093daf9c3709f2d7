//! The `ista-nas` binary: help text, device selection and bad input (clear error, non-zero exit, no panic).

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_clean_failure(out: &Output, expected: &str) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert!(
        stderr.contains(expected),
        "stderr lacks {expected:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
}

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
    assert!(top.contains("recover") && top.contains("device"), "{top}");
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
        &run(&["recover", "--draws", "0"]),
        "--draws must be at least 1",
    );
    assert_clean_failure(&run(&["recover", "--m", "0"]), "--m must be at least 1");
    assert_clean_failure(&run(&["recover", "--lambda=-1"]), "λ must be finite");
}

#[test]
fn recover_demo_runs_and_reports_both_solvers() {
    let out = run(&["recover", "--device", "vulkan", "--draws", "2"]);
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
