//! Architecture search: ISTA-NAS (two-stage) and the DARTS / PC-DARTS baselines, their
//! architecture parameters, the shared training loop, settings, checkpoint and run folder.

pub mod alphas;
pub mod architect;
pub mod checkpoint;
pub mod config;
pub mod darts;
pub mod run_dir;
pub mod supernet;
pub mod trainer;
