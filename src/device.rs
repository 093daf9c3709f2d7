//! Choosing the compute device: a wgpu adapter on a pinned graphics API, or Burn's CPU backend.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use burn::tensor::wgpu::{WgpuBackend, wgpu};
use burn::tensor::{Device, DeviceKind};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What the user asks for with `--device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The best GPU on the platform's native API (Vulkan, Metal or DX12); a software Vulkan adapter if that is all there is.
    Auto,
    /// Any adapter on the Vulkan API (including lavapipe).
    Vulkan,
    /// Any adapter on the Metal API (macOS).
    Metal,
    /// Any adapter on the DirectX 12 API (Windows).
    Dx12,
    /// A software adapter such as lavapipe (Mesa's Vulkan on the CPU) when installed, else Burn's pure-Rust CPU backend.
    Cpu,
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Auto => "auto",
            Self::Vulkan => "vulkan",
            Self::Metal => "metal",
            Self::Dx12 => "dx12",
            Self::Cpu => "cpu",
        };
        f.write_str(name)
    }
}

/// The device could not be set up.
#[derive(Debug, Error)]
pub enum DeviceError {
    /// No adapter answered for the requested API.
    #[error("no {choice} adapter found:\n{details}\nhint: {hint}")]
    NoAdapter {
        /// What was asked for.
        choice: DeviceChoice,
        /// What each attempt reported.
        details: String,
        /// What the user can do about it.
        hint: String,
    },
}

/// Where a device runs, as shown to the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Adapter or backend name (e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// Graphics API (`Vulkan`, `Metal`, `Dx12`) or `CPU` for Burn's CPU backend.
    pub api: String,
    /// Adapter type (`DiscreteGpu`, `IntegratedGpu`, `Cpu`, …).
    pub kind: String,
    /// Driver name and version, when the adapter reports them.
    pub driver: String,
    /// True when the project's WGSL kernels run on this device.
    pub wgsl_kernels: bool,
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{} / {}]", self.name, self.api, self.kind)?;
        if !self.driver.is_empty() {
            write!(f, " driver: {}", self.driver)?;
        }
        if !self.wgsl_kernels {
            write!(f, " (WGSL kernels off: plain Burn ops)")?;
        }
        Ok(())
    }
}

/// A ready device and its description.
#[derive(Clone, Debug)]
pub struct SelectedDevice {
    /// The Burn device (without autodiff; call `.autodiff()` for training).
    pub device: Device,
    /// What it is.
    pub info: DeviceInfo,
}

type Key = (WgpuBackend, DeviceKind);

/// Burn refuses to initialise one wgpu runtime twice, so adapters are opened once per process.
fn opened() -> &'static Mutex<HashMap<Key, SelectedDevice>> {
    static OPENED: OnceLock<Mutex<HashMap<Key, SelectedDevice>>> = OnceLock::new();
    OPENED.get_or_init(|| Mutex::new(HashMap::new()))
}

fn open_wgpu(api: WgpuBackend, kind: DeviceKind) -> Result<SelectedDevice, String> {
    let mut cache = opened().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = cache.get(&(api, kind.clone())) {
        return Ok(found.clone());
    }
    let (device, setup) = Device::wgpu_options()
        .graphics_api(api)
        .device_kind(kind.clone())
        .init_with_setup()
        .map_err(|e| format!("  {api:?} ({kind:?}): {e}"))?;
    let adapter = setup.adapter.get_info();
    let driver = [adapter.driver.as_str(), adapter.driver_info.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let selected = SelectedDevice {
        device,
        info: DeviceInfo {
            name: adapter.name.clone(),
            api: format!("{:?}", adapter.backend),
            kind: format!("{:?}", adapter.device_type),
            driver,
            wgsl_kernels: true,
        },
    };
    if adapter.backend != backend_of(api) {
        return Err(format!(
            "  {api:?}: the runtime came up on {:?} instead",
            adapter.backend
        ));
    }
    cache.insert((api, kind), selected.clone());
    Ok(selected)
}

fn backend_of(api: WgpuBackend) -> wgpu::Backend {
    match api {
        WgpuBackend::Metal => wgpu::Backend::Metal,
        WgpuBackend::Dx12 => wgpu::Backend::Dx12,
        WgpuBackend::Gl => wgpu::Backend::Gl,
        WgpuBackend::WebGpu => wgpu::Backend::BrowserWebGpu,
        WgpuBackend::Vulkan | WgpuBackend::Auto => wgpu::Backend::Vulkan,
    }
}

/// The native APIs to try, best first, on this platform.
fn native_apis() -> &'static [WgpuBackend] {
    if cfg!(target_os = "macos") {
        &[WgpuBackend::Metal, WgpuBackend::Vulkan]
    } else if cfg!(target_os = "windows") {
        &[WgpuBackend::Dx12, WgpuBackend::Vulkan]
    } else {
        &[WgpuBackend::Vulkan]
    }
}

fn install_hint() -> String {
    if cfg!(target_os = "linux") {
        "install a Vulkan driver (for a software adapter on Debian/Ubuntu: \
         `apt-get install mesa-vulkan-drivers libvulkan1`), or run with `--device cpu`"
            .into()
    } else {
        "update the GPU driver, or run with `--device cpu`".into()
    }
}

/// Flex: Burn's pure-Rust CPU backend; plain Burn ops, no WGSL kernels.
fn burn_cpu() -> SelectedDevice {
    SelectedDevice {
        device: Device::flex(),
        info: DeviceInfo {
            name: "Burn CPU backend (flex)".into(),
            api: "CPU".into(),
            kind: "Cpu".into(),
            driver: String::new(),
            wgsl_kernels: false,
        },
    }
}

/// Opens the device the user asked for, or explains why none is there.
pub fn select_device(choice: DeviceChoice) -> Result<SelectedDevice, DeviceError> {
    let attempts: Vec<(WgpuBackend, DeviceKind)> = match choice {
        DeviceChoice::Auto => native_apis()
            .iter()
            .map(|api| (*api, DeviceKind::DefaultDevice))
            .collect(),
        DeviceChoice::Vulkan => vec![(WgpuBackend::Vulkan, DeviceKind::DefaultDevice)],
        DeviceChoice::Metal => vec![(WgpuBackend::Metal, DeviceKind::DefaultDevice)],
        DeviceChoice::Dx12 => vec![(WgpuBackend::Dx12, DeviceKind::DefaultDevice)],
        DeviceChoice::Cpu => vec![(WgpuBackend::Vulkan, DeviceKind::Cpu)],
    };
    let mut failures = Vec::new();
    for (api, kind) in attempts {
        match open_wgpu(api, kind) {
            Ok(selected) => return Ok(selected),
            Err(message) => failures.push(message),
        }
    }
    if choice == DeviceChoice::Cpu {
        return Ok(burn_cpu());
    }
    Err(DeviceError::NoAdapter {
        choice,
        details: failures.join("\n"),
        hint: install_hint(),
    })
}

/// True when tensors on `device` run the project's WGSL kernels (a wgpu device, with or without autodiff).
pub fn runs_wgsl(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        burn::backend::DispatchDevice::Cube(_)
    )
}

/// Peak bytes held by the device's memory pools so far (Burn's page high-water mark), when the
/// device reports its pools.
pub fn peak_pool_bytes(device: &Device) -> Option<u64> {
    device
        .memory_pool_report()
        .map(|pools| pools.iter().map(|p| p.page_size * p.pages_peak).sum())
}
