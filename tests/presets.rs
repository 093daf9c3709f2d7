//! Presets are the JSON files in presets/; preset files layer over them; settings saved by
//! older versions (flat config.json, no `lr_scaling`) load with their old meaning; `--config`
//! reruns a saved run's settings.

mod common;

use common::{run, text};
use ista_nas::search::config::{LrScaling, Method, SearchConfig};
use ista_nas::search::one_stage::config::OneStageConfig;
use ista_nas::search_space::genotype::Genotype;
use ista_nas::settings::presets::{self, BUILT_IN, PresetCommand};
use ista_nas::train::config::TrainConfig;
use serde_json::Value;

#[test]
fn every_built_in_is_a_described_json_file_of_its_command() {
    for (file, text) in BUILT_IN {
        let on_disk = std::fs::read_to_string(format!("presets/{file}.json")).unwrap();
        assert_eq!(on_disk, text, "{file}");
        let value: Value = serde_json::from_str(text).unwrap();
        assert!(
            value["about"].as_str().is_some_and(|a| a.len() > 40),
            "{file}: about"
        );
    }
    assert_eq!(
        std::fs::read_dir("presets").unwrap().count(),
        BUILT_IN.len()
    );
    for name in PresetCommand::Search.names() {
        for method in [Method::Ista, Method::Darts, Method::PcDarts] {
            let c = SearchConfig::preset(name, method).unwrap();
            assert_eq!(c.method, method);
            assert_eq!(c.lr_scaling, LrScaling::None, "{name} {method:?}");
            assert_eq!(c.problem(), None, "{name} {method:?}");
        }
    }
    for name in PresetCommand::OneStage.names() {
        assert_eq!(OneStageConfig::preset(name).unwrap().problem(), None);
    }
    let genotype = Genotype::load("ISTA_NAS").unwrap();
    for name in PresetCommand::Train.names() {
        assert_eq!(
            TrainConfig::preset(name, genotype.clone())
                .unwrap()
                .problem(),
            None
        );
    }
    assert!(SearchConfig::preset("nope", Method::Ista).is_none());
}

/// The rates the presets had when `lr` meant "per 256 images" are the rates they run at.
#[test]
fn the_presets_keep_their_rates() {
    let paper = SearchConfig::paper();
    assert_eq!((paper.peak_lr(), paper.batch_size), (0.1, 256));
    let darts = SearchConfig::preset("paper", Method::Darts).unwrap();
    assert_eq!((darts.peak_lr(), darts.batch_size), (0.025, 64));
    assert_eq!(darts.arch.arch_lr, 3e-4);
    let pc = SearchConfig::preset("paper", Method::PcDarts).unwrap();
    assert_eq!((pc.peak_lr(), pc.arch_warmup_epochs), (0.1, 15));
    let quick = SearchConfig::quick();
    assert_eq!((quick.peak_lr(), quick.batch_size), (0.1, 32));
    assert_eq!(
        SearchConfig::preset("quick", Method::PcDarts)
            .unwrap()
            .channels,
        8
    );
    // the rate the run uses does not move with the batch size
    let bigger = SearchConfig {
        batch_size: 128,
        ..SearchConfig::quick()
    };
    assert_eq!(bigger.lr_at(0), SearchConfig::quick().lr_at(0));
}

fn fixture(name: &str) -> serde_json::Map<String, Value> {
    presets::saved(std::path::Path::new(&format!("tests/fixtures/{name}"))).unwrap()
}

#[test]
fn settings_saved_before_the_groups_load_with_their_old_meaning() {
    let old: SearchConfig = presets::settings(fixture("search-config-v0.json"), "v0").unwrap();
    assert_eq!(old.lr_scaling, LrScaling::Linear);
    assert_eq!(old.sgd.lr, 0.8);
    assert_eq!(old.peak_lr(), 0.1, "0.8 per 256 images at batch 32");
    let now = SearchConfig {
        sgd: old.sgd.clone(),
        lr_scaling: LrScaling::Linear,
        data: ista_nas::settings::DataSettings {
            norm: old.data.norm.clone(),
            ..SearchConfig::quick().data
        },
        ..SearchConfig::quick()
    };
    assert_eq!(old, now);
    assert_eq!(old.lr_at(1), SearchConfig::quick().lr_at(1));

    let old: OneStageConfig = presets::settings(fixture("one-stage-config-v0.json"), "v0").unwrap();
    let mut now = OneStageConfig::quick();
    now.data.norm.clone_from(&old.data.norm);
    assert_eq!(old, now);

    let old: TrainConfig = presets::settings(fixture("train-config-v0.json"), "v0").unwrap();
    let mut now = TrainConfig::quick(old.genotype.clone());
    now.data.norm.clone_from(&old.data.norm);
    assert_eq!(old, now);
}

