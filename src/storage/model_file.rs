//! A trained model as one file: the network's config (genotype included), the preprocessing
//! it expects, its class names and scores, and Burn's record of its weights (BN statistics
//! included). Also the SafeTensors exports: the reference PyTorch state dict, and this project's
//! module paths (the source of that and of the ONNX export).

use std::collections::HashMap;
use std::path::Path;

use burn::module::Module;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::data::augment::{Augment, Normalization};
use crate::error::{IstaError, Result};
use crate::model::eval_network::{EvalConfig, EvalNetwork};
use crate::storage::framed::{self, FrameKind};
use crate::storage::records::{check_record, load_module, module_bytes};
use crate::storage::torch_names::{Reference, canonical_safetensors, to_torch};

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

/// Which files are model files, for the messages about paths that are not.
const MODEL_FILES: &str = "model files are what `train` writes (best.model, last.model) and \
    what `fold RUN` writes (folded.model); a search's supernet is scored with `eval --search RUN`";

/// Reads and checks a model file (see [`parse_model`]); a folder or a file of another kind is
/// an error that says which files are model files.
pub fn read_model(path: &Path) -> Result<(ModelHeader, Vec<u8>)> {
    let shown = path.display();
    if path.is_dir() {
        return Err(IstaError::NotAModel(format!(
            "{shown} is a folder, not a model file; {MODEL_FILES}"
        )));
    }
    let bytes = framed::read(path)?;
    if !bytes.is_empty() && !framed::is_signed(&bytes, KIND) {
        let kind = match path.extension().and_then(|e| e.to_str()) {
            Some("safetensors") => " (a .safetensors file holds weights for other tools)",
            Some("bin") => " (checkpoint.bin is what `--resume` reads)",
            _ => "",
        };
        return Err(IstaError::NotAModel(format!(
            "{shown} is not a usable ista-nas model file{kind}; {MODEL_FILES}"
        )));
    }
    parse_model(&bytes, path)
}

/// Reads a model file and builds its network on `device`.
pub fn load_model(path: &Path, device: &Device) -> Result<(ModelHeader, EvalNetwork)> {
    let (header, record) = read_model(path)?;
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

/// Exports the weights (BN statistics included) as the reference PyTorch network's state dict
/// (see [`torch_safetensors`]).
pub fn export_safetensors(path: &Path, header: &ModelHeader, model: &EvalNetwork) -> Result<()> {
    let bytes = torch_safetensors(header, &safetensors_bytes(header, model)?)?;
    framed::write_atomic(path, &bytes).map_err(|source| IstaError::Io {
        path: path.into(),
        source,
    })
}

/// The weights (BN statistics included) as a SafeTensors state dict of the reference PyTorch
/// network (DARTS's, or the authors' one-stage one; see `torch_names`), with the header as
/// JSON in the metadata key `ista_nas`; `burn` is the model's [`safetensors_bytes`].
pub fn torch_safetensors(header: &ModelHeader, burn: &[u8]) -> Result<Vec<u8>> {
    let metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (
            "ista_nas".to_string(),
            serde_json::to_string(header).expect("headers serialise"),
        ),
    ]);
    let reference = Reference::Eval(header.network.kind);
    to_torch(burn, reference, Vec::new(), metadata)
}

/// The weights as SafeTensors under this project's module paths (the source of the PyTorch
/// and ONNX exports), with the header as JSON in the metadata key `ista_nas`.
pub fn safetensors_bytes(header: &ModelHeader, model: &EvalNetwork) -> Result<Vec<u8>> {
    let json = serde_json::to_string(header).expect("headers always serialise");
    snapshot(model, Some(json))
}

/// The tensors of any module (BN running statistics included) as SafeTensors under its module
/// paths.
pub fn module_safetensors<M: Module>(module: &M) -> Result<Vec<u8>> {
    snapshot(module, None)
}

fn snapshot<M: Module>(module: &M, header: Option<String>) -> Result<Vec<u8>> {
    let mut store = SafetensorsStore::from_bytes(None);
    if let Some(json) = header {
        store = store.metadata("ista_nas", json);
    }
    let failed = |e: String| IstaError::Checkpoint(format!("safetensors export: {e}"));
    module
        .save_into(&mut store)
        .map_err(|e| failed(e.to_string()))?;
    canonical_safetensors(store.get_bytes().map_err(|e| failed(e.to_string()))?)
}
