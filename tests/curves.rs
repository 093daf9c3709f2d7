//! Training curves: changed picks, curves.json / curves.svg of a run, TensorBoard event files
//! that parse back to the same scalars (TFRecord framing with masked CRC-32C, Event protos),
//! resumed logs, `ista-nas plot` overlaying runs, and scatter labels that do not overlap.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{run, text};
use ista_nas::curves::tensorboard::EventLog;
use ista_nas::curves::{CHANGED_PICKS, EpochScalars, RunCurves, changed_picks};
use ista_nas::search_space::genotype::Genotype;
use ista_nas::storage::run_dir::RunDir;
use prost::Message;

/// TensorFlow's `Event` (the fields a scalar summary uses).
#[derive(Clone, PartialEq, Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(string, optional, tag = "3")]
    file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    summary: Option<Summary>,
}

#[derive(Clone, PartialEq, Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}

#[derive(Clone, PartialEq, Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(float, optional, tag = "2")]
    simple_value: Option<f32>,
}

fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// The records of a TFRecord file, each checked against its length and data checksums.
fn records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len_bytes = &bytes[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        let len_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        assert_eq!(len_crc, masked_crc(len_bytes), "length checksum");
        let data = &bytes[at + 12..at + 12 + len];
        let data_crc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
        assert_eq!(data_crc, masked_crc(data), "data checksum");
        out.push(data.to_vec());
        at += 16 + len;
    }
    out
}

/// Every event file of a run's `tensorboard/` folder, oldest first, as (step, tag, value) lists.
fn event_files(run: &Path) -> Vec<Vec<(i64, String, f32)>> {
    let mut files: Vec<_> = std::fs::read_dir(run.join("tensorboard"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with("events.out.tfevents."), "{name}");
            let events: Vec<Event> = records(&std::fs::read(path).unwrap())
                .iter()
                .map(|r| Event::decode(r.as_slice()).unwrap())
                .collect();
            assert_eq!(events[0].file_version.as_deref(), Some("brain.Event:2"));
            events[1..]
                .iter()
                .flat_map(|e| {
                    e.summary
                        .clone()
                        .unwrap()
                        .value
                        .into_iter()
                        .map(move |v| (e.step, v.tag, v.simple_value.expect("a scalar")))
                })
                .collect()
        })
        .collect()
}

/// The scalars of `curves` as the event log should hold them.
fn expected(curves: &RunCurves, from: usize) -> Vec<(i64, String, f32)> {
    curves.epochs[from..]
        .iter()
        .flat_map(|e| {
            e.values
                .iter()
                .map(|(tag, v)| (e.epoch as i64, tag.clone(), *v as f32))
        })
        .collect()
}

#[test]
fn changed_picks_count_new_picks_per_node() {
    let a = Genotype::builtin("ISTA_NAS").unwrap();
    assert_eq!(changed_picks(&a, &a), 0);
    let mut b = a.clone();
    b.normal.swap(0, 1); // the same picks of node 0, in the other order
    assert_eq!(changed_picks(&a, &b), 0);
    b.normal[2] = ("max_pool_3x3".into(), 0);
    b.reduce[7] = ("skip_connect".into(), 3);
    assert_eq!(changed_picks(&a, &b), 2);
}

fn synthetic(epochs: usize) -> RunCurves {
    RunCurves {
        kind: "train".into(),
        held_out: "test".into(),
        epochs: (1..=epochs)
            .map(|e| EpochScalars {
                epoch: e,
                values: BTreeMap::from([
                    ("loss/train".to_string(), 2.0 / e as f64),
                    ("accuracy/test".to_string(), 0.1 * e as f64),
                    ("lr".to_string(), 0.025 / e as f64),
                ]),
            })
            .collect(),
    }
}

/// A resumed run opens a second event file holding only the epochs after its checkpoint.
#[test]
fn event_logs_append_and_resume_without_repeating() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::create(dir.path()).unwrap();
    let curves = synthetic(3);
    let mut first = EventLog::create(&run.path, 0).unwrap();
    let two = RunCurves {
        epochs: curves.epochs[..2].to_vec(),
        ..curves.clone()
    };
    first.log(&two).unwrap();
    first.log(&two).unwrap(); // nothing new
    drop(first);
    std::thread::sleep(std::time::Duration::from_millis(2)); // a later file name
    let mut resumed = EventLog::create(&run.path, 2).unwrap();
    resumed.log(&curves).unwrap();
    let files = event_files(dir.path());
    assert_eq!(files.len(), 2);
    assert_eq!(files[0], expected(&two, 0));
    assert_eq!(files[1], expected(&curves, 2));
    run.write_curves(&curves).unwrap();
    assert_eq!(RunCurves::load(dir.path()).unwrap(), curves);
}

