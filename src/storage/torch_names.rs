//! Evaluation networks under the names and layouts of the reference PyTorch code: the state
//! dict of DARTS's `NetworkCIFAR` / `NetworkImageNet` (quark0/darts `cnn/model.py`), so that
//! `model.load_state_dict(safetensors.torch.load_file(path), strict=True)` loads it (for
//! 1-channel data, build the reference's stem with 1 input channel). BatchNorm's γ, β become
//! `weight`, `bias` and get the `num_batches_tracked` buffer PyTorch keeps; the classifiers'
//! weights are stored `[out, in]`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{IstaError, Result};
use crate::model::heads::NetKind;

/// The reference module path of one of this project's module paths.
fn module(path: &str, kind: NetKind) -> Option<String> {
    let parts: Vec<&str> = path.split('.').collect();
    let stem = |cifar: &str, imagenet: &str| match kind {
        NetKind::Cifar => cifar.to_string(),
        NetKind::Imagenet => imagenet.to_string(),
    };
    Some(match parts.as_slice() {
        ["stem", "0", "conv"] => stem("stem.0", "stem0.0"),
        ["stem", "0", "norm"] => stem("stem.1", "stem0.1"),
        ["stem", "1", "conv"] if kind == NetKind::Imagenet => "stem0.3".into(),
        ["stem", "1", "norm"] if kind == NetKind::Imagenet => "stem0.4".into(),
        ["stem1", "conv"] if kind == NetKind::Imagenet => "stem1.1".into(),
        ["stem1", "norm"] if kind == NetKind::Imagenet => "stem1.2".into(),
        ["cells", i, pre @ ("preprocess0" | "preprocess1"), rest @ ..] => {
            let part = match rest {
                ["Conv", "conv"] | ["conv"] => "op.1",
                ["Conv", "norm"] | ["norm"] => "op.2",
                ["Reduce", "conv_a"] => "conv_1",
                ["Reduce", "conv_b"] => "conv_2",
                ["Reduce", "norm"] => "bn",
                _ => return None,
            };
            format!("cells.{i}.{pre}.{part}")
        }
        ["cells", i, "ops", j, rest @ ..] => {
            let part = match rest {
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
            };
            format!("cells.{i}._ops.{j}.{part}")
        }
        ["aux", "conv1"] => "auxiliary_head.features.2".into(),
        ["aux", "norm1"] => "auxiliary_head.features.3".into(),
        ["aux", "conv2"] => "auxiliary_head.features.5".into(),
        ["aux", "norm2"] if kind == NetKind::Cifar => "auxiliary_head.features.6".into(),
        ["aux", "classifier"] => "auxiliary_head.classifier".into(),
        ["classifier"] => "classifier".into(),
        _ => return None,
    })
}

/// The reference name of tensor `name` (`module.leaf`) of a `kind` network.
pub fn torch_name(name: &str, kind: NetKind) -> Option<String> {
    let (path, leaf) = name.rsplit_once('.')?;
    let leaf = match leaf {
        "gamma" => "weight",
        "beta" => "bias",
        other => other,
    };
    Some(format!("{}.{leaf}", module(path, kind)?))
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
type Entry<'a> = (Dtype, Vec<usize>, Cow<'a, [u8]>);

/// The SafeTensors file `burn` (this project's export of a `kind` evaluation network) under
/// the reference's state-dict names and layouts, with `metadata`.
pub fn to_torch(burn: &[u8], kind: NetKind, metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    let bad = |why: String| IstaError::Checkpoint(format!("PyTorch export: {why}"));
    let file = SafeTensors::deserialize(burn).map_err(|e| bad(e.to_string()))?;
    let mut tensors: BTreeMap<String, Entry> = BTreeMap::new();
    for (name, view) in file.tensors() {
        let torch = torch_name(&name, kind).ok_or_else(|| {
            bad(format!(
                "{name} has no counterpart in DARTS's network (one-stage networks, with BN \
                 after pools and identities, are not DARTS networks)"
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
    safetensors::serialize(views, Some(metadata)).map_err(|e| bad(e.to_string()))
}
