//! One file per subcommand.

pub mod bench;
pub mod bench_shapes;
pub mod child;
pub mod consistency;
pub mod data;
pub mod device;
pub mod eval;
pub mod fold;
pub mod genotype;
pub mod one_stage;
pub mod plot;
pub mod recover;
pub mod report;
pub mod run_folder;
pub mod search;
pub mod study_runs;
pub mod study_summary;
pub mod supernet_score;
pub mod train;
