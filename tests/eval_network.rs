//! Evaluation networks: published parameter counts, shapes, auxiliary head, drop path.

mod common;

use burn::tensor::{Device, Tensor};
use ista_nas::model::complexity::complexity;
use ista_nas::model::drop_path::DropPath;
use ista_nas::model::eval_cell::EvalCell;
use ista_nas::model::eval_network::{EvalConfig, EvalNetwork};
use ista_nas::model::heads::NetKind;
use ista_nas::model::ops::OpStyle;
use ista_nas::model::skeleton::CellShape;
use ista_nas::model::trainable_params;
use ista_nas::search_space::genotype::{Genotype, GenotypeError};

fn config(name: &str, kind: NetKind, extra_norms: bool) -> EvalConfig {
    let (channels, layers, classes) = match kind {
        NetKind::Cifar => (36, 20, 10),
        NetKind::Imagenet => (48, 14, 1000),
    };
    EvalConfig {
        kind,
        genotype: Genotype::builtin(name).unwrap(),
        channels,
        layers,
        classes,
        in_channels: 3,
        auxiliary: true,
        extra_norms,
    }
}

/// Trainable parameters of the built network, auxiliary head excluded.
fn built_params(config: &EvalConfig) -> usize {
    let without_aux = EvalConfig {
        auxiliary: false,
        ..config.clone()
    };
    trainable_params(&EvalNetwork::new(&without_aux, &Device::flex().autodiff()))
}

#[test]
fn published_genotypes_have_the_published_sizes() {
    for (name, kind, extra_norms, expected) in [
        ("DARTS_V2", NetKind::Cifar, false, 3_349_342),
        ("ISTA_NAS", NetKind::Cifar, false, 3_316_726),
        ("ISTA_NAS_ONE_STAGE", NetKind::Cifar, true, 3_371_806),
        ("ISTA_NAS_IMAGENET", NetKind::Imagenet, false, 5_651_392),
    ] {
        let config = config(name, kind, extra_norms);
        assert_eq!(built_params(&config), expected, "{name} (built)");
        assert_eq!(
            complexity(&config, 224).params,
            expected as u64,
            "{name} (counted)"
        );
    }
}

#[test]
fn auxiliary_head_count_matches_the_built_head() {
    for (name, kind) in [
        ("ISTA_NAS", NetKind::Cifar),
        ("ISTA_NAS_IMAGENET", NetKind::Imagenet),
    ] {
        let config = config(name, kind, false);
        let with_aux = trainable_params(&EvalNetwork::new(&config, &Device::flex().autodiff()));
        let counted = complexity(&config, 32);
        assert_eq!(
            with_aux as u64,
            counted.params + counted.aux_params,
            "{name}"
        );
        assert!(counted.aux_params > 0);
    }
}

#[test]
fn paper_input_sizes_fit_and_others_are_explained() {
    let cifar = config("ISTA_NAS", NetKind::Cifar, false);
    let imagenet = config("ISTA_NAS_IMAGENET", NetKind::Imagenet, false);
    assert_eq!(cifar.input_problem(32), None);
    assert_eq!(imagenet.input_problem(224), None);
    assert!(cifar.input_problem(30).unwrap().contains("must halve")); // 30 → 15 before the second reduction
    assert!(
        imagenet
            .input_problem(64)
            .unwrap()
            .contains("auxiliary head")
    );
    let no_aux = EvalConfig {
        auxiliary: false,
        ..imagenet
    };
    assert_eq!(no_aux.input_problem(64), None);
}

#[test]
fn imagenet_multiply_adds_at_224() {
    // Convolutions and classifier, per image, as counted by an independent script; the papers
    // quote 638M (ISTA-NAS) and 574M (DARTS) from counters that also count other layers.
    let counted = complexity(&config("ISTA_NAS_IMAGENET", NetKind::Imagenet, false), 224);
    assert_eq!(counted.multiply_adds, 621_084_480);
    let darts = complexity(&config("DARTS_V2", NetKind::Imagenet, false), 224);
    assert_eq!(darts.multiply_adds, 529_911_552);
}

