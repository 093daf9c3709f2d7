//! A tiny one-stage run on the embedded data: γ/β of candidate ops held at 1/0 until their
//! node freezes and trained after, and a run stopped before or right after the freeze and
//! resumed from its checkpoint ends exactly as the uninterrupted one.

use std::sync::Mutex;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ista_nas::data::{Dataset, embedded};
use ista_nas::model::ops::Op;
use ista_nas::search::one_stage::checkpoint::OneStageCheckpoint;
use ista_nas::search::one_stage::config::OneStageConfig;
use ista_nas::search::one_stage::trainer::{OneStageRecord, OneStageSearch, Phase};
use ista_nas::search_space::primitives::PRIMITIVES;
use ista_nas::step_metrics::StepControl;

fn tiny() -> OneStageConfig {
    let mut config = OneStageConfig {
        test_images: Some(64),
        channels: 4,
        layers: 3,
        search_epochs: 2,
        epochs: 2,
        batch_size: 16,
        auxiliary_weight: 0.4,
        drop_path: 0.2,
        epsilon: 0.0,
        ..OneStageConfig::quick()
    };
    config.data.train_images = Some(64);
    config.data.cutout = Some(8);
    config
}

fn data(config: &OneStageConfig) -> (Dataset, Dataset, Vec<String>) {
    let splits = embedded().unwrap();
    (
        splits.train.first(config.data.train_images),
        splits.test.first(config.test_images),
        splits.class_names,
    )
}

fn start(config: OneStageConfig) -> OneStageSearch {
    let (train, test, names) = data(&config);
    OneStageSearch::new(config, train, test, names, &Device::flex()).unwrap()
}

/// The runs of one process share the device's random generator (weights are drawn from it
/// when first used), so the tests that compare runs take turns.
static TURN: Mutex<()> = Mutex::new(());

/// γ and β of the identity-with-BN ops of the normal cells, by coefficient of each node.
fn identity_affine(run: &OneStageSearch) -> Vec<(usize, usize, Vec<f32>)> {
    let mut values = Vec::new();
    for cell in run.net.model.cells.iter().filter(|c| !c.reduction) {
        for (node, edges) in cell.edges.iter().enumerate() {
            for (input, ops) in edges.iter().enumerate() {
                if let Op::IdentityNorm(norm) = &ops[2] {
                    let mut v: Vec<f32> = norm
                        .gamma
                        .as_ref()
                        .unwrap()
                        .val()
                        .into_data()
                        .iter::<f32>()
                        .collect();
                    v.extend(norm.beta.as_ref().unwrap().val().into_data().iter::<f32>());
                    values.push((node, input * PRIMITIVES.len() + 2, v));
                }
            }
        }
    }
    values
}

/// The normal cell's supports of a metrics `supports` string.
fn normal_supports(supports: &str) -> Vec<Vec<usize>> {
    let normal = supports.split('|').next().unwrap();
    normal
        .split(';')
        .map(|node| node.split(' ').map(|k| k.parse().unwrap()).collect())
        .collect()
}

/// Eval-mode logits of the supernet and of its folded network on fixed inputs, bit for bit.
fn logits(run: &OneStageSearch) -> (Vec<f32>, Vec<f32>) {
    let device = Device::flex();
    let values: Vec<f32> = (0..2 * 32 * 32)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(values, [2, 1, 32, 32]), &device);
    let (normal, reduce) = run.net.plain_weights();
    let supernet = run
        .net
        .model
        .valid()
        .forward(x.clone(), &normal, &reduce, &mut 0)
        .unwrap();
    let (_, folded) = run.net.folded().unwrap();
    let host = |t: Tensor<2>| t.into_data().iter::<f32>().collect();
    (host(supernet), host(folded.forward(x)))
}

fn outcome(r: &OneStageRecord) -> String {
    format!(
        "{} {:?} {:.9} {:.9} {:.9} {:.9} {} {:?} {:?} {}",
        r.epoch,
        r.phase,
        r.train_loss,
        r.train_acc,
        r.test.loss,
        r.test.top1,
        r.supports,
        r.frozen_at,
        r.decision.as_ref().map(|d| (&d.delta, d.accepted)),
        r.genotype.to_json()
    )
}

