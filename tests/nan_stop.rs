//! A loss or gradient norm that turns NaN in a later epoch stops the run with status 3, naming
//! epoch, step and value, and leaves the previous epoch's checkpoint byte for byte as it was;
//! resumed, the run ends as an uninterrupted one. Training, two-stage search and one-stage
//! search, on the loss and on the gradient norm (`ISTA_NAS_INJECT_NAN` turns one step's value
//! into NaN on the device, where a diverging run's would be).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{cpu_args, metrics_without_timing};

/// Epochs the checkpoint in `dir` holds, read from its header (None until it exists).
fn checkpoint_epochs(dir: &Path) -> Option<(usize, Vec<u8>)> {
    let bytes = std::fs::read(dir.join("checkpoint.bin")).ok()?;
    let len = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?) as usize;
    let header: serde_json::Value = serde_json::from_slice(bytes.get(16..16 + len)?).ok()?;
    let epochs = header["header"]["epochs_done"].as_u64()? as usize;
    Some((epochs, bytes))
}

/// Runs `settings` with `fault`, checks the stop, then resumes and compares with a whole run.
fn stops_in_a_later_epoch(settings: &[&str], fault: &str, expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (whole, faulty) = (dir.path().join("whole"), dir.path().join("faulty"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(cpu_args(settings, &faulty))
        .env("ISTA_NAS_INJECT_NAN", fault)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the checkpoint of epoch 1, as the run wrote it (epoch 2 never writes one)
    let first = loop {
        match checkpoint_epochs(&faulty) {
            Some((1, bytes)) => break bytes,
            _ if child.try_wait().unwrap().is_some() => panic!("ended before epoch 1's checkpoint"),
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        checkpoint_epochs(&faulty).unwrap().1,
        first,
        "the checkpoint is as epoch 1 left it"
    );
    let rows = std::fs::read_to_string(faulty.join("metrics.csv")).unwrap();
    assert_eq!(rows.lines().count(), 2, "only epoch 1's row: {rows}");

    let run = |args: &[String]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        settings[0].to_string(),
        "--resume".into(),
        faulty.display().to_string(),
    ]);
    run(&cpu_args(settings, &whole));
    assert_eq!(
        metrics_without_timing(&faulty),
        metrics_without_timing(&whole)
    );
}

const SMALL: [&str; 6] = [
    "--train-images",
    "128",
    "--batch-size",
    "16",
    "--epochs",
    "3",
];

#[test]
fn training_stops_on_a_nan_loss_in_epoch_two() {
    let mut settings = vec!["train", "--test-images", "64"];
    settings.extend(SMALL);
    stops_in_a_later_epoch(
        &settings,
        "loss:2:3",
        "the training loss is NaN at epoch 2, step 3",
    );
}

#[test]
fn training_stops_on_a_nan_gradient_norm_in_epoch_two() {
    let mut settings = vec!["train", "--test-images", "64"];
    settings.extend(SMALL);
    stops_in_a_later_epoch(
        &settings,
        "norm:2:5",
        "the gradient norm is NaN at epoch 2, step 5",
    );
}

#[test]
fn a_search_stops_on_a_nan_in_epoch_two() {
    let mut settings = vec!["search"];
    settings.extend(SMALL);
    stops_in_a_later_epoch(
        &settings,
        "loss:2:2",
        "the training loss is NaN at epoch 2, step 2",
    );
    let mut darts = vec!["search", "--method", "darts"];
    darts.extend(SMALL);
    stops_in_a_later_epoch(
        &darts,
        "norm:2:1",
        "the gradient norm is NaN at epoch 2, step 1",
    );
}

#[test]
fn a_one_stage_run_stops_on_a_nan_in_epoch_two() {
    let settings = [
        "search",
        "--method",
        "ista-one-stage",
        "--train-images",
        "128",
        "--test-images",
        "64",
        "--batch-size",
        "16",
        "--search-epochs",
        "2",
        "--epochs",
        "1",
    ];
    stops_in_a_later_epoch(
        &settings,
        "loss:2:4",
        "the training loss is NaN at epoch 2, step 4",
    );
    stops_in_a_later_epoch(
        &settings,
        "norm:2:6",
        "the gradient norm is NaN at epoch 2, step 6",
    );
}