#[test]
fn forward_shapes_and_auxiliary_logits() {
    let device = Device::flex().autodiff();
    let cifar = EvalConfig {
        channels: 4,
        layers: 3,
        in_channels: 1,
        ..config("ISTA_NAS", NetKind::Cifar, false)
    };
    let net = EvalNetwork::new(&cifar, &device);
    let images = Tensor::<4>::ones([2, 1, 32, 32], &device);
    let (logits, aux) = net.forward_train(images.clone(), &mut DropPath::new(0.2, 1));
    assert_eq!(logits.dims(), [2, 10]);
    assert_eq!(aux.expect("auxiliary head in training").dims(), [2, 10]);
    assert_eq!(net.forward(images).dims(), [2, 10]);
    let imagenet = EvalConfig {
        channels: 8,
        layers: 3,
        classes: 5,
        ..config("ISTA_NAS_IMAGENET", NetKind::Imagenet, false)
    };
    let net = EvalNetwork::new(&imagenet, &device);
    let (logits, aux) = net.forward_train(
        Tensor::ones([2, 3, 224, 224], &device),
        &mut DropPath::new(0.0, 1),
    );
    assert_eq!(logits.dims(), [2, 5]);
    assert_eq!(aux.unwrap().dims(), [2, 5]);
}

#[test]
fn drop_path_keeps_the_expected_fraction_and_rescales() {
    let device = Device::flex();
    let n = 20_000;
    let out = DropPath::new(0.2, 7).apply(Tensor::ones([n, 1, 1, 1], &device));
    let values = common::host(out.reshape([n]));
    let kept: Vec<f32> = values.iter().copied().filter(|v| *v != 0.0).collect();
    let fraction = kept.len() as f64 / n as f64;
    assert!((fraction - 0.8).abs() < 0.01, "kept {fraction}");
    assert!(
        kept.iter().all(|v| (v - 1.25).abs() < 1e-6),
        "kept values are scaled by 1/0.8"
    );
    let mean = values.iter().map(|v| *v as f64).sum::<f64>() / n as f64;
    assert!((mean - 1.0).abs() < 0.015, "expectation is kept: {mean}");
    // A whole sample is kept or dropped together.
    let out = DropPath::new(0.5, 3).apply(Tensor::ones([64, 2, 3, 3], &device));
    for sample in common::host(out).chunks(18) {
        assert!(sample.iter().all(|v| *v == sample[0]));
    }
}

#[test]
fn drop_path_skips_the_bare_identity_but_not_the_one_stage_identity_with_bn() {
    let device = Device::flex().autodiff();
    let skips = |n: usize| {
        (0..n)
            .map(|i| ("skip_connect".to_string(), i % 2))
            .collect::<Vec<_>>()
    };
    let shape = CellShape {
        channels: (6, 6, 6),
        reduction: false,
        reduction_prev: false,
    };
    let s = common::random([4, 6, 8, 8], 5, &device);
    let outputs = |style| {
        let cell = EvalCell::new(&skips(8), &[2, 3, 4, 5], &shape, style, &device);
        let plain = cell.forward(s.clone(), s.clone(), None);
        let dropped = cell.forward(s.clone(), s.clone(), Some(&mut DropPath::new(0.9, 11)));
        (common::host(plain), common::host(dropped))
    };
    let (plain, dropped) = outputs(OpStyle::EVAL);
    assert_eq!(plain, dropped, "DARTS nets: the identity is never dropped");
    let (plain, dropped) = outputs(OpStyle::ONE_STAGE);
    assert_ne!(plain, dropped, "one-stage nets drop the identity with BN");
}

#[test]
fn malformed_genotype_is_a_clear_error() {
    let bad =
        r#"{"normal": [["conv_7x7", 0]], "normal_concat": [2], "reduce": [], "reduce_concat": []}"#;
    assert!(matches!(
        Genotype::from_json(bad, "bad.json"),
        Err(GenotypeError::Invalid(_))
    ));
}
