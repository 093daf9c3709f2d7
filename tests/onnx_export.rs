//! `export --onnx`: the exported model, run by another ONNX runtime (tract), gives the logits
//! `eval --logits` writes for the same real test images (the embedded Fashion-MNIST subset,
//! prepared as eval prepares them), for CIFAR and ImageNet networks over every op of the
//! search space, a one-stage folded model, symbolic and fixed batch sizes.

mod common;

use std::path::{Path, PathBuf};

use common::{run, text};
use ista_nas::data::embedded;
use ista_nas::data::loader::{BatchPlan, make_batch};
use ista_nas::storage::model_file::read_header;
use tract_onnx::prelude::*;

/// Every op of the search space, at stride 1 in the normal cell and at both strides in the
/// reduction cell (pools, FactorizedReduce, sep and dil convs at stride 2; identity at 1).
const EVERY_OP: &str = r#"{"normal": [["max_pool_3x3", 0], ["avg_pool_3x3", 1], ["skip_connect", 0], ["sep_conv_3x3", 1], ["sep_conv_5x5", 2], ["dil_conv_3x3", 3], ["dil_conv_5x5", 0], ["skip_connect", 4]], "normal_concat": [2, 3, 4, 5], "reduce": [["max_pool_3x3", 0], ["avg_pool_3x3", 1], ["skip_connect", 0], ["sep_conv_5x5", 1], ["dil_conv_3x3", 0], ["skip_connect", 2], ["dil_conv_5x5", 1], ["sep_conv_3x3", 4]], "reduce_concat": [3, 4, 5]}"#;

/// Test images scored.
const IMAGES: usize = 12;

fn trained(dir: &Path, extra: &[&str]) -> PathBuf {
    let out = dir.join("run");
    let mut options = vec!["--auxiliary-weight", "0.4", "--genotype", EVERY_OP];
    options.extend(extra);
    common::tiny_training(&out, &options);
    out.join("last.model")
}

fn export(model: &Path, extra: &[&str]) -> PathBuf {
    let out = model.with_file_name("model.onnx");
    let mut args = vec!["export", model.to_str().unwrap(), "--onnx"];
    args.push(out.to_str().unwrap());
    args.extend(extra);
    let done = run(&args);
    assert!(done.status.success(), "{}", text(&done.stderr));
    out
}

