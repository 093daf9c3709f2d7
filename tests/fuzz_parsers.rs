//! Property tests of every parser that reads files a user hands over: IDX, CIFAR-10 binary,
//! the framed files (search, one-stage and training checkpoints, model files), genotype JSON
//! and settings JSON. Random and mutated-valid inputs never panic: they parse or give a typed
//! error. `cargo test` runs a modest number of cases; `scripts/fuzz.sh` runs a million per
//! parser (PROPTEST_CASES).

use std::path::Path;
use std::sync::OnceLock;

use burn::tensor::Device;
use ista_nas::data::augment::{Augment, Normalization};
use ista_nas::data::{cifar, idx};
use ista_nas::model::eval_network::{EvalConfig, EvalNetwork};
use ista_nas::model::heads::NetKind;
use ista_nas::search::checkpoint::{Checkpoint, CheckpointHeader};
use ista_nas::search::config::SearchConfig;
use ista_nas::search::one_stage::checkpoint::{OneStageCheckpoint, OneStageHeader};
use ista_nas::search::one_stage::config::OneStageConfig;
use ista_nas::search::one_stage::freezing::NodeState;
use ista_nas::search::trainer::ValCursor;
use ista_nas::search_space::genotype::Genotype;
use ista_nas::storage::model_file::{ModelHeader, Scores, parse_model, save_model};
use ista_nas::storage::records::check_record;
use ista_nas::train::checkpoint::{TrainCheckpoint, TrainCheckpointHeader};
use ista_nas::train::config::TrainConfig;
use proptest::prelude::*;

/// Mutations of a valid input: bytes overwritten, a cut, bytes inserted.
#[derive(Clone, Debug)]
struct Mutation {
    writes: Vec<(usize, u8)>,
    cut: Option<usize>,
    insert: Option<(usize, Vec<u8>)>,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        prop::option::of(any::<usize>()),
        prop::option::of((any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))),
    )
        .prop_map(|(writes, cut, insert)| Mutation {
            writes,
            cut,
            insert,
        })
}

fn mutate(valid: &[u8], m: &Mutation) -> Vec<u8> {
    let mut bytes = valid.to_vec();
    if bytes.is_empty() {
        return bytes;
    }
    for &(at, value) in &m.writes {
        let len = bytes.len();
        bytes[at % len] = value;
    }
    if let Some((at, insert)) = &m.insert {
        let at = at % (bytes.len() + 1);
        bytes.splice(at..at, insert.iter().copied());
    }
    if let Some(cut) = m.cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    bytes
}

/// Mutations that keep text mostly text: the same, with ASCII digits and JSON punctuation
/// more likely to be written.
fn text_mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"0123456789-.eE,:[]{}\"nul ".to_vec())
    ];
    (
        prop::collection::vec((any::<usize>(), byte), 0..4),
        prop::option::of(any::<usize>()),
        prop::option::of((any::<usize>(), prop::collection::vec(any::<u8>(), 1..4))),
    )
        .prop_map(|(writes, cut, insert)| Mutation {
            writes,
            cut,
            insert,
        })
}

fn idx_file() -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3];
    bytes.extend((0..18).map(|i| i as u8));
    bytes
}

fn genotype() -> Genotype {
    Genotype::builtin("ISTA_NAS").unwrap()
}

/// A valid model file and valid checkpoints of all three kinds, as bytes.
struct Valid {
    model: Vec<u8>,
    search: Vec<u8>,
    one_stage: Vec<u8>,
    train: Vec<u8>,
}

fn valid() -> &'static Valid {
    static VALID: OnceLock<Valid> = OnceLock::new();
    VALID.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let network = EvalConfig {
            kind: NetKind::Cifar,
            genotype: genotype(),
            channels: 2,
            layers: 3,
            classes: 3,
            in_channels: 1,
            auxiliary: false,
            extra_norms: false,
        };
        let header = ModelHeader {
            network: network.clone(),
            augment: Augment::plain(32),
            norm: Normalization {
                mean: vec![0.5],
                std: vec![0.25],
            },
            class_names: vec!["a".into(), "b".into(), "c".into()],
            epoch: 1,
            scores: Scores::default(),
        };
        let path = dir.path().join("m.model");
        let model = EvalNetwork::new(&network, &Device::flex());
        save_model(&path, &header, &model).unwrap();
        let model_bytes = std::fs::read(&path).unwrap();
        let record = ista_nas::storage::records::module_bytes(&model, "m").unwrap();
        let records = || [record.clone(), record.clone(), vec![1, 2, 3], vec![4, 5]];
        let search = Checkpoint {
            header: CheckpointHeader {
                config: SearchConfig::quick(),
                epochs_done: 1,
                val_cursor: ValCursor::default(),
                position: None,
                epoch_state: None,
                history: vec![],
            },
            records: records(),
        };
        let path = dir.path().join("s.bin");
        search.save(&path).unwrap();
        let search = std::fs::read(&path).unwrap();
        let one_stage = OneStageCheckpoint {
            header: OneStageHeader {
                config: OneStageConfig::quick(),
                network: ista_nas::model::skeleton::NetworkConfig::paper(10, 1),
                class_names: vec!["a".into(), "b".into()],
                augment: Augment::plain(32),
                norm: Normalization {
                    mean: vec![0.5],
                    std: vec![0.25],
                },
                epochs_done: 2,
                search_epochs_done: 2,
                position: None,
                nodes: (0..8)
                    .map(|i| NodeState::new(vec![0.25; 7 * (i % 4 + 2)]))
                    .collect(),
                history: vec![],
            },
            records: records(),
        };
        let path = dir.path().join("o.bin");
        one_stage.save(&path).unwrap();
        let one_stage = std::fs::read(&path).unwrap();
        let train = TrainCheckpoint {
            header: TrainCheckpointHeader {
                config: TrainConfig::quick(genotype()),
                class_names: vec!["a".into(), "b".into()],
                epochs_done: 1,
                position: None,
                history: vec![],
            },
            records: [record.clone(), vec![7, 8]],
        };
        let path = dir.path().join("t.bin");
        train.save(&path).unwrap();
        let train = std::fs::read(&path).unwrap();
        Valid {
            model: model_bytes,
            search,
            one_stage,
            train,
        }
    })
}

