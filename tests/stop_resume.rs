//! Preemption costs a step, not an epoch: SIGTERM and SIGINT at random moments of a search, a
//! one-stage run and a training each let the current step finish, write a mid-epoch checkpoint
//! and exit with 143 / 130; resumed each time, the one chain of runs ends with exactly the
//! metrics, genotype, exported tensors and checkpoint records of an uninterrupted run. A second
//! SIGINT quits at once; `--checkpoint-every` writes mid-epoch checkpoints that a SIGKILLed run
//! resumes from.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use common::{cpu_args, metrics_without_timing as metrics, same_files, same_records};
use ista_nas::search::checkpoint::Checkpoint;
use ista_nas::search::one_stage::checkpoint::OneStageCheckpoint;
use ista_nas::train::checkpoint::TrainCheckpoint;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Signals that hit a live run, per chain.
const STOPS: usize = 10;

/// A started run and the lines of its standard output as they come.
struct Running {
    child: Child,
    lines: Receiver<String>,
}

fn start(args: &[String]) -> Running {
    start_with(args, None)
}

/// `start`, each step followed by a pause of `pause_ms`.
fn start_with(args: &[String], pause_ms: Option<&str>) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ista-nas"));
    if let Some(ms) = pause_ms {
        command.env("ISTA_NAS_STEP_PAUSE_MS", ms);
    }
    let mut child = command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let stdout = child.stdout.take().unwrap();
    let (send, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    Running { child, lines }
}

impl Running {
    /// Waits until a line starting with `marker` was printed (the epochs are about to run);
    /// false when the process ended first.
    fn wait_for(&self, marker: &str, seen: &mut Vec<String>) -> bool {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(120)) {
            let found = line.starts_with(marker);
            seen.push(line);
            if found {
                return true;
            }
        }
        false
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions; the child is ours and not reaped.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }
}

/// Runs `command` into `out`, stopping it with SIGTERM or SIGINT after a random delay past
/// `marker` until `wanted` signals have hit a live run, resuming each time, then lets it finish.
/// Returns how many resumes started inside an epoch.
fn stopped_chain(wanted: usize, command: &[&str], marker: &str, out: &Path, seed: u64) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut stops, mut mid_epoch) = (0, 0);
    let mut next = cpu_args(command, out);
    loop {
        let run = start(&next);
        let mut seen = Vec::new();
        let started = run.wait_for(marker, &mut seen);
        mid_epoch += seen.iter().filter(|l| l.contains(" at step ")).count();
        let signal = if rng.random_range(0..2) == 0 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        if started && stops < wanted {
            std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
            run.signal(signal);
        }
        let output = run.child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        match output.status.code() {
            Some(0) => break,
            Some(code) if code == 128 + signal => {
                assert!(
                    stderr.contains("--resume"),
                    "the message says how to resume: {stderr}"
                );
                stops += 1;
            }
            other => panic!("{command:?} ended with {other:?}: {stderr}"),
        }
        next = vec![
            command[0].into(),
            "--resume".into(),
            out.display().to_string(),
        ];
    }
    assert!(
        stops >= wanted,
        "{command:?}: only {stops} signals hit a live run"
    );
    mid_epoch
}

const TRAIN: [&str; 9] = [
    "train",
    "--train-images",
    "256",
    "--test-images",
    "100",
    "--batch-size",
    "16",
    "--epochs",
    "2",
];
const SEARCH: [&str; 7] = [
    "search",
    "--train-images",
    "256",
    "--batch-size",
    "16",
    "--epochs",
    "3",
];
const ONE_STAGE: [&str; 13] = [
    "search",
    "--method",
    "ista-one-stage",
    "--train-images",
    "256",
    "--test-images",
    "100",
    "--batch-size",
    "16",
    "--search-epochs",
    "2",
    "--epochs",
    "1",
];

/// An uninterrupted run of `command` and a chain of it stopped `stops` times, whose metrics
/// agree: the folder, both runs' folders, and how many resumes started inside an epoch.
fn whole_and_stopped(
    command: &[&str],
    marker: &str,
    seed: u64,
    stops: usize,
) -> (tempfile::TempDir, PathBuf, PathBuf, usize) {
    let dir = tempfile::tempdir().unwrap();
    let (whole, chain) = (dir.path().join("whole"), dir.path().join("chain"));
    let out = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(cpu_args(command, &whole))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mid = stopped_chain(stops, command, marker, &chain, seed);
    assert_eq!(metrics(&whole), metrics(&chain), "{command:?}");
    (dir, whole, chain, mid)
}

