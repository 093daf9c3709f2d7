//! Two-stage ISTA-NAS search: architecture parameters, the training loop, settings, checkpoint and run folder.

pub mod architect;
pub mod checkpoint;
pub mod config;
pub mod run_dir;
pub mod trainer;