const PATH: &str = "fuzzed";

proptest! {
    #[test]
    fn idx_never_panics(random in prop::collection::vec(any::<u8>(), 0..64), m in mutation()) {
        let _ = idx::parse(&random, Path::new(PATH));
        let _ = idx::parse(&mutate(&idx_file(), &m), Path::new(PATH));
    }

    #[test]
    fn cifar_never_panics(random in prop::collection::vec(any::<u8>(), 0..4000), m in mutation()) {
        let _ = cifar::parse(&random, Path::new(PATH));
        let valid: Vec<u8> = (0..2 * 3073).map(|i| (i % 11) as u8).collect();
        let _ = cifar::parse(&mutate(&valid, &m), Path::new(PATH));
    }

    #[test]
    fn model_files_never_panic(random in prop::collection::vec(any::<u8>(), 0..128), m in mutation()) {
        let path = Path::new(PATH);
        let _ = parse_model(&random, path);
        let _ = parse_model(&mutate(&valid().model, &m), path);
    }

    #[test]
    fn checkpoints_never_panic(m in mutation(), t in text_mutation()) {
        let path = Path::new(PATH);
        let v = valid();
        for bytes in [mutate(&v.search, &m), mutate(&v.search, &t)] {
            if let Ok(c) = Checkpoint::parse(&bytes, path) {
                let _ = c.header.config.problem();
                for record in &c.records[..2] {
                    let _ = check_record(record, "model");
                }
            }
        }
        for bytes in [mutate(&v.one_stage, &m), mutate(&v.one_stage, &t)] {
            if let Ok(c) = OneStageCheckpoint::parse(&bytes, path) {
                let _ = c.header.config.problem();
                let _ = check_record(&c.records[0], "model");
            }
        }
        for bytes in [mutate(&v.train, &m), mutate(&v.train, &t)] {
            if let Ok(c) = TrainCheckpoint::parse(&bytes, path) {
                let _ = check_record(&c.records[0], "model");
            }
        }
    }

    #[test]
    fn genotype_json_never_panics(random in ".{0,64}", t in text_mutation()) {
        if let Ok(g) = Genotype::from_json(&random, PATH) {
            let _ = g.supports(false);
        }
        let text = genotype().to_json();
        let mutated = String::from_utf8_lossy(&mutate(text.as_bytes(), &t)).into_owned();
        if let Ok(g) = Genotype::from_json(&mutated, PATH) {
            // Whatever parses obeys the rule: two picks per node, readable inputs.
            prop_assert!(g.validate().is_ok());
            prop_assert_eq!(g.supports(true).len(), 4);
        }
    }

    #[test]
    fn settings_json_never_panic(t in text_mutation()) {
        let search = serde_json::to_string(&SearchConfig::quick()).unwrap();
        let one_stage = serde_json::to_string(&OneStageConfig::quick()).unwrap();
        let train = serde_json::to_string(&TrainConfig::quick(genotype())).unwrap();
        let m = |s: &str| String::from_utf8_lossy(&mutate(s.as_bytes(), &t)).into_owned();
        if let Ok(c) = serde_json::from_str::<SearchConfig>(&m(&search)) {
            let _ = c.problem();
            let _ = c.lr_at(3);
        }
        if let Ok(c) = serde_json::from_str::<OneStageConfig>(&m(&one_stage)) {
            let _ = c.problem();
            let _ = (c.lr_at(3), c.drop_path_at(3));
        }
        if let Ok(c) = serde_json::from_str::<TrainConfig>(&m(&train)) {
            let _ = (c.lr_at(3), c.drop_path_at(3), c.network(10, 1).problem());
        }
    }
}
