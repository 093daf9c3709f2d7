//! What the commands do with input they cannot use: data a run cannot learn from, image sizes
//! the network cannot take, malformed genotypes, flags that do not go together, a closed
//! output pipe, no adapter, and a loss that turns NaN.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{assert_clean_failure, metrics_without_timing, run, same_files, same_records, text};

fn idx_bytes(dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(payload);
    out
}

/// An IDX folder of 28×28 images with these training and test labels.
fn idx_folder(dir: &Path, train: &[u8], test: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, labels) in [("train", train), ("t10k", test)] {
        let n = labels.len() as u32;
        let pixels: Vec<u8> = (0..n as usize * 784).map(|i| (i % 251) as u8).collect();
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
            idx_bytes(&[n, 28, 28], &pixels),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            idx_bytes(&[n], labels),
        )
        .unwrap();
    }
}

fn search_on(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "search",
        "--device",
        "cpu",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn data_a_run_cannot_learn_from_is_refused_before_a_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let empty = dir.path().join("empty");
    idx_folder(&empty, &[], &[]);
    assert_clean_failure(&search_on(&empty, &out, &[]), "0 training images");
    let far = dir.path().join("far");
    idx_folder(&far, &[200; 8], &[200; 2]);
    assert_clean_failure(
        &search_on(&far, &out, &[]),
        "pass --classes 201 to train on 201 classes on purpose",
    );
    let train = run(&[
        "train",
        "--device",
        "cpu",
        "--data",
        far.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&train, "have no training image");
    assert_clean_failure(
        &search_on(&far, &out, &["--classes", "100"]),
        "--classes 100, but a label is 200",
    );
    assert!(!out.exists(), "a refused run leaves no folder");
}

#[test]
fn image_sizes_the_network_cannot_take_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd");
    for (split, class) in [("train", "a"), ("train", "b"), ("test", "a"), ("test", "b")] {
        for i in 0..2 {
            let path = odd.join(format!("{split}/{class}/{i}.png"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::GrayImage::from_pixel(34, 34, image::Luma([i * 9]))
                .save(path)
                .unwrap();
        }
    }
    let out = dir.path().join("run");
    assert_clean_failure(&search_on(&odd, &out, &[]), "which it must halve");
    assert!(!out.exists());
    let bench = run(&[
        "bench",
        "--device",
        "cpu",
        "--data",
        odd.to_str().unwrap(),
        "--channels",
        "4",
        "--layers",
        "3",
        "--batch-sizes",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&bench, "which it must halve");
}

#[test]
fn a_genotype_without_two_picks_per_node_is_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut genotype: serde_json::Value = serde_json::from_str(&text(
        &run(&["genotype", "show", "ISTA_NAS", "--json"]).stdout,
    ))
    .unwrap();
    let picks = genotype["normal"].as_array().unwrap()[..4].to_vec();
    genotype["normal"] = serde_json::Value::Array(picks);
    let path = dir.path().join("one-pick.json");
    std::fs::write(&path, genotype.to_string()).unwrap();
    let path = path.to_str().unwrap();
    let expected = "normal has 4 picks; expected 2 for each of the 4 nodes";
    assert_clean_failure(&run(&["genotype", "show", path]), expected);
    let bench = run(&[
        "bench",
        "--device",
        "cpu",
        "--genotype",
        path,
        "--batch-sizes",
        "2",
        "--out",
        dir.path().join("bench").to_str().unwrap(),
    ]);
    assert_clean_failure(&bench, expected);
    let train = run(&["train", "--device", "cpu", "--genotype", path]);
    assert_clean_failure(&train, expected);
}

#[test]
fn resume_refuses_settings_it_would_ignore() {
    for args in [
        ["search", "--resume", "somewhere", "--lr", "0.5"],
        ["train", "--resume", "somewhere", "--lr", "0.5"],
        ["search", "--resume", "somewhere", "--classes", "5"],
    ] {
        let out = run(&args);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("cannot be used with"),
            "{args:?}"
        );
    }
}

#[test]
fn arguments_are_checked_before_the_device_is_opened() {
    // No Vulkan driver at all: a bad flag is still reported as the bad flag.
    let out = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(["search", "--device", "vulkan", "--epochs", "0"])
        .env("VK_ICD_FILENAMES", "/nonexistent.json")
        .env("VK_DRIVER_FILES", "/nonexistent.json")
        .output()
        .unwrap();
    assert_clean_failure(&out, "--epochs");
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    for _ in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
            .args(["genotype", "show", "ISTA_NAS"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away before the output is written
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!stderr.contains("panicked"), "{stderr}");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert!(
                status.success() || status.signal() == Some(libc::SIGPIPE),
                "{status:?}"
            );
        }
    }
}

