//! `ista-nas export MODEL --torch OUT`: a model file's network as the reference PyTorch code
//! names it (see `storage::torch_names`).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use burn::tensor::Device;
use clap::Args;
use ista_nas::storage::framed;
use ista_nas::storage::model_file::{build_model, parse_model, safetensors_bytes};
use ista_nas::storage::torch_names::to_torch;

/// Options of `ista-nas export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A model file (best.model, last.model, folded.model).
    pub model: PathBuf,
    /// Write the weights and BN statistics as a SafeTensors state dict of DARTS's NetworkCIFAR / NetworkImageNet (quark0/darts cnn/model.py): `model.load_state_dict(safetensors.torch.load_file(OUT), strict=True)`. For 1-channel data build the reference's stem with 1 input channel.
    #[arg(long, value_name = "OUT")]
    pub torch: Option<PathBuf>,
}

/// Runs `ista-nas export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let Some(out) = &args.torch else {
        bail!("say what to write: --torch OUT.safetensors");
    };
    let cannot_load = || format!("cannot load {}", args.model.display());
    let bytes = framed::read(&args.model).with_context(cannot_load)?;
    let (header, record) = parse_model(&bytes, &args.model).with_context(cannot_load)?;
    let model =
        build_model(&header, record, &args.model, &Device::flex()).with_context(cannot_load)?;
    // the project's own export, renamed and laid out as the reference's state dict
    let burn = safetensors_bytes(&header, &model)?;
    let metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("ista_nas".to_string(), serde_json::to_string(&header)?),
    ]);
    let torch = to_torch(&burn, header.network.kind, metadata)?;
    framed::write_atomic(out, &torch).with_context(|| format!("cannot write {}", out.display()))?;
    let net = &header.network;
    println!(
        "{}: {:?} network C={} L={} as DARTS's {} state dict ({} input channel{})",
        out.display(),
        net.kind,
        net.channels,
        net.layers,
        match net.kind {
            ista_nas::model::heads::NetKind::Cifar => "NetworkCIFAR",
            ista_nas::model::heads::NetKind::Imagenet => "NetworkImageNet",
        },
        net.in_channels,
        if net.in_channels == 1 { "" } else { "s" }
    );
    Ok(())
}