/// `eval --logits` of the first `IMAGES` test images: labels and logits per image.
fn eval_logits(model: &Path) -> Vec<(i64, Vec<f32>)> {
    let csv = model.with_file_name("logits.csv");
    let images = IMAGES.to_string();
    let done = run(&[
        "eval",
        "--device",
        "cpu",
        "--model",
        model.to_str().unwrap(),
        "--images",
        &images,
        "--batch-size",
        "5",
        "--logits",
        csv.to_str().unwrap(),
    ]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let mut rows = csv::Reader::from_path(csv).unwrap();
    let header = rows.headers().unwrap().clone();
    assert_eq!(
        &header.iter().take(3).collect::<Vec<_>>(),
        &["image", "label", "predicted"]
    );
    rows.records()
        .enumerate()
        .map(|(i, row)| {
            let row = row.unwrap();
            assert_eq!(row[0].parse::<usize>().unwrap(), i);
            let logits: Vec<f32> = row.iter().skip(3).map(|v| v.parse().unwrap()).collect();
            (row[1].parse().unwrap(), logits)
        })
        .collect()
}

/// The ONNX model's logits of the same images, prepared as eval prepares them.
fn onnx_logits(model: &Path, onnx: &Path) -> (Vec<i64>, Vec<Vec<f32>>) {
    let header = read_header(model).unwrap();
    let test = embedded().unwrap().test.first(Some(IMAGES));
    let plan = BatchPlan {
        batch_size: IMAGES,
        shuffle: false,
        augment: header.augment.clone(),
        norm: header.norm.clone(),
    };
    let order: Vec<usize> = (0..IMAGES).collect();
    let batch = make_batch(&test, &plan, &order, 0, 0, 0).unwrap();
    let runnable = tract_onnx::onnx()
        .model_for_path(onnx)
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input = Tensor::from_shape(&batch.shape, &batch.images).unwrap();
    let output = runnable.run(tvec!(input.into())).unwrap();
    let logits = output[0].to_plain_array_view::<f32>().unwrap();
    assert_eq!(logits.shape(), &[IMAGES, header.network.classes]);
    let rows = logits.outer_iter().map(|r| r.iter().copied().collect());
    (batch.labels, rows.collect())
}

/// The ONNX model of `model` gives eval's logits within 1e-4 relative.
fn assert_same_logits(model: &Path, onnx: &Path) {
    let eval = eval_logits(model);
    let (labels, logits) = onnx_logits(model, onnx);
    assert_eq!(eval.len(), IMAGES);
    for (i, ((label, expected), got)) in eval.iter().zip(&logits).enumerate() {
        assert_eq!(*label, labels[i], "image {i}: the same image");
        let scale = expected.iter().fold(1f32, |m, v| m.max(v.abs()));
        for (e, g) in expected.iter().zip(got) {
            assert!(
                (e - g).abs() <= 1e-4 * scale,
                "image {i}: eval {expected:?}, onnx {got:?}"
            );
        }
    }
}

#[test]
fn a_cifar_network_over_every_op_runs_in_onnx_as_in_eval() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained(dir.path(), &["--layers", "5"]);
    let onnx = export(&model, &[]);
    assert_same_logits(&model, &onnx);
    // the auxiliary head is left out, and the file says what it holds
    let bytes = std::fs::read(&onnx).unwrap();
    let proto = <onnx_protobuf::ModelProto as protobuf::Message>::parse_from_bytes(&bytes).unwrap();
    assert_eq!(proto.opset_import[0].version, 17);
    let graph = proto.graph.unwrap();
    assert!(
        graph
            .initializer
            .iter()
            .all(|t| !t.name.starts_with("aux."))
    );
    assert!(graph.node.iter().any(|n| n.op_type == "BatchNormalization"));
    let keys: Vec<_> = proto
        .metadata_props
        .iter()
        .map(|p| p.key.as_str())
        .collect();
    assert_eq!(keys, ["ista_nas", "class_names"]);
    let batch = &graph.input[0].type_.tensor_type().shape.dim[0];
    assert_eq!(batch.dim_param(), "batch");
}

#[test]
fn an_imagenet_network_with_a_fixed_batch_runs_in_onnx_as_in_eval() {
    let dir = tempfile::tempdir().unwrap();
    let imagenet = [
        "--preset",
        "imagenet",
        "--layers",
        "3",
        "--warmup-epochs",
        "1",
    ];
    let model = trained(dir.path(), &imagenet);
    let batch = IMAGES.to_string();
    let onnx = export(&model, &["--batch", &batch]);
    assert_same_logits(&model, &onnx);
    let bytes = std::fs::read(&onnx).unwrap();
    let proto = <onnx_protobuf::ModelProto as protobuf::Message>::parse_from_bytes(&bytes).unwrap();
    let batch = &proto.graph.input[0].type_.tensor_type().shape.dim[0];
    assert_eq!(batch.dim_value(), IMAGES as i64);
}

#[test]
fn a_folded_one_stage_model_runs_in_onnx_as_in_eval() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one-stage");
    let one_stage = [
        "--one-stage",
        "--search-epochs",
        "1",
        "--epochs",
        "0",
        "--test-images",
        "16",
    ];
    common::tiny_search(&out, &one_stage);
    let model = out.join("folded.model");
    assert!(read_header(&model).unwrap().network.extra_norms);
    let onnx = export(&model, &[]);
    assert_same_logits(&model, &onnx);
}

#[test]
fn bad_onnx_requests_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained(dir.path(), &["--layers", "3"]);
    let (model, out) = (model.to_str().unwrap(), dir.path().join("m.onnx"));
    let out = out.to_str().unwrap();
    common::assert_clean_failure(
        &run(&["export", model, "--onnx", out, "--batch", "0"]),
        "--batch must be at least 1",
    );
    common::assert_clean_failure(&run(&["export", model, "--batch", "4"]), "--onnx");
    let unwritable = dir.path().join("missing").join("m.onnx");
    common::assert_clean_failure(
        &run(&["export", model, "--onnx", unwritable.to_str().unwrap()]),
        "cannot write",
    );
    assert!(!Path::new(out).exists());
}
