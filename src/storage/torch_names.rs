//! Networks under the names and layouts of the reference PyTorch code (see [`Reference`]): the
//! state dict of DARTS's `NetworkCIFAR` / `NetworkImageNet` (quark0/darts `cnn/model.py`) or
//! the authors' one-stage network for evaluation networks, so that
//! `model.load_state_dict(safetensors.torch.load_file(path), strict=True)` loads it (for
//! 1-channel data, build the reference's stem with 1 input channel); the authors' and DARTS's
//! search networks for supernets. BatchNorm's γ, β become
//! `weight`, `bias` and get the `num_batches_tracked` buffer PyTorch keeps; the classifiers'
//! weights are stored `[out, in]`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{IstaError, Result};
use crate::model::heads::NetKind;
use crate::model::mixed_cell::first_edge;

/// The reference network a set of this project's tensors is named after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    /// An evaluation network: DARTS's `NetworkCIFAR` / `NetworkImageNet` (`cnn/model.py`), or
    /// with one-stage BNs the authors' (`ista_nas_single/search/models/model.py`).
    Eval(NetKind),
    /// An ISTA-NAS supernet: the authors' `NetWork` (`ista_nas/search/models/model_search.py`;
    /// one-stage: `ista_nas_single/search/models/model_search.py`).
    IstaSearch,
    /// A DARTS / PC-DARTS supernet: DARTS's `Network` (`cnn/model_search.py`), whose edges
    /// list `none` first.
    DartsSearch,
}

impl Reference {
    fn kind(self) -> NetKind {
        match self {
            Reference::Eval(kind) => kind,
            _ => NetKind::Cifar,
        }
    }
}

/// The reference name of the part `rest` of an op (relative to the op).
fn op_part(rest: &[&str]) -> Option<&'static str> {
    Some(match rest {
        // pools and the one-stage identity are `Sequential(op, BatchNorm2d)`
        ["MaxPool", "norm"] | ["AvgPool", "norm"] | ["IdentityNorm"] => "1",
        ["Sep", "first", "depthwise"] | ["Dil", "depthwise"] => "op.1",
        ["Sep", "first", "pointwise"] | ["Dil", "pointwise"] => "op.2",
        ["Sep", "first", "norm"] | ["Dil", "norm"] => "op.3",
        ["Sep", "second", "depthwise"] => "op.5",
        ["Sep", "second", "pointwise"] => "op.6",
        ["Sep", "second", "norm"] => "op.7",
        ["Reduce", "conv_a"] => "conv_1",
        ["Reduce", "conv_b"] => "conv_2",
        ["Reduce", "norm"] => "bn",
        _ => return None,
    })
}

/// The reference module path of one of this project's module paths.
fn module(path: &str, reference: Reference) -> Option<String> {
    let parts: Vec<&str> = path.split('.').collect();
    let kind = reference.kind();
    let stem = |cifar: &str, imagenet: &str| match kind {
        NetKind::Cifar => cifar.to_string(),
        NetKind::Imagenet => imagenet.to_string(),
    };
    let number = |s: &str| s.parse::<usize>().ok();
    Some(match (reference, parts.as_slice()) {
        (_, ["stem", "0", "conv"]) => stem("stem.0", "stem0.0"),
        (_, ["stem", "0", "norm"]) => stem("stem.1", "stem0.1"),
        (_, ["stem", "1", "conv"]) if kind == NetKind::Imagenet => "stem0.3".into(),
        (_, ["stem", "1", "norm"]) if kind == NetKind::Imagenet => "stem0.4".into(),
        (_, ["stem1", "conv"]) if kind == NetKind::Imagenet => "stem1.1".into(),
        (_, ["stem1", "norm"]) if kind == NetKind::Imagenet => "stem1.2".into(),
        (_, ["cells", i, pre @ ("preprocess0" | "preprocess1"), rest @ ..]) => {
            let part = match rest {
                ["Conv", "conv"] | ["conv"] => "op.1",
                ["Conv", "norm"] | ["norm"] => "op.2",
                other => op_part(other)?,
            };
            format!("cells.{i}.{pre}.{part}")
        }
        (Reference::Eval(_), ["cells", i, "ops", j, rest @ ..]) => {
            format!("cells.{i}._ops.{j}.{}", op_part(rest)?)
        }
        (Reference::IstaSearch, ["cells", i, "edges", node, input, k, rest @ ..]) => {
            let edge = first_edge(number(node)?) + number(input)?;
            format!("cells.{i}._ops.{edge}._ops.{k}.{}", op_part(rest)?)
        }
        (Reference::DartsSearch, ["cells", i, "edges", edge, "ops", k, rest @ ..]) => {
            let k = number(k)? + 1; // DARTS lists `none` first
            format!("cells.{i}._ops.{edge}._ops.{k}.{}", op_part(rest)?)
        }
        (_, ["aux", "conv1"]) => "auxiliary_head.features.2".into(),
        (_, ["aux", "norm1"]) => "auxiliary_head.features.3".into(),
        (_, ["aux", "conv2"]) => "auxiliary_head.features.5".into(),
        (_, ["aux", "norm2"]) if kind == NetKind::Cifar => "auxiliary_head.features.6".into(),
        (_, ["aux", "classifier"]) => "auxiliary_head.classifier".into(),
        (_, ["classifier"]) => "classifier".into(),
        _ => return None,
    })
}

