//! Option groups that several commands share, flattened into each so that their help texts
//! exist once: devices, data, run folder, and where the settings start from.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ista_nas::data::DataFormat;
use ista_nas::devices::adapter::{DeviceChoice, SelectedDevice};
use ista_nas::devices::list::DeviceList;
use ista_nas::settings::presets::{self, PresetCommand};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The devices of a run.
#[derive(Args, Clone, Debug)]
pub struct DeviceOptions {
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, help = super::DEVICE_HELP)]
    pub device: DeviceChoice,
    /// Devices for synchronous data parallel: a count N (adapters 0..N of the kind --device picks) or indices such as 0,2. Each batch (a search's weight and architecture batches alike) is split across them and their gradients summed into one step; BatchNorm uses each device's share (as PyTorch's DDP); one b or α for all. A software adapter or the CPU backend gives logical devices that share it (for checks, no speed-up).
    #[arg(long, default_value = "1")]
    pub devices: DeviceList,
}

impl DeviceOptions {
    /// Opens the devices and prints them.
    pub fn open(&self) -> anyhow::Result<Vec<SelectedDevice>> {
        super::device::open_all(self.device, &self.devices)
    }
}

/// Where a command's images come from.
#[derive(Args, Clone, Debug, Default, Serialize, Deserialize)]
pub struct DataSource {
    /// Data folder (IDX files, CIFAR-10 binary batches, or an ImageFolder tree with train/ and test/); default: the embedded Fashion-MNIST subset (32×32 after padding).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Layout of `--data`; detected when omitted.
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
}

/// The data of a run.
#[derive(Args, Clone, Debug)]
pub struct DataOptions {
    #[command(flatten)]
    pub source: DataSource,
    /// Use only the first N training images (a two-stage search halves them into weight and architecture splits).
    #[arg(long)]
    pub train_images: Option<usize>,
    /// Score on only the first N test images (train, one-stage).
    #[arg(long)]
    pub test_images: Option<usize>,
    /// Classes K, stated on purpose: needed when the labels name fewer classes than you want, or when the class count is inferred from the largest label (IDX) and some class has no training image.
    #[arg(long)]
    pub classes: Option<usize>,
}

impl DataOptions {
    /// Puts the given options into `map`; a new data folder drops the preset's image counts.
    pub fn put(&self, map: &mut Map<String, Value>) {
        if let Some(path) = &self.source.data {
            map.insert("data".into(), path.display().to_string().into());
            map.insert("train_images".into(), Value::Null);
            if map.contains_key("test_images") {
                map.insert("test_images".into(), Value::Null);
            }
        }
        put(map, "format", self.source.format);
        put(map, "train_images", self.train_images);
        put(map, "test_images", self.test_images);
        put(map, "classes", self.classes);
    }
}

/// The run folder, and where the settings start from.
#[derive(Args, Clone, Debug)]
pub struct RunOptions {
    /// Run folder for config, metrics, curves, results and checkpoints (default: runs/<kind>-<seed>-<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the stopped or finished run in this folder (its settings come from its checkpoint; with --epochs N it is extended to N epochs, the schedule then over N).
    #[arg(long, conflicts_with_all = ["out", "config", "preset"])]
    pub resume: Option<PathBuf>,
    /// Start from a saved run's settings (RUN_DIR or RUN_DIR/config.json) instead of a preset; the options given override them.
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// Also write a checkpoint every this many minutes, inside epochs (0: at epoch ends only); default: the preset's (paper presets 10, quick off). SIGTERM and SIGINT write one too, after the current step.
    #[arg(long, value_name = "MINUTES")]
    pub checkpoint_every: Option<f64>,
}

impl RunOptions {
    /// The settings to start from: `--config`'s, else preset `preset` (a built-in name or a
    /// JSON file) for `method`.
    pub fn base(
        &self,
        command: PresetCommand,
        preset: &str,
        method: Option<&str>,
        extra: &[&str],
    ) -> anyhow::Result<Map<String, Value>> {
        match &self.config {
            Some(path) => Ok(presets::saved(path).context("--config")?),
            None => Ok(presets::resolve(command, preset, method, extra).context("--preset")?),
        }
    }

    /// Puts `--checkpoint-every` into `map` when given (0: none).
    pub fn put(&self, map: &mut Map<String, Value>) {
        put(
            map,
            "checkpoint_every",
            self.checkpoint_every.map(|m| (m != 0.0).then_some(m)),
        );
    }

    /// Refuses the settings options `given` (as settings keys) when resuming: a resumed run
    /// keeps its checkpoint's settings, but for `--epochs`, which extends it.
    pub fn refuse_with_resume(&self, given: &Map<String, Value>) -> anyhow::Result<()> {
        // --epochs extends a resumed run
        let refused: Vec<_> = given.keys().filter(|k| *k != "epochs").collect();
        if self.resume.is_some() && !refused.is_empty() {
            let flags: Vec<String> = refused
                .iter()
                .map(|k| format!("--{}", k.replace('_', "-")))
                .collect();
            anyhow::bail!(
                "--resume cannot be used with {}: a resumed run keeps its checkpoint's settings",
                flags.join(", ")
            );
        }
        Ok(())
    }
}

/// Puts `value` into `map` under `key` when given.
pub fn put<T: Serialize>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(
            key.into(),
            serde_json::to_value(v).expect("options serialise"),
        );
    }
}

/// The settings of type `T` that `map` holds, with `source` naming them in errors.
pub fn settings<T: serde::de::DeserializeOwned>(
    map: Map<String, Value>,
    source: &str,
) -> anyhow::Result<T> {
    Ok(presets::settings(map, source)?)
}
