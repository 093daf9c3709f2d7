//! Refuses, before any work, a search whose kernels would bind more bytes than the GPU allows
//! (lavapipe binds as much as memory holds, so such a run would pass there and fail on a GPU).

use anyhow::bail;
use ista_nas::bench::step_shapes::{StepCase, largest_fitting_batch, oversized};
use ista_nas::devices::adapter::{SelectedDevice, max_binding_bytes};
use ista_nas::kernels::variant::current;
use ista_nas::model::heads::NetKind;
use ista_nas::model::skeleton::NetworkConfig;

/// Refuses a search step of `network` on `side`² images at `batch` whose largest binding (the
/// supernet with every op on every edge, as `bench --shapes` walks it) passes the largest
/// storage binding of any of `devices`, naming the batch size that fits.
pub fn check_search(
    devices: &[SelectedDevice],
    network: &NetworkConfig,
    side: usize,
    batch: usize,
) -> anyhow::Result<()> {
    let Some((limit, device)) = devices
        .iter()
        .filter_map(|d| max_binding_bytes(&d.device).map(|l| (l, d)))
        .min_by_key(|(l, _)| *l)
    else {
        return Ok(());
    };
    let case = StepCase {
        kind: NetKind::Cifar,
        channels: network.channels,
        layers: network.layers,
        batch,
        image: side,
        in_channels: network.in_channels,
    };
    let shape = current();
    let Some(worst) = oversized(&case, shape, limit) else {
        return Ok(());
    };
    let fits = largest_fitting_batch(&case, shape, limit);
    let hint = if fits == 0 {
        "not even one image fits: use fewer --channels or smaller images".to_string()
    } else {
        format!("pass --batch-size {fits} or less")
    };
    bail!(
        "--batch-size {batch} needs a {:.2} GB buffer in one kernel ({}), more than {} binds ({limit} bytes at most); {hint}",
        worst.plan.largest_binding() as f64 / 1e9,
        worst.plan.kernel,
        device.info.name,
    )
}
