//! One process per run folder: a second search or training into a folder another process holds
//! exits 1 at once naming the holder, `--resume` of a running run is refused, a SIGKILLed run's
//! lock goes with it, and read-only commands work on a running run.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::text;

fn ista_nas(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ista-nas"));
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn start(args: &[&str]) -> Child {
    ista_nas(args).spawn().unwrap()
}

fn wait_for(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {path:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no {path:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn refused_as_in_use(out: &Output, dir: &Path) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} is in use by another ista-nas process (pid ",
            dir.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Two runs started together into one new folder: exactly one runs, the other refuses, and the
/// folder holds the winner's settings and epochs only (search and training).
#[test]
fn two_runs_into_one_new_folder_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["search", "train"] {
        let out = dir.path().join(command);
        let o = out.to_str().unwrap();
        let run = |seed: &str| {
            let mut args = vec![command, "--device", "cpu", "--out", o, "--seed", seed];
            args.extend([
                "--epochs",
                "2",
                "--train-images",
                "128",
                "--batch-size",
                "16",
            ]);
            if command == "train" {
                args.extend(["--test-images", "64"]);
            }
            start(&args)
        };
        let (a, b) = (run("1"), run("2"));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let (winner, loser, seed) = match (a.status.success(), b.status.success()) {
            (true, false) => (a, b, 1),
            (false, true) => (b, a, 2),
            _ => panic!(
                "{command}: exactly one should run:\n{}\n{}",
                text(&a.stderr),
                text(&b.stderr)
            ),
        };
        refused_as_in_use(&loser, &out);
        assert!(text(&loser.stdout).is_empty() || !text(&loser.stdout).contains("epoch 1/"));
        let config = std::fs::read_to_string(out.join("config.json")).unwrap();
        assert!(config.contains(&format!("\"seed\": {seed}")), "{config}");
        let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
        assert_eq!(metrics.lines().count(), 1 + 2, "{command}: {metrics}");
        assert!(text(&winner.stdout).contains("epoch 2/2"));
    }
}

/// `--resume` of a running run is refused; read-only commands work on it; after SIGKILL of the
/// holder `--resume` works at once.
#[test]
fn a_running_run_is_resumed_only_once_its_process_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    let mut running = start(&[
        "search",
        "--device",
        "cpu",
        "--out",
        o,
        "--epochs",
        "40",
        "--train-images",
        "256",
        "--batch-size",
        "16",
    ]);
    wait_for(&out.join("checkpoint.bin"), &mut running);
    let resumed = ista_nas(&["search", "--device", "cpu", "--resume", o])
        .output()
        .unwrap();
    refused_as_in_use(&resumed, &out);
    let svg = dir.path().join("curves.svg");
    let plot = ista_nas(&["plot", o, "--svg", svg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(plot.status.success(), "{}", text(&plot.stderr));
    let eval = ista_nas(&["eval", "--device", "cpu", "--search", o])
        .output()
        .unwrap();
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    running.kill().unwrap(); // SIGKILL
    running.wait().unwrap();
    let mut again = start(&["search", "--device", "cpu", "--resume", o]);
    // it runs (not refused): its start line comes once it holds the folder, then stop it
    let stdout = std::io::BufReader::new(again.stdout.take().unwrap());
    let mut printed = Vec::new();
    for line in std::io::BufRead::lines(stdout).map_while(Result::ok) {
        let started = line.starts_with("search:");
        printed.push(line);
        if started {
            break;
        }
    }
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with(&format!("resuming {o} after epoch"))),
        "{printed:?}"
    );
    again.kill().unwrap();
    let done = again.wait_with_output().unwrap();
    assert!(
        !text(&done.stderr).contains("in use"),
        "{}",
        text(&done.stderr)
    );
    assert!(
        printed.last().is_some_and(|l| l.starts_with("search:")),
        "{printed:?}"
    );
}
