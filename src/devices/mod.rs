//! Devices: opening an adapter on a pinned graphics API or Burn's CPU backend, the device list
//! of a data-parallel run, the data-parallel step across it, and the host-only device on
//! wgpu's noop backend.

pub mod adapter;
pub mod list;
pub mod noop;
pub mod parallel;
