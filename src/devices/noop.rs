//! The host-only device (`bench --host-only`): Burn's wgpu runtime on wgpu's noop backend. Every
//! dispatch goes through Burn, autodiff, CubeCL and wgpu's validation, encoding and submission as
//! on a GPU, but no kernel runs, so a step's wall time there is the host's work alone.

use burn::tensor::Device;
use burn::tensor::wgpu::{WgpuSetup, wgpu};

use super::adapter::{DeviceError, DeviceInfo, SelectedDevice};

/// The features a desktop Vulkan GPU offers that CubeCL's WGSL compiler looks at (the noop
/// adapter would otherwise report every feature, experimental ones included).
fn gpu_features() -> wgpu::Features {
    wgpu::Features::SHADER_INT64
        | wgpu::Features::SHADER_F64
        | wgpu::Features::SHADER_F16
        | wgpu::Features::SUBGROUP
}

fn failed(details: String) -> DeviceError {
    DeviceError::NoAdapter {
        choice: super::adapter::DeviceChoice::Vulkan,
        details: format!("  wgpu's noop backend: {details}"),
        hint: "this build has wgpu's `noop` feature; report the message above".into(),
    }
}

/// The limits a desktop Vulkan GPU reports through wgpu (NVIDIA's, where wgpu does not cap
/// them); the noop adapter's own "maximally permissive" ones break wgpu's derived layouts.
fn gpu_limits() -> wgpu::Limits {
    wgpu::Limits {
        max_storage_buffers_per_shader_stage: 64,
        max_storage_buffer_binding_size: super::adapter::MAX_STORAGE_BINDING as u64,
        max_buffer_size: 1 << 38,
        max_compute_workgroup_storage_size: 49_152,
        max_compute_invocations_per_workgroup: 1024,
        max_compute_workgroup_size_x: 1024,
        max_compute_workgroup_size_y: 1024,
        max_compute_workgroup_size_z: 64,
        ..wgpu::Limits::default()
    }
}

/// Opens (once per process) a device on wgpu's noop backend, reporting a discrete GPU with a
/// desktop GPU's features, limits and subgroup size; its kernels take the GPU shape.
pub fn open_host_only() -> Result<SelectedDevice, DeviceError> {
    static OPENED: std::sync::OnceLock<SelectedDevice> = std::sync::OnceLock::new();
    if let Some(found) = OPENED.get() {
        return Ok(found.clone());
    }
    let noop = wgpu::NoopBackendOptions {
        enable: true,
        features: Some(gpu_features()),
        limits: Some(gpu_limits()),
        device_type: Some(wgpu::DeviceType::DiscreteGpu),
        subgroup_min_size: Some(32),
        subgroup_max_size: Some(32),
    };
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::NOOP,
        backend_options: wgpu::BackendOptions {
            noop,
            ..Default::default()
        },
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))
        .map_err(|e| failed(e.to_string()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: None,
        required_features: adapter.features(),
        required_limits: adapter.limits(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        trace: wgpu::Trace::Off,
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
    }))
    .map_err(|e| failed(e.to_string()))?;
    let info = adapter.get_info();
    let setup = WgpuSetup {
        instance,
        adapter,
        device,
        queue,
        backend: info.backend,
    };
    let device = Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| failed(e.to_string()))?;
    let selected = SelectedDevice {
        device,
        info: DeviceInfo {
            name: format!("{} (no kernel runs: host work only)", info.name),
            api: format!("{:?}", info.backend),
            kind: format!("{:?}", info.device_type),
            driver: String::new(),
            wgsl_kernels: true,
            note: String::new(),
        },
    };
    Ok(OPENED.get_or_init(|| selected).clone())
}
