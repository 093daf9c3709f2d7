//! Two-stage ISTA-NAS search: architecture parameters, the training loop, settings, and clipping.

pub mod architect;
pub mod checkpoint;
pub mod clip;
pub mod config;
pub mod run_dir;
pub mod trainer;
