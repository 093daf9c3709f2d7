//! `ista-nas export MODEL --onnx OUT --torch OUT`: a model file's network as an ONNX model
//! (see `storage::onnx_export`) and as the reference PyTorch code names it
//! (see `storage::torch_names`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use burn::tensor::Device;
use clap::Args;
use ista_nas::model::heads::NetKind;
use ista_nas::storage::framed;
use ista_nas::storage::model_file::{
    build_model, read_model, safetensors_bytes, torch_safetensors,
};
use ista_nas::storage::onnx_export::{OPSET, onnx_bytes};

/// Options of `ista-nas export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A model file (best.model, last.model, folded.model).
    pub model: PathBuf,
    /// Write the network as an ONNX model (opset 17, eval mode, no auxiliary head): input `images` [batch, C, S, S] normalised with the model's mean and std (in the file's metadata), output `logits` [batch, classes].
    #[arg(long, value_name = "OUT")]
    pub onnx: Option<PathBuf>,
    /// With --onnx: a fixed batch size instead of a symbolic one.
    #[arg(long, value_name = "N", requires = "onnx")]
    pub batch: Option<usize>,
    /// Write the weights and BN statistics as a SafeTensors state dict of DARTS's NetworkCIFAR / NetworkImageNet (quark0/darts cnn/model.py; one-stage networks: the authors' ista_nas_single/search/models/model.py), the same file as the .safetensors beside each model: `model.load_state_dict(safetensors.torch.load_file(OUT), strict=True)`. For 1-channel data build the reference's stem with 1 input channel.
    #[arg(long, value_name = "OUT")]
    pub torch: Option<PathBuf>,
}

/// Runs `ista-nas export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    if args.onnx.is_none() && args.torch.is_none() {
        bail!("say what to write: --onnx OUT.onnx and/or --torch OUT.safetensors");
    }
    if args.batch == Some(0) {
        bail!("--batch must be at least 1");
    }
    let cannot_load = || "cannot load the model to export";
    let (header, record) = read_model(&args.model).with_context(cannot_load)?;
    let model =
        build_model(&header, record, &args.model, &Device::flex()).with_context(cannot_load)?;
    let net = &header.network;
    let about = format!(
        "{:?} network C={} L={}, {} input channel{}",
        net.kind,
        net.channels,
        net.layers,
        net.in_channels,
        if net.in_channels == 1 { "" } else { "s" }
    );
    // the network under this project's module paths, the source of both exports
    let burn = safetensors_bytes(&header, &model)?;
    if let Some(out) = &args.onnx {
        let onnx = onnx_bytes(&header, &burn, args.batch)?;
        framed::write_atomic(out, &onnx)
            .with_context(|| format!("cannot write {}", out.display()))?;
        let batch = args.batch.map_or("symbolic".into(), |n| n.to_string());
        println!(
            "{}: {about} as ONNX (opset {OPSET}, batch {batch}, input {}x{}, mean {:?}, std {:?})",
            out.display(),
            header.augment.size,
            header.augment.size,
            header.norm.mean,
            header.norm.std
        );
    }
    if let Some(out) = &args.torch {
        let torch = torch_safetensors(&header, &burn)?;
        framed::write_atomic(out, &torch)
            .with_context(|| format!("cannot write {}", out.display()))?;
        let class = match net.kind {
            NetKind::Cifar => "NetworkCIFAR",
            NetKind::Imagenet => "NetworkImageNet",
        };
        let reference = match net.extra_norms {
            true => {
                format!("the ISTA-NAS one-stage {class} (ista_nas_single/search/models/model.py)")
            }
            false => format!("DARTS's {class} (cnn/model.py)"),
        };
        println!(
            "{}: {about} as the state dict of {reference}",
            out.display()
        );
    }
    Ok(())
}
