//! A trained model as one file: the network's config (genotype included), the preprocessing
//! it expects, its class names and scores, and Burn's record of its weights (BN statistics
//! included). Also the SafeTensors export that other frameworks read.

use std::path::Path;

use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::data::augment::{Augment, Normalization};
use crate::error::{IstaError, Result};
use crate::model::eval_network::{EvalConfig, EvalNetwork};
use crate::storage::framed::{self, FrameKind};
use crate::storage::records::{check_record, load_module, module_bytes};

const KIND: FrameKind = FrameKind {
    magic: b"ISTAMDL\x01",
    name: "ista-nas model file",
};

/// Test-set scores of a model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Mean cross-entropy (no label smoothing).
    pub loss: f64,
    /// Top-1 accuracy.
    pub top1: f64,
    /// Top-5 accuracy.
    pub top5: f64,
}

/// What a model file says about its network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelHeader {
    /// The network (genotype, C, L, classes, input channels).
    pub network: EvalConfig,
    /// Evaluation preprocessing.
    pub augment: Augment,
    /// Normalisation of the training set.
    pub norm: Normalization,
    /// Class names, index order.
    pub class_names: Vec<String>,
    /// Epochs trained.
    pub epoch: usize,
    /// Scores on the test set when saved.
    pub scores: Scores,
}

/// Writes `model` with `header` atomically to `path`.
pub fn save_model(path: &Path, header: &ModelHeader, model: &EvalNetwork) -> Result<()> {
    let record = module_bytes(model, "model record")?;
    Ok(framed::save(path, KIND, header, &[record])?)
}

/// True when `path` is an ista-nas model file (by its signature).
pub fn is_model_file(path: &Path) -> bool {
    framed::has_signature(path, KIND)
}

/// Reads only the header of a model file (its network, genotype included, and scores).
pub fn read_header(path: &Path) -> Result<ModelHeader> {
    let (header, _): (ModelHeader, [Vec<u8>; 1]) = framed::load_exact(path, KIND)?;
    if let Some(problem) = header.network.problem() {
        return Err(IstaError::Checkpoint(format!(
            "{}: {problem}",
            path.display()
        )));
    }
    Ok(header)
}

/// Checks the bytes of a model file (`path` names it in errors): its frame, a network the
/// header may ask for, and a record that decodes. Returns the header and the record.
pub fn parse_model(bytes: &[u8], path: &Path) -> Result<(ModelHeader, Vec<u8>)> {
    let (header, records): (ModelHeader, Vec<Vec<u8>>) = framed::parse(bytes, path, KIND)?;
    let bad = |why: String| IstaError::Checkpoint(format!("{}: {why}", path.display()));
    let [record]: [Vec<u8>; 1] = records
        .try_into()
        .map_err(|r: Vec<Vec<u8>>| bad(format!("{} records, expected 1", r.len())))?;
    if let Some(problem) = header.network.problem() {
        return Err(bad(problem));
    }
    let channels = header.network.in_channels;
    if !(1..=4096).contains(&header.augment.size)
        || header.norm.mean.len() != channels
        || header.norm.std.len() != channels
    {
        return Err(bad("preprocessing that does not fit the network".into()));
    }
    check_record(&record, "weights").map_err(|e| bad(e.to_string()))?;
    Ok((header, record))
}

/// Reads a model file and builds its network on `device`.
pub fn load_model(path: &Path, device: &Device) -> Result<(ModelHeader, EvalNetwork)> {
    let (header, record) = parse_model(&framed::read(path)?, path)?;
    let model = build_model(&header, record, path, device)?;
    Ok((header, model))
}

/// The network of a parsed model file (`path` names it in errors) with its weights, on `device`.
pub fn build_model(
    header: &ModelHeader,
    record: Vec<u8>,
    path: &Path,
    device: &Device,
) -> Result<EvalNetwork> {
    let model = EvalNetwork::new(&header.network, device);
    load_module(model, record, "weights").map_err(|e| {
        IstaError::Checkpoint(format!(
            "{}: weights do not fit the network (or are corrupt): {e}",
            path.display()
        ))
    })
}

/// Exports the weights (BN statistics included) as SafeTensors, with the header as JSON in
/// the metadata key `ista_nas`.
pub fn export_safetensors(path: &Path, header: &ModelHeader, model: &EvalNetwork) -> Result<()> {
    let bytes = safetensors_bytes(header, model)?;
    framed::write_atomic(path, &bytes).map_err(|source| IstaError::Io {
        path: path.into(),
        source,
    })
}

/// The SafeTensors file [`export_safetensors`] writes, in memory.
pub fn safetensors_bytes(header: &ModelHeader, model: &EvalNetwork) -> Result<Vec<u8>> {
    let json = serde_json::to_string(header).expect("headers always serialise");
    let mut store = SafetensorsStore::from_bytes(None).metadata("ista_nas", json);
    let failed = |e: String| IstaError::Checkpoint(format!("safetensors export: {e}"));
    model
        .save_into(&mut store)
        .map_err(|e| failed(e.to_string()))?;
    canonical_safetensors(store.get_bytes().map_err(|e| failed(e.to_string()))?)
}

/// The same SafeTensors file with its JSON header's keys in sorted order, so that equal models
/// give equal bytes (the writer lists them in hash order). The header keeps its length.
fn canonical_safetensors(mut bytes: Vec<u8>) -> Result<Vec<u8>> {
    let bad = |why: &str| IstaError::Checkpoint(format!("safetensors export: {why}"));
    let len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .ok_or_else(|| bad("no header"))?;
    let header = bytes.get(8..8 + len).ok_or_else(|| bad("short header"))?;
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| bad(&format!("header: {e}")))?;
    let mut sorted = serde_json::to_vec(&value).expect("JSON values serialise");
    if sorted.len() > len {
        return Err(bad("the sorted header is longer than the original"));
    }
    sorted.resize(len, b' ');
    bytes[8..8 + len].copy_from_slice(&sorted);
    Ok(bytes)
}
