//! The ImageNet network as the reference builds it: the authors' evaluation_imagenet.py builds
//! DARTS's plain NetworkImageNet for every genotype, so ISTA_NAS_ONE_STAGE's ImageNet network
//! has no one-stage BN (4.78 M parameters, the paper's Table 4) unless asked for, while its
//! CIFAR network keeps it (as evaluation.py --onestage builds it).

mod common;

use common::{run, text};

fn shown(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn genotype_show_counts_the_reference_networks() {
    let plain = shown(&["genotype", "show", "ISTA_NAS_ONE_STAGE"]);
    assert!(
        plain.contains("Imagenet network C=48 L=14, 1000 classes: 4783168 parameters (4.783 M)"),
        "{plain}"
    );
    assert!(
        plain.contains("Cifar network C=36 L=20, 10 classes (one-stage net"),
        "{plain}"
    );
    let variant = shown(&["genotype", "show", "ISTA_NAS_ONE_STAGE", "--one-stage-net"]);
    assert!(
        variant.contains("1000 classes (one-stage net: BN after pool and identity ops): 4791424"),
        "{variant}"
    );
}

fn extra_norms(extra: &[&str]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut options = vec![
        "--genotype",
        "ISTA_NAS_ONE_STAGE",
        "--layers",
        "3",
        "--auxiliary-weight",
        "0",
    ];
    options.extend(extra);
    common::tiny_training(&out, &options);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    config["extra_norms"].as_bool().unwrap()
}

#[test]
fn training_builds_the_reference_network_for_each_protocol() {
    let imagenet = [
        "--preset",
        "imagenet",
        "--warmup-epochs",
        "1",
        "--image-size",
        "64",
    ];
    assert!(!extra_norms(&imagenet), "ImageNet: the plain network");
    let explicit: Vec<&str> = imagenet
        .iter()
        .copied()
        .chain(["--one-stage-net"])
        .collect();
    assert!(extra_norms(&explicit), "ImageNet: the variant on request");
    assert!(extra_norms(&[]), "CIFAR protocol: the one-stage network");
}
