//! One-stage ISTA-NAS (Algorithm 2, docs/method.md §5): the target network searched and trained in one
//! run, nodes frozen as their z converge, then the fixed architecture folded (Eq. 12) into a
//! plain evaluation network.

pub mod checkpoint;
pub mod config;
pub mod fold;
pub mod freezing;
pub mod parallel;
pub mod supernet;
pub mod trainer;
