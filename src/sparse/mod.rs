//! The sparse-coding machinery of ISTA-NAS (docs/method.md §3): measurement matrices, LASSO recovery
//! (f64 CPU reference and batched GPU), supports and the differentiable node weights.

pub mod active_set;
pub mod lasso;
pub mod lasso_gpu;
pub mod matrix;
pub mod measurement;
pub mod recovery;
pub mod support;
