//! Choosing the compute device: a wgpu adapter on a pinned graphics API, or Burn's CPU backend.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use burn::tensor::wgpu::{WgpuBackend, WgpuSetup, wgpu};
use burn::tensor::{Device, DeviceKind};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What the user asks for with `--device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The best hardware GPU (discrete, then integrated, then virtual) on the platform's native API (Vulkan, Metal or DX12); without one, Burn's CPU backend, which is much faster than a software adapter such as lavapipe.
    Auto,
    /// The default adapter on the Vulkan API, a software one such as lavapipe included.
    Vulkan,
    /// Any adapter on the Metal API (macOS).
    Metal,
    /// Any adapter on the DirectX 12 API (Windows).
    Dx12,
    /// Burn's pure-Rust CPU backend (flex, with SIMD and one thread per core); plain Burn ops and the project's CPU kernels, no WGSL.
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

impl From<DeviceError> for crate::error::IstaError {
    fn from(e: DeviceError) -> Self {
        Self::Device(Box::new(e))
    }
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
    /// Why this device was chosen, when `auto` chose it over what it found (empty otherwise).
    #[serde(default)]
    pub note: String,
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
        if !self.note.is_empty() {
            write!(f, "; {}", self.note)?;
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

/// Burn refuses to initialise one wgpu runtime twice, so adapters are opened once per process;
/// the wgpu handles are kept for opening more devices on the same adapter.
fn opened() -> &'static Mutex<HashMap<Key, (SelectedDevice, WgpuSetup)>> {
    static OPENED: OnceLock<Mutex<HashMap<Key, (SelectedDevice, WgpuSetup)>>> = OnceLock::new();
    OPENED.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The graphics API and wgpu handles behind a device this process opened on an adapter.
pub(crate) fn opened_setup(device: &Device) -> Option<(WgpuBackend, WgpuSetup)> {
    let cache = opened().lock().unwrap_or_else(|e| e.into_inner());
    cache
        .iter()
        .find(|(_, (selected, _))| &selected.device == device)
        .map(|((api, _), (_, setup))| (*api, setup.clone()))
}

/// Opens (once per process) the adapter of `kind` on `api`.
pub(crate) fn open_wgpu(api: WgpuBackend, kind: DeviceKind) -> Result<SelectedDevice, String> {
    let mut cache = opened().lock().unwrap_or_else(|e| e.into_inner());
    if let Some((found, _)) = cache.get(&(api, kind.clone())) {
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
            note: String::new(),
        },
    };
    if adapter.backend != backend_of(api) {
        return Err(format!(
            "  {api:?}: the runtime came up on {:?} instead",
            adapter.backend
        ));
    }
    if adapter.device_type == wgpu::DeviceType::Cpu {
        SOFTWARE_ADAPTER.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    cache.insert((api, kind), (selected.clone(), setup));
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

/// Threads of Burn's CPU backend: `RAYON_NUM_THREADS` when set, else one per core.
pub fn cpu_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Flex: Burn's pure-Rust CPU backend (SIMD, threads); plain Burn ops and the CPU kernels.
pub(crate) fn burn_cpu(note: String) -> SelectedDevice {
    SelectedDevice {
        device: Device::flex(),
        info: DeviceInfo {
            name: format!("Burn CPU backend (flex, SIMD, {} threads)", cpu_threads()),
            api: "CPU".into(),
            kind: "Cpu".into(),
            driver: String::new(),
            wgsl_kernels: false,
            note,
        },
    }
}

/// An adapter as enumerated, before any device is opened on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSummary {
    /// Adapter name.
    pub name: String,
    /// Adapter type.
    pub kind: wgpu::DeviceType,
}

/// What `auto` does with the adapters of one graphics API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutoPick {
    /// Open this hardware adapter (a Burn device kind with its index among adapters of its type).
    Gpu(DeviceKind),
    /// No hardware GPU: run on Burn's CPU backend, for this reason.
    Cpu(String),
}

/// `auto`'s rule: the first discrete GPU, else integrated, else virtual, else (only software
/// adapters such as lavapipe, or none) Burn's CPU backend.
pub fn auto_pick(adapters: &[AdapterSummary]) -> AutoPick {
    let has = |kind| adapters.iter().any(|a| a.kind == kind);
    if has(wgpu::DeviceType::DiscreteGpu) {
        return AutoPick::Gpu(DeviceKind::DiscreteGpu(0));
    }
    if has(wgpu::DeviceType::IntegratedGpu) {
        return AutoPick::Gpu(DeviceKind::IntegratedGpu(0));
    }
    if has(wgpu::DeviceType::VirtualGpu) {
        return AutoPick::Gpu(DeviceKind::VirtualGpu(0));
    }
    let software: Vec<&str> = adapters.iter().map(|a| a.name.as_str()).collect();
    AutoPick::Cpu(if software.is_empty() {
        "auto: no GPU adapter found".into()
    } else {
        format!(
            "auto: no hardware GPU, only {} (software); `--device vulkan` runs on it",
            software.join(", ")
        )
    })
}

/// The adapters wgpu finds on `api`, without opening a device.
pub(crate) fn enumerate(api: WgpuBackend) -> Vec<AdapterSummary> {
    let backends = match backend_of(api) {
        wgpu::Backend::Metal => wgpu::Backends::METAL,
        wgpu::Backend::Dx12 => wgpu::Backends::DX12,
        _ => wgpu::Backends::VULKAN,
    };
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    pollster::block_on(instance.enumerate_adapters(backends))
        .iter()
        .map(|a| {
            let info = a.get_info();
            AdapterSummary {
                name: info.name,
                kind: info.device_type,
            }
        })
        .collect()
}

/// `auto`: the best hardware GPU on a native API, else Burn's CPU backend.
fn select_auto() -> Result<SelectedDevice, DeviceError> {
    let mut failures = Vec::new();
    let mut reason = String::new();
    for &api in native_apis() {
        match auto_pick(&enumerate(api)) {
            AutoPick::Gpu(kind) => match open_wgpu(api, kind) {
                Ok(selected) => return Ok(selected),
                Err(message) => failures.push(message),
            },
            AutoPick::Cpu(why) if reason.is_empty() => reason = why,
            AutoPick::Cpu(_) => {}
        }
    }
    if !failures.is_empty() {
        // A GPU was there but would not open: say so rather than run slowly in silence.
        return Err(DeviceError::NoAdapter {
            choice: DeviceChoice::Auto,
            details: failures.join("\n"),
            hint: "update the GPU driver, or run with `--device cpu`".into(),
        });
    }
    Ok(burn_cpu(reason))
}

/// Opens the device the user asked for, or explains why none is there.
pub fn select_device(choice: DeviceChoice) -> Result<SelectedDevice, DeviceError> {
    let api = match choice {
        DeviceChoice::Auto => return select_auto(),
        DeviceChoice::Cpu => return Ok(burn_cpu(String::new())),
        DeviceChoice::Vulkan => WgpuBackend::Vulkan,
        DeviceChoice::Metal => WgpuBackend::Metal,
        DeviceChoice::Dx12 => WgpuBackend::Dx12,
    };
    open_wgpu(api, DeviceKind::DefaultDevice).map_err(|details| DeviceError::NoAdapter {
        choice,
        details,
        hint: install_hint(),
    })
}

static SOFTWARE_ADAPTER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True once a software adapter (wgpu's `DeviceType::Cpu`, e.g. lavapipe) was opened in this
/// process: the kernels then take their software shape.
pub fn software_adapter_opened() -> bool {
    SOFTWARE_ADAPTER.load(std::sync::atomic::Ordering::Relaxed)
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

/// wgpu's largest storage binding in bytes on any adapter (`i32::MAX`: wgpu-hal caps every
/// backend's limit there, whatever the driver reports).
pub const MAX_STORAGE_BINDING: usize = (1 << 31) - 1;

/// The largest storage binding in bytes that kernels on `device` may use: the opened adapter's
/// limit, capped at [`MAX_STORAGE_BINDING`]; `None` where no WGSL kernel runs (Burn's CPU
/// backend has no such limit).
pub fn max_binding_bytes(device: &Device) -> Option<usize> {
    let (_, setup) = opened_setup(device)?;
    let limit = setup.device.limits().max_storage_buffer_binding_size as usize;
    Some(limit.min(MAX_STORAGE_BINDING))
}
