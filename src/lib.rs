//! ISTA-NAS: differentiable neural architecture search by sparse coding, on any GPU through
//! Burn's wgpu backend, with WGSL kernels for the sparse parts.

pub mod bench;
pub mod cell_dot;
pub mod cell_layout;
pub mod cell_svg;
pub mod consistency;
pub mod curves;
pub mod data;
pub mod device;
pub mod devices;
pub mod error;
pub mod framed;
pub mod genotype;
pub mod kernels;
pub mod model;
pub mod optim;
pub mod parallel;
pub mod primitives;
pub mod profile;
pub mod rank;
pub mod records;
pub mod report;
pub mod run_dir;
pub mod run_lock;
pub mod search;
pub mod sparse;
pub mod step_metrics;
pub mod train;

pub use error::{IstaError, Result};
