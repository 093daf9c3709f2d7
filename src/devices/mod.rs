//! Devices: opening an adapter on a pinned graphics API or Burn's CPU backend, the device list
//! of a data-parallel run, and the data-parallel step across it.

pub mod adapter;
pub mod list;
pub mod parallel;
