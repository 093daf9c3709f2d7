//! Studies over several runs: supernet-versus-stand-alone rank consistency (Kendall τ,
//! Spearman ρ) and the report of several trainings of one genotype as papers give it.

pub mod consistency;
pub mod rank;
pub mod report;
