//! Killed at any moment, nothing lost: a short search and a short training are killed with
//! SIGKILL at random moments spread over the run, several of them halfway through writing the
//! checkpoint, and resumed each time (or started again into the same folder when no
//! checkpoint was written yet). They end with the metrics, genotype and model tensors of an
//! uninterrupted run with the same seed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// Runs `command` into `out`, killing it `kills` times: every third kill waits for a
/// checkpoint write to be under way, the others come at a random moment within `span`.
/// Returns how many kills left a half-written file behind.
fn run_with_kills(
    command: &str,
    settings: &[&str],
    out: &Path,
    kills: usize,
    span: Duration,
) -> usize {
    let mut rng = StdRng::seed_from_u64(17);
    let (mut done, mut mid_write) = (0, 0);
    loop {
        let mut child = spawn(&args_for(command, settings, out));
        if done == kills {
            finish(child);
            return mid_write;
        }
        if done % 3 == 0 {
            // Wait until a checkpoint is being written (its temporary file exists).
            let start = Instant::now();
            while !out.join("checkpoint.tmp").exists() && start.elapsed() < span * 4 {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        } else {
            let at = rng.random_range(0.0..1.0) * span.as_secs_f64();
            std::thread::sleep(Duration::from_secs_f64(at));
        }
        if child.try_wait().unwrap().is_some() {
            // It finished before the kill: start the whole run again from scratch.
            std::fs::remove_dir_all(out).unwrap();
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        done += 1;
        if std::fs::read_dir(out)
            .map(|d| {
                d.flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == "tmp"))
            })
            .unwrap_or(false)
        {
            mid_write += 1;
        }
    }
}

/// metrics.csv without the columns that time the run.
fn metrics_without_timing(dir: &Path) -> String {
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !["seconds", "peak_memory_bytes"].contains(&header[i]))
        .collect();
    std::iter::once(header.join(","))
        .chain(lines.map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&i| cells[i]).collect::<Vec<_>>().join(",")
        }))
        .collect::<Vec<_>>()
        .join("\n")
}

fn same_files(a: &Path, b: &Path, names: &[&str]) {
    for name in names {
        let (x, y) = (
            std::fs::read(a.join(name)).unwrap(),
            std::fs::read(b.join(name)).unwrap(),
        );
        assert!(x == y, "{name} differs after the kills");
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
    let (_dir, whole, killed) = folders("search");
    let start = Instant::now();
    finish(spawn(&args_for("search", &settings, &whole)));
    let span = start.elapsed();
    let mid_write = run_with_kills("search", &settings, &killed, 10, span);
    eprintln!("search: 10 kills over a {span:?} run, {mid_write} halfway through a write");
    assert!(
        mid_write >= 3,
        "kills during checkpoint writes: {mid_write}"
    );
    assert_eq!(
        metrics_without_timing(&killed),
        metrics_without_timing(&whole)
    );
    same_files(
        &whole,
        &killed,
        &["genotype.json", "normal.svg", "reduce.svg", "config.json"],
    );
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
    let (_dir, whole, killed) = folders("train");
    let start = Instant::now();
    finish(spawn(&args_for("train", &settings, &whole)));
    let span = start.elapsed();
    let mid_write = run_with_kills("train", &settings, &killed, 10, span);
    eprintln!("train: 10 kills over a {span:?} run, {mid_write} halfway through a write");
    assert!(
        mid_write >= 3,
        "kills during checkpoint writes: {mid_write}"
    );
    assert_eq!(
        metrics_without_timing(&killed),
        metrics_without_timing(&whole)
    );
    same_files(
        &whole,
        &killed,
        &[
            "genotype.json",
            "config.json",
            "last.safetensors",
            "best.safetensors",
        ],
    );
}
