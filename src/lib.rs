//! ISTA-NAS: differentiable neural architecture search by sparse coding, on any GPU through
//! Burn's wgpu backend, with WGSL kernels for the sparse parts.

pub mod bench;
pub mod curves;
pub mod data;
pub mod devices;
pub mod error;
pub mod kernels;
pub mod model;
pub mod optim;
pub mod profile;
pub mod search;
pub mod search_space;
pub mod settings;
pub mod sparse;
pub mod step_metrics;
pub mod storage;
pub mod studies;
pub mod train;

pub use error::{IstaError, Result};