/// The reference name of tensor `name` (`module.leaf`) of a network named after `reference`.
pub fn torch_name(name: &str, reference: Reference) -> Option<String> {
    let (path, leaf) = name.rsplit_once('.')?;
    let leaf = match leaf {
        "gamma" => "weight",
        "beta" => "bias",
        other => other,
    };
    Some(format!("{}.{leaf}", module(path, reference)?))
}

/// `data`, a row-major f32 `[rows, cols]` matrix, as `[cols, rows]`.
fn transposed(data: &[u8], rows: usize, cols: usize) -> Vec<u8> {
    let mut out = vec![0u8; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            let (from, to) = (4 * (r * cols + c), 4 * (c * rows + r));
            out[to..to + 4].copy_from_slice(&data[from..from + 4]);
        }
    }
    out
}

/// One tensor to write: dtype, shape and bytes (borrowed, or made for the new layout).
pub type Entry<'a> = (Dtype, Vec<usize>, Cow<'a, [u8]>);

/// An f32 tensor to write.
pub fn f32_entry(shape: Vec<usize>, values: impl IntoIterator<Item = f32>) -> Entry<'static> {
    let bytes = values.into_iter().flat_map(f32::to_le_bytes).collect();
    (Dtype::F32, shape, Cow::Owned(bytes))
}

/// An i64 tensor to write.
pub fn i64_entry(shape: Vec<usize>, values: impl IntoIterator<Item = i64>) -> Entry<'static> {
    let bytes = values.into_iter().flat_map(i64::to_le_bytes).collect();
    (Dtype::I64, shape, Cow::Owned(bytes))
}

/// The SafeTensors file `burn` (this project's export of a network) under the state-dict
/// names and layouts of `reference`, with `extra` tensors added and `metadata`.
pub fn to_torch(
    burn: &[u8],
    reference: Reference,
    extra: Vec<(String, Entry)>,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let bad = |why: String| IstaError::Checkpoint(format!("PyTorch export: {why}"));
    let file = SafeTensors::deserialize(burn).map_err(|e| bad(e.to_string()))?;
    let mut tensors: BTreeMap<String, Entry> = extra.into_iter().collect();
    for (name, view) in file.tensors() {
        let torch = torch_name(&name, reference).ok_or_else(|| {
            bad(format!(
                "{name} has no counterpart in the reference network"
            ))
        })?;
        let shape = view.shape().to_vec();
        let linear = name.ends_with("classifier.weight");
        let entry = match (linear, shape.as_slice()) {
            (true, &[rows, cols]) if view.dtype() == Dtype::F32 => {
                let data = transposed(view.data(), rows, cols);
                (view.dtype(), vec![cols, rows], Cow::Owned(data))
            }
            _ => (view.dtype(), shape, Cow::Borrowed(view.data())),
        };
        if let Some(module) = torch.strip_suffix(".running_mean") {
            let counter = 0i64.to_le_bytes().to_vec();
            let key = format!("{module}.num_batches_tracked");
            tensors.insert(key, (Dtype::I64, Vec::new(), Cow::Owned(counter)));
        }
        tensors.insert(torch, entry);
    }
    let views = tensors
        .iter()
        .map(|(name, (dtype, shape, data))| {
            let view =
                TensorView::new(*dtype, shape.clone(), data).map_err(|e| bad(e.to_string()))?;
            Ok((name.clone(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| bad(e.to_string()))?;
    canonical_safetensors(bytes)
}

/// The same SafeTensors file with its JSON header's keys in sorted order, so that equal models
/// give equal bytes (the writer lists them in hash order). The header keeps its length.
pub fn canonical_safetensors(mut bytes: Vec<u8>) -> Result<Vec<u8>> {
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
