//! One file per subcommand.

pub mod bench;
pub mod bench_args;
pub mod bench_shapes;
pub mod binding_limit;
pub mod child;
pub mod consistency;
pub mod consistency_args;
pub mod data;
pub mod device;
pub mod eval;
pub mod export;
pub mod fold;
pub mod genotype;
pub mod lasso;
pub mod one_stage;
pub mod options;
pub mod plot;
pub mod report;
pub mod run_driver;
pub mod run_folder;
pub mod search;
pub mod search_args;
pub mod stop_signals;
pub mod study_runs;
pub mod study_summary;
pub mod supernet_score;
pub mod train;

/// The help of every command's `--device`.
pub const DEVICE_HELP: &str = "Compute device: auto (the best hardware GPU, else Burn's CPU backend), vulkan (any Vulkan adapter, lavapipe included), metal, dx12, or cpu (Burn's CPU backend)";