/// True when `svg` holds a text element reading `s` (plotters writes the text on its own line).
fn has_text(svg: &str, s: &str) -> bool {
    svg.contains(&format!(">\n{s}\n</text>"))
}

fn search(out: &Path, method: &str, seed: &str) {
    let result = run(&[
        "search",
        "--device",
        "cpu",
        "--method",
        method,
        "--epochs",
        "2",
        "--train-images",
        "64",
        "--batch-size",
        "16",
        "--channels",
        "8",
        "--layers",
        "3",
        "--seed",
        seed,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", text(&result.stderr));
}

/// A search writes curves.json, curves.svg and an event file with the same scalars; `plot`
/// overlays two runs with a legend entry per run and split, and refuses a folder without curves.
#[test]
fn searches_draw_and_log_their_curves_and_plot_overlays_them() {
    let dir = tempfile::tempdir().unwrap();
    let (ista, darts) = (dir.path().join("ista"), dir.path().join("darts"));
    search(&ista, "ista", "0");
    search(&darts, "darts", "1");
    let curves = RunCurves::load(&ista).unwrap();
    assert_eq!(curves.kind, "search (ista)");
    assert_eq!(curves.epochs.len(), 2);
    let tags = curves.tags();
    for tag in [
        "loss/train",
        "loss/val",
        "accuracy/train",
        "accuracy/val",
        "lr",
        CHANGED_PICKS,
    ] {
        assert!(tags.iter().any(|t| t == tag), "{tag} missing: {tags:?}");
    }
    let metrics = std::fs::read_to_string(ista.join("metrics.csv")).unwrap();
    let second: Vec<&str> = metrics.lines().nth(2).unwrap().split(',').collect();
    let val_acc: f64 = second[4].parse().unwrap();
    assert!((curves.epochs[1].values["accuracy/val"] - val_acc).abs() < 1e-6);
    assert_eq!(event_files(&ista), vec![expected(&curves, 0)]);
    let svg = std::fs::read_to_string(ista.join("curves.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("changed since the epoch before"));
    for entry in ["train", "val", "lr", "changed picks"] {
        assert!(has_text(&svg, entry), "legend entry {entry} missing");
    }

    let overlay = dir.path().join("overlay.svg");
    let result = run(&[
        "plot",
        ista.to_str().unwrap(),
        darts.to_str().unwrap(),
        "--svg",
        overlay.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", text(&result.stderr));
    let svg = std::fs::read_to_string(&overlay).unwrap();
    for entry in [
        "ista train",
        "ista val",
        "darts train",
        "darts val",
        "darts lr",
    ] {
        assert!(has_text(&svg, entry), "legend entry {entry} missing");
    }
    assert!(svg.contains("search (ista) vs search (darts)"));

    let result = run(&["plot", dir.path().to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(1));
    assert!(
        text(&result.stderr).contains("has no readable curves"),
        "{}",
        text(&result.stderr)
    );
}

/// Scatter labels: a label that would cover another label or a point moves to the next free
/// place (lower right, then the left side); far points keep the upper right.
#[test]
fn scatter_labels_do_not_overlap() {
    use ista_nas::bench::plot::label_offsets;
    let labels = ["seed 13", "seed 15", "seed 2", "seed 9"];
    // seeds 13 and 15 as in a study's plot: 6 pixels apart; seed 9 below seed 2's label.
    let anchors = [(300, 200), (294, 206), (500, 100), (500, 118)];
    let offsets = label_offsets(&anchors, &labels);
    assert_eq!(offsets[0], (7, -14));
    assert_ne!(offsets[1], (7, -14), "the second label must move");
    let boxes: Vec<[i32; 4]> = anchors
        .iter()
        .zip(&offsets)
        .zip(&labels)
        .map(|((&(x, y), &(dx, dy)), label)| {
            let w = 7 * label.len() as i32;
            [x + dx, y + dy, x + dx + w, y + dy + 14]
        })
        .collect();
    for i in 0..boxes.len() {
        for j in i + 1..boxes.len() {
            let (a, b) = (boxes[i], boxes[j]);
            let overlap = a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
            assert!(!overlap, "labels {i} and {j} overlap: {a:?} {b:?}");
        }
    }
}
