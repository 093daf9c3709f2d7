//! `ista-nas device`: open the requested device and describe it.

use anyhow::Context;
use clap::Args;
use ista_nas::devices::adapter::{DeviceChoice, SelectedDevice, select_device};
use ista_nas::devices::list::{DeviceList, select_devices};

/// Options of `ista-nas device`.
#[derive(Args, Debug)]
pub struct DeviceArgs {
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto, help = super::DEVICE_HELP)]
    pub device: DeviceChoice,
}

/// Opens the device and prints it (shared by every command).
pub fn open(choice: DeviceChoice) -> anyhow::Result<SelectedDevice> {
    let selected =
        select_device(choice).with_context(|| format!("cannot open --device {choice}"))?;
    println!("device: {}", selected.info);
    Ok(selected)
}

/// Opens the devices of a data-parallel run and prints them (one device: as [`open`]).
pub fn open_all(choice: DeviceChoice, list: &DeviceList) -> anyhow::Result<Vec<SelectedDevice>> {
    if list.0 == [0] {
        return Ok(vec![open(choice)?]);
    }
    let selected = select_devices(choice, list)
        .with_context(|| format!("cannot open --device {choice} --devices {list}"))?;
    println!(
        "devices: {} (synchronous data parallel: each batch split across them, gradients summed into one step on device 0)",
        selected.len()
    );
    for (i, s) in selected.iter().enumerate() {
        println!("  device {i}: {}", s.info);
    }
    Ok(selected)
}

/// Runs `ista-nas device`.
pub fn run(args: DeviceArgs) -> anyhow::Result<()> {
    open(args.device).map(|_| ())
}
