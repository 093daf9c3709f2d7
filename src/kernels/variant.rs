//! Which shape of the reduction kernels runs. GPUs get the two-pass grids of
//! [`launch_plan`](super::launch_plan) (chunks × channels, then a merge), which fill a chip;
//! software adapters (lavapipe), where two CPU threads run every workgroup, keep one launch with
//! one workgroup per channel, whole planes and per-plane grids, which are faster there
//! (2026-12-06, lavapipe, an ISTA-NAS step at C=8, L=5, batch 8: 1,135–1,150 against
//! 1,678–1,834 ms, 3,347 against 3,997 launches). Both are tested on lavapipe against the
//! reference; `ISTA_NAS_KERNELS=gpu` (or `software`) forces one.

use std::cell::Cell;
use std::sync::OnceLock;

/// A shape of the reduction kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelShape {
    /// Two-pass reductions over a grid of chunks × channels: for GPUs.
    Gpu,
    /// One launch, one workgroup per channel: for software adapters.
    Software,
}

thread_local! {
    static FORCED: Cell<Option<KernelShape>> = const { Cell::new(None) };
}

/// Forces `shape` for the launches of this thread (`None`: choose as usual); for tests.
pub fn force_on_this_thread(shape: Option<KernelShape>) {
    FORCED.with(|f| f.set(shape));
}

/// The shape set by `ISTA_NAS_KERNELS` (`gpu` or `software`), if any.
fn from_environment() -> Option<KernelShape> {
    static SHAPE: OnceLock<Option<KernelShape>> = OnceLock::new();
    *SHAPE.get_or_init(|| match std::env::var("ISTA_NAS_KERNELS").as_deref() {
        Ok("gpu") => Some(KernelShape::Gpu),
        Ok("software") => Some(KernelShape::Software),
        _ => None,
    })
}

/// The shape the next launch uses: forced on this thread, else by `ISTA_NAS_KERNELS`, else
/// `Software` once a software adapter is open in this process, else `Gpu`.
pub fn current() -> KernelShape {
    FORCED.with(Cell::get).or_else(from_environment).unwrap_or(
        if crate::devices::adapter::software_adapter_opened() {
            KernelShape::Software
        } else {
            KernelShape::Gpu
        },
    )
}
