//! The device list of a data-parallel run (`--devices N|LIST`): hardware adapters of the kind
//! `--device` picks, by index among adapters of that type on its graphics API; a software
//! adapter (lavapipe) or Burn's CPU backend, which are one device each, give further logical
//! devices that share it — for checks, not for speed, and said so in the list printed at start.

use std::fmt;
use std::str::FromStr;

use burn::tensor::wgpu::wgpu;
use burn::tensor::{Device, DeviceKind};

use crate::devices::adapter::{
    DeviceChoice, DeviceError, SelectedDevice, enumerate, open_wgpu, opened_setup, select_device,
};

/// `--devices`: a count (the first N adapters) or a comma-separated list of adapter indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceList(pub Vec<usize>);

impl Default for DeviceList {
    fn default() -> Self {
        Self(vec![0])
    }
}

impl FromStr for DeviceList {
    type Err = String;

    /// `N` (devices 0..N) or `i,j,…` (distinct indices).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("`{s}` is not a device list: give a count N ≥ 1 or indices such as 0,1");
        if !s.contains(',') {
            let n: usize = s.trim().parse().map_err(|_| bad())?;
            if n == 0 {
                return Err(bad());
            }
            return Ok(Self((0..n).collect()));
        }
        let indices = s
            .split(',')
            .map(|v| v.trim().parse::<usize>().map_err(|_| bad()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sorted = indices.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != indices.len() {
            return Err(format!("`{s}`: a device is listed twice"));
        }
        Ok(Self(indices))
    }
}

impl fmt::Display for DeviceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(usize::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// The Burn device kind of adapter `index` among adapters of `kind`'s type (hardware only).
fn indexed_kind(kind: &str, index: usize) -> Option<(DeviceKind, wgpu::DeviceType)> {
    match kind {
        "DiscreteGpu" => Some((
            DeviceKind::DiscreteGpu(index),
            wgpu::DeviceType::DiscreteGpu,
        )),
        "IntegratedGpu" => Some((
            DeviceKind::IntegratedGpu(index),
            wgpu::DeviceType::IntegratedGpu,
        )),
        "VirtualGpu" => Some((DeviceKind::VirtualGpu(index), wgpu::DeviceType::VirtualGpu)),
        _ => None,
    }
}

/// A further logical device on the adapter (or CPU backend) of `first`.
fn sharing(first: &SelectedDevice, position: usize) -> Result<SelectedDevice, DeviceError> {
    let mut selected = first.clone();
    selected.info.note = format!(
        "logical device {} sharing {} with device 0: no speed-up, for checks",
        position + 1,
        first.info.name
    );
    if let Some((_, setup)) = opened_setup(&first.device) {
        selected.device =
            Device::wgpu_options()
                .setup(setup)
                .init()
                .map_err(|e| DeviceError::NoAdapter {
                    choice: DeviceChoice::Vulkan,
                    details: format!("  a second device on {}: {e}", first.info.name),
                    hint: "run with one device".into(),
                })?;
    }
    Ok(selected)
}

/// Opens the devices of `list` for `choice`; the first is the one the run's model lives on.
pub fn select_devices(
    choice: DeviceChoice,
    list: &DeviceList,
) -> Result<Vec<SelectedDevice>, DeviceError> {
    let first = select_device(choice)?;
    if list.0 == [0] {
        return Ok(vec![first]);
    }
    // The graphics API and its adapters, enumerated once (hardware devices only).
    let hardware = opened_setup(&first.device).map(|(api, _)| (api, enumerate(api)));
    let mut devices: Vec<SelectedDevice> = Vec::new();
    for (position, &index) in list.0.iter().enumerate() {
        let kind = indexed_kind(&first.info.kind, index);
        let selected = match (&hardware, kind) {
            _ if index == 0 => first.clone(),
            (Some((api, adapters)), Some((kind, wgpu_type))) => {
                let api = *api;
                let found = adapters.iter().filter(|a| a.kind == wgpu_type).count();
                if index >= found {
                    return Err(DeviceError::NoAdapter {
                        choice,
                        details: format!(
                            "  device {index}: {api:?} has {found} adapter(s) of type {}",
                            first.info.kind
                        ),
                        hint: "list indices below that count, e.g. --devices 0,1".into(),
                    });
                }
                open_wgpu(api, kind).map_err(|details| DeviceError::NoAdapter {
                    choice,
                    details,
                    hint: "update the GPU driver, or run with fewer devices".into(),
                })?
            }
            _ if position == 0 => first.clone(),
            _ => sharing(&first, position)?,
        };
        devices.push(selected);
    }
    Ok(devices)
}
