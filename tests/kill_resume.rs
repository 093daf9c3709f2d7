//! Killed at any moment, nothing lost: a short search and a short training are killed with
//! SIGKILL at random moments spread over the run, several of them halfway through writing the
//! checkpoint, and resumed each time (or started again into the same folder when no
//! checkpoint was written yet). They end with the metrics, genotype and model tensors of an
//! uninterrupted run with the same seed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{metrics_without_timing, same_files, same_records};
use ista_nas::search::checkpoint::Checkpoint;
use ista_nas::search::one_stage::checkpoint::OneStageCheckpoint;
use ista_nas::train::checkpoint::TrainCheckpoint;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Milliseconds each file write pauses halfway, so kills land in writes too.
const PAUSE_MS: &str = "40";

fn spawn(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(args)
        .env("ISTA_NAS_WRITE_PAUSE_MS", PAUSE_MS)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

fn finish(child: Child) {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Arguments of a new run into `out`, or of its continuation once it has a checkpoint.
fn args_for(command: &str, settings: &[&str], out: &Path) -> Vec<String> {
    let mut args = vec![command.to_string(), "--device".into(), "cpu".into()];
    if out.join("checkpoint.bin").exists() {
        args.extend(["--resume".into(), out.display().to_string()]);
    } else {
        args.extend(settings.iter().map(|s| s.to_string()));
        args.extend(["--out".into(), out.display().to_string()]);
    }
    args
}

/// How many kills each chain takes.
const KILLS: usize = 10;

/// The modification time of `path`, if it exists.
fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// True when a `*.tmp` file written since `since` is in `out` (a write this process began).
fn fresh_tmp(out: &Path, since: SystemTime) -> bool {
    std::fs::read_dir(out).is_ok_and(|d| {
        d.flatten().any(|e| {
            let path = e.path();
            path.extension().is_some_and(|x| x == "tmp")
                && modified(&path).is_some_and(|t| t >= since)
        })
    })
}

/// Epochs of the run in `out` that its checkpoint holds (0 without one).
fn epochs_done(out: &Path) -> usize {
    std::fs::read_to_string(out.join("metrics.csv")).map_or(0, |csv| csv.lines().count() - 1)
}

/// Runs `command` into `out` as one chain of processes, each resuming the last: `KILLS`
/// SIGKILLs, every one hitting a live process of this chain, then a process that finishes.
/// Every third kill waits for a checkpoint write of that process to be under way; the others
/// come at a random moment within the work left (`span` is an uninterrupted run of `epochs`).
/// Should a process finish before its kill, the chain starts again from nothing, its kill
/// count too. Returns how many kills left a half-written file of their process behind.
fn run_with_kills(
    command: &str,
    settings: &[&str],
    out: &Path,
    epochs: usize,
    span: Duration,
) -> usize {
    let mut rng = StdRng::seed_from_u64(17);
    let (mut done, mut mid_write) = (0, 0);
    loop {
        let spawned = SystemTime::now();
        let mut child = spawn(&args_for(command, settings, out));
        if done == KILLS {
            finish(child);
            return mid_write;
        }
        if done % 3 == 0 {
            // Wait until this process writes a checkpoint (its temporary file appears).
            let tmp = out.join("checkpoint.tmp");
            while modified(&tmp).is_none_or(|t| t < spawned) {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        } else {
            let left = (epochs - epochs_done(out).min(epochs - 1)) as f64 / epochs as f64;
            let at = rng.random_range(0.0..1.0) * left * span.as_secs_f64();
            std::thread::sleep(Duration::from_secs_f64(at));
        }
        if child.try_wait().unwrap().is_some() {
            // It finished before the kill: this chain has fewer kills; start a new one.
            std::fs::remove_dir_all(out).unwrap();
            (done, mid_write) = (0, 0);
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        done += 1;
        if fresh_tmp(out, spawned) {
            mid_write += 1;
        }
    }
}

fn folders(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (whole, killed) = (
        dir.path().join(format!("{name}-whole")),
        dir.path().join(format!("{name}-killed")),
    );
    (dir, whole, killed)
}

/// An uninterrupted run of `command` with `settings` (`epochs` long) and a chain of it killed
/// `KILLS` times, whose metrics and `files` agree: the folder and both runs' folders.
fn whole_and_killed(
    (command, name): (&str, &str),
    settings: &[&str],
    epochs: usize,
    files: &[&str],
) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (dir, whole, killed) = folders(name);
    let start = Instant::now();
    finish(spawn(&args_for(command, settings, &whole)));
    let span = start.elapsed();
    let mid_write = run_with_kills(command, settings, &killed, epochs, span);
    eprintln!("{name}: {KILLS} kills over a {span:?} run, {mid_write} halfway through a write");
    assert!(
        mid_write >= 3,
        "kills during checkpoint writes: {mid_write}"
    );
    assert_eq!(
        metrics_without_timing(&killed),
        metrics_without_timing(&whole)
    );
    same_files(&whole, &killed, files);
    (dir, whole, killed)
}

#[test]
fn a_search_killed_ten_times_ends_as_an_uninterrupted_one() {
    let settings = [
        "--channels",
        "4",
        "--layers",
        "3",
        "--train-images",
        "128",
        "--batch-size",
        "16",
        "--epochs",
        "5",
        "--seed",
        "3",
    ];
    let (_dir, whole, killed) = whole_and_killed(
        ("search", "search"),
        &settings,
        5,
        &[
            "genotype.json",
            "normal.svg",
            "reduce.svg",
            "config.json",
            "supernet.safetensors",
        ],
    );
    let load = |dir: &Path| Checkpoint::load(&dir.join("checkpoint.bin")).unwrap();
    let (a, b) = (load(&whole), load(&killed));
    same_records(&a.records[..2], &b.records[..2], &["model", "b"]);
    assert_eq!(a.header.val_cursor, b.header.val_cursor);
}

#[test]
fn a_training_killed_ten_times_ends_as_an_uninterrupted_one() {
    let settings = [
        "--channels",
        "4",
        "--layers",
        "3",
        "--train-images",
        "128",
        "--test-images",
        "64",
        "--batch-size",
        "16",
        "--epochs",
        "4",
        "--seed",
        "5",
        "--drop-path",
        "0.2",
        "--cutout",
        "8",
    ];
    let (_dir, whole, killed) = whole_and_killed(
        ("train", "train"),
        &settings,
        4,
        &[
            "genotype.json",
            "config.json",
            "last.safetensors",
            "best.safetensors",
        ],
    );
    let load = |dir: &Path| TrainCheckpoint::load(&dir.join("checkpoint.bin")).unwrap();
    same_records(
        &load(&whole).records[..1],
        &load(&killed).records[..1],
        &["model"],
    );
}

#[test]
fn a_one_stage_run_killed_ten_times_ends_as_an_uninterrupted_one() {
    let settings = [
        "--method",
        "ista-one-stage",
        "--channels",
        "4",
        "--layers",
        "3",
        "--train-images",
        "128",
        "--test-images",
        "64",
        "--batch-size",
        "16",
        "--search-epochs",
        "3",
        "--epochs",
        "2",
        "--seed",
        "7",
    ];
    let (_dir, whole, killed) = whole_and_killed(
        ("search", "one-stage"),
        &settings,
        5,
        &[
            "genotype.json",
            "config.json",
            "folded.safetensors",
            "supernet.safetensors",
        ],
    );
    let load = |dir: &Path| OneStageCheckpoint::load(&dir.join("checkpoint.bin")).unwrap();
    let (a, b) = (load(&whole), load(&killed));
    same_records(&a.records[..2], &b.records[..2], &["model", "b"]);
    assert_eq!(a.header.nodes, b.header.nodes);
}
