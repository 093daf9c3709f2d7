//! Architecture search: two-stage ISTA-NAS and the DARTS / PC-DARTS baselines (their supernets
//! and architecture parameters, the shared training loop, settings and checkpoint).

pub mod alphas;
pub mod checkpoint;
pub mod config;
pub mod darts_supernet;
pub mod ista_arch;
pub mod ista_supernet;
pub mod one_stage;
pub mod parallel;
pub mod recalibrate;
pub mod supernet;
pub mod supernet_file;
pub mod trainer;
