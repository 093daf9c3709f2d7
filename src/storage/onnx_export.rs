//! A model file's evaluation network as an ONNX model (opset 17, eval mode): the network's
//! walk (stem, cells, global pool, classifier; the auxiliary head left out) over the weights
//! of its SafeTensors export, BN as BatchNormalization. Input `images` `[batch, C_in, S, S]`,
//! normalised as the model file says (its mean and std are in the metadata); output `logits`.

use std::collections::BTreeMap;

use onnx_protobuf::{Message, ModelProto, OperatorSetIdProto, StringStringEntryProto};
use safetensors::tensor::{Dtype, SafeTensors};

use super::model_file::ModelHeader;
use super::onnx_graph::{GraphBuilder, Weight, Window, value_info};
use crate::error::{IstaError, Result};
use crate::model::heads::NetKind;
use crate::search_space::primitives::{PRIMITIVES, STEPS, op_index};

/// The ONNX operator set the export targets.
pub const OPSET: i64 = 17;
/// The ONNX IR version written (the one opset 17 came with).
const IR_VERSION: i64 = 8;

fn bad(why: String) -> IstaError {
    IstaError::Checkpoint(format!("ONNX export: {why}"))
}

/// The f32 tensors of a SafeTensors file, by name.
fn weights(safetensors: &[u8]) -> Result<BTreeMap<String, Weight>> {
    let file = SafeTensors::deserialize(safetensors).map_err(|e| bad(e.to_string()))?;
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            if view.dtype() != Dtype::F32 {
                return Err(bad(format!("{name} is {:?}, not f32", view.dtype())));
            }
            let data = view.data().chunks_exact(4);
            let values = data.map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")));
            Ok((name, (view.shape().to_vec(), values.collect())))
        })
        .collect()
}

/// ReLU, conv, BN (`module.conv`, `module.norm`); `relu` first when asked.
fn conv_bn(g: &mut GraphBuilder, module: &str, x: String, relu: bool, w: Window) -> Result<String> {
    let x = if relu { g.relu(module, x) } else { x };
    let x = g.conv(&format!("{module}.conv"), x, w, 1)?;
    g.batch_norm(&format!("{module}.norm"), x)
}

fn window(kernel: usize, stride: usize, padding: usize, dilation: usize) -> Window {
    Window {
        kernel,
        stride,
        padding,
        dilation,
    }
}

/// FactorizedReduce `module`: ReLU, two 1×1 stride-2 convs (the second on the input shifted by
/// one pixel), concat, BN.
fn factorized_reduce(g: &mut GraphBuilder, module: &str, x: String) -> Result<String> {
    let x = g.relu(module, x);
    let one = window(1, 2, 0, 1);
    let a = g.conv(&format!("{module}.conv_a"), x.clone(), one, 1)?;
    let shifted = g.shift(module, x);
    let b = g.conv(&format!("{module}.conv_b"), shifted, one, 1)?;
    let both = g.concat(module, vec![a, b]);
    g.batch_norm(&format!("{module}.norm"), both)
}

/// ReLU, depthwise conv, 1×1 conv, BN: a dil conv or half a sep conv (`module`).
fn dil_conv(g: &mut GraphBuilder, module: &str, x: String, c: usize, w: Window) -> Result<String> {
    let x = g.relu(module, x);
    let x = g.conv(&format!("{module}.depthwise"), x, w, c)?;
    let x = g.conv(&format!("{module}.pointwise"), x, window(1, 1, 0, 1), 1)?;
    g.batch_norm(&format!("{module}.norm"), x)
}

/// Op `index` of the search space at `stride` on C = `c` channels, as the module `module`
/// holds it; `extra_norms`: the one-stage style's BN after pools and the identity.
fn op(
    g: &mut GraphBuilder,
    module: &str,
    (index, stride, c, extra_norms): (usize, usize, usize, bool),
    x: String,
) -> Result<String> {
    let pool = |g: &mut GraphBuilder, variant: &str, max: bool| {
        let module = format!("{module}.{variant}");
        let y = g.pool(&module, x.clone(), max, window(3, stride, 1, 1));
        match extra_norms {
            true => g.batch_norm(&format!("{module}.norm"), y),
            false => Ok(y),
        }
    };
    match (index, stride) {
        (0, _) => pool(g, "MaxPool", true),
        (1, _) => pool(g, "AvgPool", false),
        (2, 1) if extra_norms => g.batch_norm(&format!("{module}.IdentityNorm"), x),
        (2, 1) => Ok(x),
        (2, _) => factorized_reduce(g, &format!("{module}.Reduce"), x),
        (3 | 4, _) => {
            let k = if index == 3 { 3 } else { 5 };
            let first = window(k, stride, k / 2, 1);
            let y = dil_conv(g, &format!("{module}.Sep.first"), x, c, first)?;
            dil_conv(
                g,
                &format!("{module}.Sep.second"),
                y,
                c,
                window(k, 1, k / 2, 1),
            )
        }
        (5 | 6, _) => {
            let k = if index == 5 { 3 } else { 5 };
            dil_conv(
                g,
                &format!("{module}.Dil"),
                x,
                c,
                window(k, stride, k - 1, 2),
            )
        }
        _ => Err(bad(format!(
            "op {index} outside the {} ops",
            PRIMITIVES.len()
        ))),
    }
}