#[test]
fn a_loss_that_turns_non_finite_stops_the_run_with_its_own_status() {
    let dir = tempfile::tempdir().unwrap();
    for (command, extra) in [
        (
            "search",
            vec!["--lr", "1e30", "--train-images", "64", "--batch-size", "16"],
        ),
        (
            "train",
            vec![
                "--lr",
                "1e30",
                "--train-images",
                "64",
                "--test-images",
                "16",
                "--batch-size",
                "16",
            ],
        ),
    ] {
        let out_dir = dir.path().join(command);
        let mut args = vec![
            command,
            "--device",
            "cpu",
            "--out",
            out_dir.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = run(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{command}: {stderr}");
        assert!(stderr.contains("at epoch 1, step "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !out_dir.join("checkpoint.bin").exists(),
            "nothing of the failed epoch is written"
        );
    }
}

#[test]
fn an_output_folder_that_cannot_be_made_is_an_error_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let under = file.join("run");
    let out = run(&[
        "search",
        "--device",
        "cpu",
        "--train-images",
        "64",
        "--out",
        under.to_str().unwrap(),
    ]);
    assert_clean_failure(&out, under.to_str().unwrap());
    assert!(
        !text(&out.stdout).contains("epoch 1"),
        "no training started"
    );
}

/// A full disk while the second epoch's checkpoint is written (its temporary file points at
/// /dev/full): the run stops with the error, the first epoch's checkpoint stays byte for byte,
/// and the run resumes from it to the end of an uninterrupted run: metrics, genotype, drawings
/// and the checkpoint's model and b.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_mid_run_keeps_the_previous_checkpoint() {
    use ista_nas::search::checkpoint::Checkpoint;
    let dir = tempfile::tempdir().unwrap();
    let settings = [
        "--device",
        "cpu",
        "--channels",
        "4",
        "--layers",
        "3",
        "--train-images",
        "128",
        "--batch-size",
        "16",
        "--epochs",
        "3",
    ];
    let whole = dir.path().join("whole");
    let mut args = vec!["search"];
    args.extend(settings);
    args.extend(["--out", whole.to_str().unwrap()]);
    assert!(run(&args).status.success());

    let full = dir.path().join("full");
    let mut args = vec!["search"];
    args.extend(settings);
    args.extend(["--out", full.to_str().unwrap()]);
    // each step pauses 100 ms, so epoch 2 (4 steps) is still running when the disk fills
    let mut child = Command::new(env!("CARGO_BIN_EXE_ista-nas"))
        .args(&args)
        .env("ISTA_NAS_STEP_PAUSE_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let checkpoint = full.join("checkpoint.bin");
    let first = loop {
        match Checkpoint::load(&checkpoint) {
            Ok(c) if c.header.epochs_done == 1 => break std::fs::read(&checkpoint).unwrap(),
            Ok(c) => panic!(
                "epoch {} written before the disk filled",
                c.header.epochs_done
            ),
            Err(_) => {
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "ended before its first checkpoint"
                );
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    };
    std::os::unix::fs::symlink("/dev/full", full.join("checkpoint.tmp")).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read(&checkpoint).unwrap(),
        first,
        "the checkpoint is kept"
    );
    assert!(!full.join("checkpoint.tmp").exists());

    let resumed = run(&[
        "search",
        "--device",
        "cpu",
        "--resume",
        full.to_str().unwrap(),
    ]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert_eq!(
        metrics_without_timing(&whole),
        metrics_without_timing(&full)
    );
    same_files(
        &whole,
        &full,
        &[
            "genotype.json",
            "normal.svg",
            "reduce.svg",
            "normal.dot",
            "config.json",
        ],
    );
    let (a, b) = (
        Checkpoint::load(&whole.join("checkpoint.bin")).unwrap(),
        Checkpoint::load(&checkpoint).unwrap(),
    );
    same_records(&a.records[..2], &b.records[..2], &["model", "b"]);
}

/// A checkpoint whose settings no run may have is refused on resume, before anything is built.
#[test]
fn a_checkpoint_with_settings_out_of_bounds_is_refused_on_resume() {
    use ista_nas::search::checkpoint::{Checkpoint, CheckpointHeader};
    use ista_nas::search::config::SearchConfig;
    use ista_nas::search::one_stage::checkpoint::{OneStageCheckpoint, OneStageHeader};
    use ista_nas::search::one_stage::config::OneStageConfig;
    use ista_nas::search::one_stage::freezing::NodeState;

    let dir = tempfile::tempdir().unwrap();
    let two = dir.path().join("two");
    std::fs::create_dir_all(&two).unwrap();
    Checkpoint {
        header: CheckpointHeader {
            config: SearchConfig {
                channels: 5,
                ..SearchConfig::quick()
            },
            epochs_done: 1,
            val_cursor: Default::default(),
            position: None,
            epoch_state: None,
            history: vec![],
        },
        records: [vec![], vec![], vec![], vec![]],
    }
    .save(&two.join("checkpoint.bin"))
    .unwrap();
    assert_clean_failure(
        &run(&[
            "search",
            "--device",
            "cpu",
            "--resume",
            two.to_str().unwrap(),
        ]),
        "the checkpoint's settings",
    );
    let one = dir.path().join("one");
    std::fs::create_dir_all(&one).unwrap();
    OneStageCheckpoint {
        header: OneStageHeader {
            config: OneStageConfig {
                layers: 1000,
                ..OneStageConfig::quick()
            },
            network: ista_nas::model::skeleton::NetworkConfig::paper(10, 1),
            class_names: vec![],
            augment: ista_nas::data::augment::Augment::plain(32),
            norm: ista_nas::data::augment::Normalization {
                mean: vec![0.5],
                std: vec![0.25],
            },
            epochs_done: 0,
            search_epochs_done: 0,
            position: None,
            nodes: (0..8)
                .map(|i| NodeState::new(vec![0.0; 7 * (i % 4 + 2)]))
                .collect(),
            history: vec![],
        },
        records: [vec![], vec![], vec![], vec![]],
    }
    .save(&one.join("checkpoint.bin"))
    .unwrap();
    assert_clean_failure(
        &run(&[
            "search",
            "--device",
            "cpu",
            "--resume",
            one.to_str().unwrap(),
        ]),
        "the checkpoint's settings: --layers must lie in 3..=256",
    );
}
