//! One-stage runs across a freeze: stopped (SIGTERM) inside the epoch after a node froze while
//! the others are still active, the run resumes to the result of an uninterrupted one; and a
//! frozen node's b no longer trains while the active nodes' b do.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use burn::tensor::Device;
use common::{metrics_without_timing, same_files};
use ista_nas::search::one_stage::checkpoint::OneStageCheckpoint;

/// The quick one-stage preset, shortened: on the embedded data node reduce_0 freezes after
/// epoch 2 while the others stay active through epoch 3 (the search's last).
const SETTINGS: [&str; 9] = [
    "search",
    "--method",
    "ista-one-stage",
    "--search-epochs",
    "3",
    "--epochs",
    "1",
    "--device",
    "cpu",
];

fn rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("metrics.csv")).map_or(0, |csv| csv.lines().count() - 1)
}

fn load(dir: &Path) -> OneStageCheckpoint {
    OneStageCheckpoint::load(&dir.join("checkpoint.bin")).unwrap()
}

#[test]
fn a_run_stopped_between_freezes_resumes_and_frozen_b_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, cut) = (dir.path().join("whole"), dir.path().join("cut"));
    let out = |d: &Path| -> Vec<String> {
        let mut args: Vec<String> = SETTINGS.iter().map(|s| s.to_string()).collect();
        args.extend(["--out".into(), d.display().to_string()]);
        args
    };
    let status = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(out(&whole))
        .output()
        .unwrap();
    assert!(status.status.success());

    let mut child = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(out(&cut))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // epoch 2 written (its checkpoint is the last file of the epoch): stop inside epoch 3
    while rows(&cut) < 2 || load_epochs(&cut) < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before epoch 3"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let after_two = load(&cut);
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill has no memory-safety preconditions; the child is ours and not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let stopped = child.wait_with_output().unwrap();
    assert_eq!(
        stopped.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let mid = load(&cut);
    assert!(
        mid.header.position.is_some(),
        "a mid-epoch checkpoint of epoch 3"
    );
    let frozen: Vec<bool> = mid
        .header
        .nodes
        .iter()
        .map(|n| n.frozen_at.is_some())
        .collect();
    assert!(
        frozen.contains(&true) && frozen.contains(&false),
        "some frozen, some active: {frozen:?}"
    );

    let resumed = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(["search", "--resume", cut.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(metrics_without_timing(&whole), metrics_without_timing(&cut));
    let files = [
        "folded.safetensors",
        "genotype.json",
        "supernet.safetensors",
    ];
    same_files(&whole, &cut, &files);

    // b of the nodes frozen after epoch 2 is as it was then; the others' b moved in epoch 3
    let device = Device::flex();
    let b = |c: &OneStageCheckpoint| c.supernet(&device).unwrap().arch.to_host();
    let (before, after) = (b(&after_two), b(&load(&cut)));
    for (i, node) in after_two.header.nodes.iter().enumerate() {
        match node.frozen_at {
            Some(_) => assert_eq!(before[i], after[i], "frozen node {i}'s b changed"),
            None => assert_ne!(before[i], after[i], "active node {i}'s b did not train"),
        }
    }
}

fn load_epochs(dir: &Path) -> usize {
    OneStageCheckpoint::load(&dir.join("checkpoint.bin")).map_or(0, |c| c.header.epochs_done)
}