/// Cell `i` (`s0`, `s1` → its output).
fn cell(
    g: &mut GraphBuilder,
    header: &ModelHeader,
    i: usize,
    s: (String, String),
) -> Result<String> {
    let net = &header.network;
    let shape = net.plan().cells[i];
    let (_, _, c) = shape.channels;
    let module = format!("cells.{i}");
    let s0 = if shape.reduction_prev {
        factorized_reduce(g, &format!("{module}.preprocess0.Reduce"), s.0)?
    } else {
        let one = window(1, 1, 0, 1);
        conv_bn(g, &format!("{module}.preprocess0.Conv"), s.0, true, one)?
    };
    let s1 = conv_bn(
        g,
        &format!("{module}.preprocess1"),
        s.1,
        true,
        window(1, 1, 0, 1),
    )?;
    let (picks, concat) = net.genotype.cell(shape.reduction);
    let mut states = vec![s0, s1];
    let per_node = picks.len() / STEPS;
    for node in 0..STEPS {
        let mut sum: Option<String> = None;
        for (j, (name, input)) in picks
            .iter()
            .enumerate()
            .skip(node * per_node)
            .take(per_node)
        {
            let index = op_index(name).ok_or_else(|| bad(format!("unknown op {name}")))?;
            let stride = if shape.reduction && *input < 2 { 2 } else { 1 };
            let this = (index, stride, c, net.extra_norms);
            let h = op(
                g,
                &format!("{module}.ops.{j}"),
                this,
                states[*input].clone(),
            )?;
            sum = Some(match sum {
                Some(total) => g.add(&format!("{module}.node{node}"), total, h),
                None => h,
            });
        }
        states.push(sum.ok_or_else(|| bad(format!("cell {i} node {node} has no pick")))?);
    }
    let outputs = concat.iter().map(|&k| states[k].clone()).collect();
    Ok(g.concat(&module, outputs))
}

/// The ONNX model of the network `header` describes, with the weights of its SafeTensors
/// export `safetensors`; `batch`: a fixed batch size, or `None` for a symbolic one.
pub fn onnx_bytes(
    header: &ModelHeader,
    safetensors: &[u8],
    batch: Option<usize>,
) -> Result<Vec<u8>> {
    let net = &header.network;
    let mut g = GraphBuilder::new("ista_nas", weights(safetensors)?);
    let mut x = "images".to_string();
    let stem = match net.kind {
        NetKind::Cifar => 1,
        NetKind::Imagenet => 2,
    };
    let stride = stem; // CIFAR: stride 1; ImageNet: every stem stage halves
    for i in 0..stem {
        x = conv_bn(
            &mut g,
            &format!("stem.{i}"),
            x,
            i > 0,
            window(3, stride, 1, 1),
        )?;
    }
    let mut s = (x.clone(), x.clone());
    if net.kind == NetKind::Imagenet {
        s.1 = conv_bn(&mut g, "stem1", x, true, window(3, 2, 1, 1))?;
    }
    for i in 0..net.layers {
        let out = cell(&mut g, header, i, s.clone())?; // [B, C_i, H_i, W_i]
        s = (s.1, out);
    }
    let pooled = g.global_pool("classifier", s.1); // [B, C_last]
    let logits = g.linear("classifier", pooled)?; // [B, classes]
    let size = header.augment.size;
    let input = value_info(
        "images",
        &[batch, Some(net.in_channels), Some(size), Some(size)],
    );
    let output = value_info("logits", &[batch, Some(net.classes)]);
    let (graph, unused) = g.finish(input, &logits, output);
    if let Some(name) = unused.iter().find(|n| !n.starts_with("aux.")) {
        return Err(bad(format!("{name} has no place in the network")));
    }
    let property = |key: &str, value: String| StringStringEntryProto {
        key: key.into(),
        value,
        ..Default::default()
    };
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
            ..Default::default()
        }],
        producer_name: "ista-nas".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!(
            "{:?} network C={} L={}, eval mode; input normalised with mean {:?}, std {:?}",
            net.kind, net.channels, net.layers, header.norm.mean, header.norm.std
        ),
        graph: Some(graph).into(),
        metadata_props: vec![
            property(
                "ista_nas",
                serde_json::to_string(header).expect("headers serialise"),
            ),
            property(
                "class_names",
                serde_json::to_string(&header.class_names).expect("names"),
            ),
        ],
        ..Default::default()
    };
    model.write_to_bytes().map_err(|e| bad(e.to_string()))
}