#[test]
fn a_stopped_training_resumes_to_the_same_result() {
    let (_dir, whole, chain, mid) = whole_and_stopped(&TRAIN, "train:", 1, STOPS);
    assert!(mid >= STOPS / 2, "{mid} resumes inside an epoch");
    let files = [
        "last.safetensors",
        "best.safetensors",
        "genotype.json",
        "config.json",
    ];
    same_files(&whole, &chain, &files);
    let load = |dir: &Path| TrainCheckpoint::load(&dir.join("checkpoint.bin")).unwrap();
    let (a, b) = (load(&whole), load(&chain));
    same_records(&a.records[..1], &b.records[..1], &["model"]);
    assert_eq!(b.header.position, None);
}

#[test]
fn a_stopped_search_resumes_to_the_same_result() {
    let (_dir, whole, chain, mid) = whole_and_stopped(&SEARCH, "search:", 2, STOPS);
    assert!(mid >= STOPS / 2, "{mid} resumes inside an epoch");
    let files = [
        "genotype.json",
        "normal.dot",
        "reduce.dot",
        "config.json",
        "supernet.safetensors",
    ];
    same_files(&whole, &chain, &files);
    let load = |dir: &Path| Checkpoint::load(&dir.join("checkpoint.bin")).unwrap();
    let (a, b) = (load(&whole), load(&chain));
    same_records(&a.records[..2], &b.records[..2], &["model", "b"]);
    assert_eq!(a.header.val_cursor, b.header.val_cursor);
}

#[test]
fn stopped_darts_and_pc_darts_searches_resume_to_the_same_result() {
    for (method, seed) in [("darts", 4), ("pc-darts", 5)] {
        let command = [
            "search",
            "--method",
            method,
            "--train-images",
            "128",
            "--batch-size",
            "16",
            "--epochs",
            "2",
            "--layers",
            "3",
        ];
        let (_dir, whole, chain, _) = whole_and_stopped(&command, "search:", seed, 4);
        let files = ["genotype.json", "config.json", "supernet.safetensors"];
        same_files(&whole, &chain, &files);
        let load = |dir: &Path| Checkpoint::load(&dir.join("checkpoint.bin")).unwrap();
        let (a, b) = (load(&whole), load(&chain));
        same_records(&a.records[..2], &b.records[..2], &["model", "α (and β)"]);
    }
}

#[test]
fn a_stopped_one_stage_run_resumes_to_the_same_result() {
    let (_dir, whole, chain, mid) = whole_and_stopped(&ONE_STAGE, "one-stage ISTA-NAS", 3, STOPS);
    assert!(mid >= STOPS / 2, "{mid} resumes inside an epoch");
    same_files(
        &whole,
        &chain,
        &[
            "folded.safetensors",
            "genotype.json",
            "config.json",
            "supernet.safetensors",
        ],
    );
    let load = |dir: &Path| OneStageCheckpoint::load(&dir.join("checkpoint.bin")).unwrap();
    let (a, b) = (load(&whole), load(&chain));
    same_records(&a.records[..2], &b.records[..2], &["model", "b"]);
    assert_eq!(a.header.nodes, b.header.nodes);
}

#[test]
fn a_second_sigint_quits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // every step pauses 20 s after it: both signals land before the first step's end, and
    // the second ends the process at once
    let run = start_with(&cpu_args(&TRAIN, &dir.path().join("run")), Some("20000"));
    assert!(run.wait_for("train:", &mut Vec::new()));
    run.signal(libc::SIGINT);
    // two signals sent together may be delivered as one
    std::thread::sleep(Duration::from_millis(300));
    run.signal(libc::SIGINT);
    let started = std::time::Instant::now();
    let output = run.child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it did not wait for the step"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("stopped by"),
        "no step was waited for: {stderr}"
    );
}

/// With `--checkpoint-every`, a run killed outright (SIGKILL) resumes inside its epoch and
/// still ends as an uninterrupted run.
#[test]
fn timed_checkpoints_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, chain) = (dir.path().join("whole"), dir.path().join("chain"));
    let out = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(cpu_args(&TRAIN, &whole))
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut timed = cpu_args(&TRAIN, &chain);
    timed.extend(["--checkpoint-every".into(), "0.002".into()]);
    let run = start(&timed);
    assert!(run.wait_for("train:", &mut Vec::new()));
    // wait until a mid-epoch checkpoint exists, then kill without warning
    let path = chain.join("checkpoint.bin");
    let mid_epoch = || TrainCheckpoint::load(&path).is_ok_and(|c| c.header.position.is_some());
    while !mid_epoch() {
        std::thread::sleep(Duration::from_millis(5));
    }
    run.signal(libc::SIGKILL);
    let _ = run.child.wait_with_output();
    let resumed = start(&[
        "train".into(),
        "--resume".into(),
        chain.display().to_string(),
    ]);
    let mut seen = Vec::new();
    resumed.wait_for("train:", &mut seen);
    assert!(seen.iter().any(|l| l.contains(" at step ")), "{seen:?}");
    assert!(resumed.child.wait_with_output().unwrap().status.success());
    assert_eq!(metrics(&whole), metrics(&chain));
    same_files(&whole, &chain, &["last.safetensors"]);
}
