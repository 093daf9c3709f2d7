//! Training a found architecture from scratch and scoring it (docs/method.md §6).

pub mod checkpoint;
pub mod config;
pub mod evaluate;
pub mod trainer;
