//! `export --torch` and the `.safetensors` beside each model: an evaluation network under the
//! state-dict names and shapes of DARTS's NetworkCIFAR / NetworkImageNet, or for one-stage
//! networks the authors' one-stage NetworkCIFAR. The expected lists in
//! tests/fixtures/darts-network-*.txt were printed by the reference `cnn/model.py`
//! (quark0/darts), ista-one-stage-network-*.txt by `ista_nas_single/search/models/model.py`
//! (iboing/ISTA-NAS), for the same networks (C=4, auxiliary head, the ISTA_NAS genotype, the
//! stem built for 1-channel data).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Device;
use common::state_dicts::{f32s, reference_shapes, shapes};
use common::{run, text};
use ista_nas::storage::model_file::{load_model, safetensors_bytes};
use safetensors::tensor::{Dtype, SafeTensors};

fn trained(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let out = dir.join("run");
    let mut options = vec!["--auxiliary-weight", "0.4"];
    options.extend(extra);
    common::tiny_training(&out, &options);
    out.join("last.model")
}

fn exported(model: &Path) -> Vec<u8> {
    let out = model.with_file_name("torch.safetensors");
    let done = run(&[
        "export",
        model.to_str().unwrap(),
        "--torch",
        out.to_str().unwrap(),
    ]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    std::fs::read(out).unwrap()
}

fn names_and_shapes(bytes: &[u8]) -> BTreeMap<String, Vec<usize>> {
    shapes(&SafeTensors::deserialize(bytes).unwrap())
}

#[test]
fn a_cifar_network_exports_as_darts_network_cifar() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained(dir.path(), &["--layers", "5"]);
    let bytes = exported(&model);
    assert_eq!(
        names_and_shapes(&bytes),
        reference_shapes("darts-network-cifar-c4-l5-aux.txt")
    );
    // the file beside the model is the same state dict
    let beside = std::fs::read(model.with_extension("safetensors")).unwrap();
    assert!(
        beside == bytes,
        "last.safetensors differs from export --torch"
    );
    // the values: γ is BN's weight, the classifier is stored [out, in], the counter is an i64
    let (header, network) = load_model(&model, &Device::flex()).unwrap();
    let ours = safetensors_bytes(&header, &network).unwrap();
    let (ours, torch) = (
        SafeTensors::deserialize(&ours).unwrap(),
        SafeTensors::deserialize(&bytes).unwrap(),
    );
    assert_eq!(
        f32s(&ours, "stem.0.norm.gamma"),
        f32s(&torch, "stem.1.weight")
    );
    assert_eq!(
        f32s(&ours, "stem.0.conv.weight"),
        f32s(&torch, "stem.0.weight")
    );
    let (w, t) = (
        f32s(&ours, "classifier.weight"),
        f32s(&torch, "classifier.weight"),
    );
    let (inputs, classes) = (64, 10);
    for i in 0..inputs {
        for o in 0..classes {
            assert_eq!(w[i * classes + o], t[o * inputs + i]);
        }
    }
    let counter = torch.tensor("stem.1.num_batches_tracked").unwrap();
    assert_eq!((counter.dtype(), counter.shape()), (Dtype::I64, &[][..]));
}

#[test]
fn an_imagenet_network_exports_as_darts_network_imagenet() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained(
        dir.path(),
        &[
            "--preset",
            "imagenet",
            "--layers",
            "3",
            "--warmup-epochs",
            "1",
        ],
    );
    let bytes = exported(&model);
    assert_eq!(
        names_and_shapes(&bytes),
        reference_shapes("darts-network-imagenet-c4-l3-aux.txt")
    );
}

#[test]
fn a_one_stage_network_exports_as_the_authors_one_stage_network() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained(dir.path(), &["--layers", "5", "--one-stage-net"]);
    let bytes = exported(&model);
    // ista_nas_single/search/models/model.py: a BN after pools and the identity
    assert_eq!(
        names_and_shapes(&bytes),
        reference_shapes("ista-one-stage-network-cifar-c4-l5-aux.txt")
    );
}

#[test]
fn bad_export_requests_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_model = dir.path().join("x.model");
    std::fs::write(&not_a_model, b"not a model").unwrap();
    let out = dir.path().join("out.safetensors");
    let (model, out) = (not_a_model.to_str().unwrap(), out.to_str().unwrap());
    common::assert_clean_failure(&run(&["export", model]), "--torch OUT.safetensors");
    common::assert_clean_failure(&run(&["export", model, "--torch", out]), "cannot load");
    assert!(!Path::new(out).exists());
}
