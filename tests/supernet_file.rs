//! `supernet.safetensors` of every search method: its network tensors carry the names and
//! shapes the reference search networks give them (tests/fixtures/*-search-*.txt, printed by the
//! authors' two-stage and one-stage `NetWork` and by DARTS's `Network` for C=4, L=3, a 1-channel
//! stem), and every tensor equals the supernet the run's checkpoint restores; the ISTA-NAS
//! sparse-coding state is checked against the formulas (A_S, top-s support, bias = E_Sᵀz_S).

mod common;

use std::path::Path;

use burn::tensor::Device;
use common::state_dicts::{f32s, i64s, reference_shapes, shapes};
use common::tiny_search;
use ista_nas::data::embedded;
use ista_nas::search::checkpoint::Checkpoint;
use ista_nas::search::darts_supernet::DartsSupernet;
use ista_nas::search::ista_supernet::IstaSupernet;
use ista_nas::search::one_stage::checkpoint::OneStageCheckpoint;
use ista_nas::search::trainer::Searcher;
use ista_nas::sparse::support::top_s;
use ista_nas::storage::model_file::module_safetensors;
use ista_nas::storage::torch_names::{Reference, torch_name};
use safetensors::tensor::SafeTensors;

/// The file's network tensors (those the reference network has) are exactly `expected`.
fn assert_network_names(file: &SafeTensors, expected: &str, extra: &[&str]) {
    let mut names = shapes(file);
    names.retain(|n, _| !extra.iter().any(|e| n.starts_with(e)));
    assert_eq!(names, reference_shapes(expected));
}

/// Every tensor of `network` (a module) is in the file, renamed after `reference`, with its
/// values (the classifiers transposed to `[out, in]`).
fn assert_network_values<M: burn::module::Module>(
    file: &SafeTensors,
    network: &M,
    reference: Reference,
) {
    let ours = module_safetensors(network).unwrap();
    let ours = SafeTensors::deserialize(&ours).unwrap();
    for (name, view) in ours.tensors() {
        let torch = torch_name(&name, reference).unwrap();
        let values = f32s(&ours, &name);
        let got = f32s(file, &torch);
        match view.shape() {
            &[rows, cols] if name.ends_with("classifier.weight") => {
                for (i, v) in values.iter().enumerate() {
                    assert_eq!(*v, got[(i % cols) * rows + i / cols], "{name}");
                }
            }
            _ => assert_eq!(values, got, "{name} as {torch}"),
        }
    }
}

/// A_S, the support and the bias of every node, against A and z in the file.
fn assert_sparse_coding(file: &SafeTensors, nodes: usize) {
    for cell in ["normal", "reduce"] {
        let bias = f32s(file, &format!("{cell}_bias"));
        let mut offset = 0;
        for i in 0..nodes {
            let a = f32s(file, &format!("base_A_{cell}s.{i}"));
            let a_s = f32s(file, &format!("A_{cell}s.{i}"));
            let z: Vec<f64> = f32s(file, &format!("z_{cell}s.{i}"))
                .iter()
                .map(|&v| v as f64)
                .collect();
            let support = i64s(file, &format!("support_{cell}s.{i}"));
            let n = z.len();
            assert_eq!(n, 7 * (i + 2));
            let top: Vec<i64> = top_s(&z, 2).iter().map(|&k| k as i64).collect();
            assert_eq!(support, top, "{cell} node {i}: the two largest |z|");
            let on = |k: usize| support.contains(&(k as i64));
            for (idx, (&full, &masked)) in a.iter().zip(&a_s).enumerate() {
                assert_eq!(masked, if on(idx % n) { full } else { 0.0 });
            }
            // bias = E_Sᵀ z_S, E = AᵀA − I with the columns off S zeroed
            let m = a.len() / n;
            for j in 0..n {
                let mut want = 0.0f64;
                for k in (0..n).filter(|&k| on(k)) {
                    if !on(j) {
                        continue;
                    }
                    let gram: f64 = (0..m)
                        .map(|r| a[r * n + k] as f64 * a[r * n + j] as f64)
                        .sum();
                    want += (gram - if j == k { 1.0 } else { 0.0 }) * z[k];
                }
                let got = bias[offset + j] as f64;
                assert!(
                    (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "{cell} node {i} bias {j}"
                );
            }
            offset += n;
        }
    }
}

fn restored(out: &Path) -> Searcher {
    let checkpoint = Checkpoint::load(&out.join("checkpoint.bin")).unwrap();
    let data = embedded().unwrap();
    let (train, val) = data.train.first(Some(64)).split_half();
    Searcher::resume(checkpoint, train, val, 10, &Device::flex().autodiff()).unwrap()
}

fn read(out: &Path) -> Vec<u8> {
    std::fs::read(out.join("supernet.safetensors")).unwrap()
}

#[test]
fn a_two_stage_search_writes_the_authors_supernet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ista");
    tiny_search(&out, &["--epochs", "2"]);
    let bytes = read(&out);
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let extra = [
        "base_A_",
        "A_",
        "z_",
        "support_",
        "normal_bias",
        "reduce_bias",
    ];
    assert_network_names(&file, "ista-search-c4-l3.txt", &extra);
    assert_sparse_coding(&file, 4);
    let search = restored(&out);
    let net: &IstaSupernet = search.net.as_any().downcast_ref().unwrap();
    assert_network_values(&file, &net.model, Reference::IstaSearch);
    let b = net.arch.to_host();
    let rows = |name| {
        f32s(&file, name)
            .chunks(7)
            .map(|r| r.to_vec())
            .collect::<Vec<_>>()
    };
    let (normal, reduce) = (rows("alphas_normal_"), rows("alphas_reduce_"));
    for (i, row) in normal.iter().chain(&reduce).enumerate() {
        assert_eq!(row, &b[i].iter().map(|&v| v as f32).collect::<Vec<_>>());
    }
    for (i, (node, _)) in net.supports.normal.iter().enumerate() {
        let z: Vec<f32> = node.z.iter().map(|&v| v as f32).collect();
        assert_eq!(f32s(&file, &format!("z_normals.{i}")), z);
    }
    let meta = SafeTensors::read_metadata(&bytes)
        .unwrap()
        .1
        .metadata()
        .clone()
        .unwrap();
    assert_eq!(meta["epoch"], "2");
    assert_eq!(meta["method"], "ista");
    assert_eq!((meta["C"].as_str(), meta["layers"].as_str()), ("4", "3"));
    let genotype = std::fs::read_to_string(out.join("genotype.json")).unwrap();
    let genotype: serde_json::Value = serde_json::from_str(&genotype).unwrap();
    let in_file: serde_json::Value = serde_json::from_str(&meta["genotype"]).unwrap();
    assert_eq!(in_file, genotype["final"]);
}