#[test]
fn affine_params_train_only_after_their_node_freezes() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut run = start(tiny());
    let initial = identity_affine(&run);
    assert!(!initial.is_empty());
    for (_, _, v) in &initial {
        let c = v.len() / 2;
        assert!(v[..c].iter().all(|&g| g == 1.0) && v[c..].iter().all(|&b| b == 0.0));
    }
    let first = run
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    assert_eq!(first.phase, Phase::Search);
    assert!(
        first.frozen_at.iter().all(Option::is_none),
        "ε = 0: nothing converges"
    );
    assert_eq!(
        identity_affine(&run),
        initial,
        "γ/β held at 1/0 while searching"
    );
    let second = run
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    assert!(
        second.forced.iter().all(|&f| f),
        "out of search epochs: all forced"
    );
    let third = run
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    assert_eq!(third.phase, Phase::Train);
    assert!(third.lr == tiny().sgd.lr && third.drop_path == 0.0);
    // Once frozen, the γ/β of the ops in the support train; the others get no gradient.
    let supports = normal_supports(&third.supports);
    let mut trained = 0;
    for ((node, k, before), (_, _, after)) in initial.iter().zip(identity_affine(&run)) {
        if supports[*node].contains(k) {
            assert_ne!(*before, after, "node {node}, coefficient {k} is active");
            trained += 1;
        } else {
            assert_eq!(*before, after, "node {node}, coefficient {k} is inactive");
        }
    }
    eprintln!("{trained} identity ops with BN trained");
    let fourth = run
        .run_epoch(&mut |_| StepControl::Continue(()))
        .unwrap()
        .into_record();
    assert!(fourth.drop_path > 0.0 && fourth.lr < third.lr);
    assert!(run.finished());
    for r in [&first, &second, &third, &fourth] {
        assert!(r.train_loss.is_finite() && r.test.loss.is_finite(), "{r:?}");
    }
}

#[test]
fn resume_across_a_freeze_equals_an_uninterrupted_run() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut whole = start(tiny());
    let mut history = Vec::new();
    while !whole.finished() {
        history.push(
            whole
                .run_epoch(&mut |_| StepControl::Continue(()))
                .unwrap()
                .into_record(),
        );
    }
    assert_eq!(history.len(), 4);
    let freeze_epoch = history
        .iter()
        .position(|r| r.frozen_at.iter().any(Option::is_some));
    assert_eq!(freeze_epoch, Some(1), "the nodes freeze after epoch 2");
    let final_logits = logits(&whole);

    // Stop after epoch 1 (before the freeze) and after epoch 2 (right after it).
    for stop in [1, 2] {
        let mut first = start(tiny());
        let mut done = Vec::new();
        for _ in 0..stop {
            done.push(
                first
                    .run_epoch(&mut |_| StepControl::Continue(()))
                    .unwrap()
                    .into_record(),
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.bin");
        first.checkpoint(&done).unwrap().save(&path).unwrap();
        drop(first);
        let checkpoint = OneStageCheckpoint::load(&path).unwrap();
        assert_eq!(checkpoint.header.history.len(), stop);
        let (train, test, _) = data(&checkpoint.header.config);
        let mut resumed = OneStageSearch::resume(checkpoint, train, test, &Device::flex()).unwrap();
        while !resumed.finished() {
            done.push(
                resumed
                    .run_epoch(&mut |_| StepControl::Continue(()))
                    .unwrap()
                    .into_record(),
            );
        }
        let a: Vec<String> = history.iter().map(outcome).collect();
        let b: Vec<String> = done.iter().map(outcome).collect();
        assert_eq!(a, b, "stopped after epoch {stop}");
        assert!(
            logits(&resumed) == final_logits,
            "final weights and BN statistics after resuming at {stop}"
        );
    }
}

#[test]
fn a_checkpoint_with_malformed_node_states_is_refused() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let run = start(tiny());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.bin");
    let good = run.checkpoint(&[]).unwrap();
    good.save(&path).unwrap();
    assert_eq!(OneStageCheckpoint::load(&path).unwrap(), good);
    for (damage, expected) in [
        (0, "node 2: z of 27 values (expected 28 finite ones)"),
        (1, "node 5: z of 21 values (expected 21 finite ones)"),
        (2, "7 node states, expected 8"),
    ] {
        let mut bad = good.clone();
        match damage {
            0 => {
                bad.header.nodes[2].z.pop();
            }
            1 => bad.header.nodes[5].z[3] = f64::NAN,
            _ => {
                bad.header.nodes.pop();
            }
        }
        bad.save(&path).unwrap();
        let error = OneStageCheckpoint::load(&path).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
}