/// The groups are flattened: config.json keeps the flat keys it always had.
#[test]
fn saved_settings_keep_flat_keys() {
    for (name, now) in [
        (
            "search-config-v0.json",
            presets::to_map(&SearchConfig::quick()),
        ),
        (
            "one-stage-config-v0.json",
            presets::to_map(&OneStageConfig::quick()),
        ),
        (
            "train-config-v0.json",
            presets::to_map(&TrainConfig::quick(Genotype::load("ISTA_NAS").unwrap())),
        ),
    ] {
        let mut old: Vec<String> = fixture(name).keys().cloned().collect();
        let mut keys: Vec<String> = now
            .keys()
            .filter(|k| !["lr_scaling", "checkpoint_every"].contains(&k.as_str()))
            .cloned()
            .collect();
        old.sort();
        keys.sort();
        assert_eq!(keys, old, "{name}");
        assert!(
            now.values()
                .all(|v| !v.is_object() || v.get("mean").is_some() || v.get("normal").is_some())
        );
    }
}

#[test]
fn a_preset_file_overrides_the_built_in_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.json");
    let write = |text: &str| std::fs::write(&file, text).unwrap();
    let spec = file.to_str().unwrap();
    write(
        r#"{"about": "two epochs of the paper's search", "preset": "paper", "epochs": 2, "lr": 0.05}"#,
    );
    let map = presets::resolve(PresetCommand::Search, spec, None, &[]).unwrap();
    let c: SearchConfig = presets::settings(map, spec).unwrap();
    assert_eq!(
        c,
        SearchConfig {
            epochs: 2,
            sgd: ista_nas::settings::SgdSettings {
                lr: 0.05,
                ..SearchConfig::paper().sgd
            },
            ..SearchConfig::paper()
        }
    );
    write(r#"{"channels": 8}"#);
    let map = presets::resolve(PresetCommand::Search, spec, None, &[]).unwrap();
    let c: SearchConfig = presets::settings(map, spec).unwrap();
    assert_eq!(
        c,
        SearchConfig {
            channels: 8,
            ..SearchConfig::quick()
        },
        "default base: quick"
    );
    for (bad, expected) in [
        (r#"{"epochs": 2, "epoch": 3}"#, "unknown setting \"epoch\""),
        (r#"{"preset": "huge"}"#, "no built-in `huge`"),
        (r#"[1, 2]"#, "not a JSON object"),
        (r#"{"epochs": "#, "not JSON"),
    ] {
        write(bad);
        let error = presets::resolve(PresetCommand::Search, spec, None, &[]).unwrap_err();
        assert!(error.to_string().contains(expected), "{bad}: {error}");
    }
    write(r#"{"epochs": -2}"#);
    let map = presets::resolve(PresetCommand::Search, spec, None, &[]).unwrap();
    assert!(presets::settings::<SearchConfig>(map, spec).is_err());
    let unknown = presets::resolve(PresetCommand::Train, "fast", None, &[]).unwrap_err();
    assert!(
        unknown.to_string().contains("quick, cifar, imagenet"),
        "{unknown}"
    );
}

fn metrics(dir: &std::path::Path) -> String {
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    // the seconds and memory columns differ between runs
    csv.lines()
        .map(|l| l.split(',').take(7).collect::<Vec<_>>().join(","))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `--preset FILE` runs the file's settings; `--config RUN_DIR` reruns a run exactly; `--lr`
/// is the rate the run uses, whatever the batch size.
#[test]
fn cli_presets_from_files_and_saved_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.json");
    std::fs::write(
        &file,
        r#"{"epochs": 1, "train_images": 128, "batch_size": 16, "lr": 0.05}"#,
    )
    .unwrap();
    let first = dir.path().join("first");
    let out = run(&[
        "search",
        "--device",
        "cpu",
        "--preset",
        file.to_str().unwrap(),
        "--out",
        first.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("weights' lr 0.05 (0.8 per 256 images)"),
        "{}",
        text(&out.stdout)
    );
    let saved: SearchConfig = presets::settings(presets::saved(&first).unwrap(), "first").unwrap();
    assert_eq!(
        (saved.epochs, saved.batch_size, saved.sgd.lr),
        (1, 16, 0.05)
    );
    let again = dir.path().join("again");
    let out = run(&[
        "search",
        "--device",
        "cpu",
        "--config",
        first.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(metrics(&first), metrics(&again));
    assert_eq!(
        std::fs::read(first.join("genotype.json")).unwrap(),
        std::fs::read(again.join("genotype.json")).unwrap()
    );
    // an option given with --config overrides it
    let other = dir.path().join("other");
    let out = run(&[
        "search",
        "--device",
        "cpu",
        "--config",
        first.join("config.json").to_str().unwrap(),
        "--lr",
        "0.2",
        "--batch-size",
        "32",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let c: SearchConfig = presets::settings(presets::saved(&other).unwrap(), "other").unwrap();
    assert_eq!((c.peak_lr(), c.batch_size, c.epochs), (0.2, 32, 1));
    let both = run(&[
        "search",
        "--config",
        first.to_str().unwrap(),
        "--preset",
        "paper",
    ]);
    assert!(text(&both.stderr).contains("cannot be used with"));
}