#[test]
fn darts_and_pc_darts_write_the_darts_supernet() {
    let dir = tempfile::tempdir().unwrap();
    for (method, betas) in [("darts", false), ("pc-darts", true)] {
        let out = dir.path().join(method);
        let k = ["--partial-channels", "2"];
        let extra = if betas { &k[..] } else { &[] };
        tiny_search(
            &out,
            &[&["--method", method, "--epochs", "1"], extra].concat(),
        );
        let bytes = read(&out);
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let search = restored(&out);
        let net: &DartsSupernet = search.net.as_any().downcast_ref().unwrap();
        assert_network_values(&file, &net.model, Reference::DartsSearch);
        let host = |p: &burn::module::Param<burn::tensor::Tensor<2>>| -> Vec<f32> {
            p.val().into_data().iter::<f32>().collect()
        };
        assert_eq!(f32s(&file, "alphas_normal"), host(&net.alphas.normal));
        assert_eq!(f32s(&file, "alphas_reduce"), host(&net.alphas.reduce));
        assert_eq!(shapes(&file)["alphas_normal"], [14, 8]);
        assert_eq!(file.tensor("betas_normal").is_ok(), betas, "{method}");
        if !betas {
            assert_network_names(&file, "darts-search-c4-l3.txt", &["alphas_"]);
        } else {
            assert_eq!(shapes(&file)["betas_reduce"], [14]);
        }
    }
}

#[test]
fn a_one_stage_search_writes_the_authors_one_stage_supernet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one-stage");
    tiny_search(
        &out,
        &[
            "--one-stage",
            "--search-epochs",
            "2",
            "--epochs",
            "1",
            "--test-images",
            "16",
            "--auxiliary-weight",
            "0.4",
        ],
    );
    let bytes = read(&out);
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let extra = [
        "alphas_",
        "base_A_",
        "A_",
        "z_",
        "support_",
        "normal_bias",
        "reduce_bias",
        "frozen_",
    ];
    assert_network_names(&file, "ista-one-stage-search-c4-l3-aux.txt", &extra);
    assert_sparse_coding(&file, 4);
    let checkpoint = OneStageCheckpoint::load(&out.join("checkpoint.bin")).unwrap();
    let net = checkpoint.supernet(&Device::flex().autodiff()).unwrap();
    assert_network_values(&file, &net.model, Reference::IstaSearch);
    let nodes = &checkpoint.header.nodes;
    for (i, node) in nodes.iter().enumerate() {
        let (cell, k) = if i < 4 {
            ("normal", i)
        } else {
            ("reduce", i - 4)
        };
        let z: Vec<f32> = node.z.iter().map(|&v| v as f32).collect();
        assert_eq!(f32s(&file, &format!("z_{cell}s.{k}")), z);
        let b: Vec<f32> = net.arch.to_host()[i].iter().map(|&v| v as f32).collect();
        assert_eq!(f32s(&file, &format!("alphas_{cell}_.{k}")), b);
        let frozen = i64s(&file, &format!("frozen_{cell}s"))[k];
        assert_eq!(frozen, node.frozen_at.map_or(-1, |e| e as i64));
    }
}
