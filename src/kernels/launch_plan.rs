//! Launch plans of the project's reduction kernels as pure functions of the shapes: the grid,
//! the threads, the longest loop one thread runs and the bytes moved. The launch code dispatches
//! exactly these plans, so their arithmetic can be checked at any scale without a GPU.

/// Threads per workgroup of the per-channel reductions (batch norm).
pub const REDUCTION_WORKGROUP: usize = 64;
/// Threads per workgroup of the column sums.
pub const COLUMN_WORKGROUP: usize = 256;
/// Values one thread of a chunked reduction takes, where the chunks of a channel stay few
/// enough for the merge pass.
pub const VALUES_PER_THREAD: usize = 16;
/// The longest loop any thread of these kernels runs, where the shapes allow.
pub const MAX_SERIAL: usize = 256;
/// Rows of the weight gradients' batch one thread of the first column-sums pass adds.
pub const ROWS_PER_GROUP: usize = 16;
/// Most workgroups per dispatch dimension (WebGPU's guaranteed limit).
pub const MAX_GROUPS: usize = 65_535;

/// A row of `groups` workgroups as (x, y): folded into y past [`MAX_GROUPS`] along x.
pub fn folded(groups: usize) -> (usize, usize) {
    if groups <= MAX_GROUPS {
        (groups.max(1), 1)
    } else {
        (MAX_GROUPS, groups.div_ceil(MAX_GROUPS))
    }
}

/// One dispatch of one kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchPlan {
    /// The kernel: its shader's file name without `.wgsl`.
    pub kernel: &'static str,
    /// Workgroups along x, y and z.
    pub groups: [usize; 3],
    /// Threads per workgroup.
    pub workgroup: usize,
    /// Iterations of the longest loop one thread runs.
    pub serial_loop: usize,
    /// f32 values the launch reads from its largest input.
    pub elements: usize,
    /// Bytes read.
    pub bytes_read: usize,
    /// Bytes written.
    pub bytes_written: usize,
}

impl LaunchPlan {
    /// Threads launched.
    pub fn threads(&self) -> usize {
        self.groups.iter().product::<usize>() * self.workgroup
    }
}

/// Most partial values a merge pass reads, so that it stays a small launch.
const MAX_PARTIALS: usize = 1 << 20;

/// How the `count` = B·P values of each of `channels` channels are split for a two-pass
/// reduction that writes `width` values per chunk: (chunk length, chunks per channel). Chunks
/// take [`VALUES_PER_THREAD`] values per thread, more where the merge pass would otherwise
/// read [`MAX_PARTIALS`] values or more, or loop past [`MAX_SERIAL`] times.
pub fn reduction_chunks(count: usize, channels: usize, width: usize) -> (usize, usize) {
    let wg = REDUCTION_WORKGROUP;
    let per_thread = VALUES_PER_THREAD
        .max(count * channels * width / (wg * MAX_PARTIALS) + 1)
        .max(count.div_ceil(wg * wg * MAX_SERIAL));
    let chunk = wg * per_thread;
    (chunk, count.div_ceil(chunk).max(1))
}

/// A chunked per-channel reduction of `inputs` tensors `[B, C, H, W]` into `outputs` values per
/// chunk, then merged per channel (`partials` and `merge` name the two kernels).
fn chunked(
    [b, c, h, w]: [usize; 4],
    kernels: [&'static str; 2],
    inputs: usize,
    outputs: usize,
) -> [LaunchPlan; 2] {
    let count = b * h * w;
    let (chunk, chunks) = reduction_chunks(count, c, outputs);
    let wg = REDUCTION_WORKGROUP;
    let partial_bytes = c * chunks * outputs * 4;
    [
        LaunchPlan {
            kernel: kernels[0],
            groups: [chunks, c, 1],
            workgroup: wg,
            serial_loop: chunk.div_ceil(wg),
            elements: count * c,
            bytes_read: inputs * count * c * 4,
            bytes_written: partial_bytes,
        },
        LaunchPlan {
            kernel: kernels[1],
            groups: [c, 1, 1],
            workgroup: wg,
            serial_loop: chunks.div_ceil(wg),
            elements: c * chunks * outputs,
            bytes_read: partial_bytes,
            bytes_written: 4 * c * 4,
        },
    ]
}

/// Training-mode batch statistics of `x` `[B, C, H, W]`: Welford partials per chunk, merged per
/// channel.
pub fn batch_norm_statistics(dims: [usize; 4]) -> [LaunchPlan; 2] {
    chunked(dims, ["batch_norm_partials", "batch_norm_merge"], 1, 3)
}

/// The batch-norm backward's per-channel sums of `x` and `dy` `[B, C, H, W]`.
pub fn batch_norm_grad_sums(dims: [usize; 4]) -> [LaunchPlan; 2] {
    chunked(
        dims,
        ["batch_norm_grad_partials", "batch_norm_grad_merge"],
        2,
        2,
    )
}

/// One pass of the column sums of `[rows, n]` in groups of `per_group` rows.
fn column_pass(rows: usize, n: usize, per_group: usize) -> (usize, LaunchPlan) {
    let (x, y) = folded(n.div_ceil(COLUMN_WORKGROUP));
    let groups = rows.div_ceil(per_group).max(1);
    let plan = LaunchPlan {
        kernel: "column_sums",
        groups: [x, y, groups],
        workgroup: COLUMN_WORKGROUP,
        serial_loop: per_group.min(rows),
        elements: rows * n,
        bytes_read: rows * n * 4,
        bytes_written: groups * n * 4,
    };
    (per_group, plan)
}

/// The column sums of `[rows, n]` in one pass, a thread per column (software adapters).
pub fn column_sums_one_pass(rows: usize, n: usize) -> (usize, LaunchPlan) {
    column_pass(rows, n, rows.max(1))
}

/// The column sums of `[rows, n]` as `(rows per group, plan)` per pass: one pass for up to
/// [`ROWS_PER_GROUP`] rows, else groups of that many rows (more where the groups' sums would
/// reach [`MAX_PARTIALS`] values), then the sums of the groups.
pub fn column_sums(rows: usize, n: usize) -> Vec<(usize, LaunchPlan)> {
    if rows <= ROWS_PER_GROUP {
        return vec![column_sums_one_pass(rows, n)];
    }
    let per_group = ROWS_PER_GROUP
        .max(rows * n / MAX_PARTIALS + 1)
        .min(MAX_SERIAL)
        .min(rows);
    let groups = rows.div_ceil(per_group);
    vec![
        column_pass(rows, n, per_group),
        column_pass(groups, n, groups),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_channel() {
        for count in [1, 63, 64, 1024, 1025, 262_144, 12_845_056, 300_000_000] {
            let (chunk, chunks) = reduction_chunks(count, 3, 3);
            assert!(chunk * chunks >= count && chunk * (chunks - 1) < count.max(1));
            assert!(
                chunks.div_ceil(REDUCTION_WORKGROUP) <= MAX_SERIAL,
                "{count}"
            );
        }
    }

    /// Feature maps `[B, C, S, S]` of a network of C channels on S×S images at batch B: the
    /// stem's and every cell's (channels ×1, ×2, ×4 of the cell, ×4 of the concatenation) at
    /// S, S/2, S/4, and ImageNet's stem at 2·S when `stem_stride`.
    fn feature_maps(b: usize, c: usize, s: usize, stem_stride: bool) -> Vec<[usize; 4]> {
        let mut maps = vec![[b, 3 * c, s, s]];
        if stem_stride {
            maps.push([b, c / 2, 2 * s, 2 * s]);
        }
        for (level, side) in [s, s / 2, s / 4, s / 8].into_iter().enumerate() {
            let cell = c << level;
            for channels in [cell, 2 * cell, 4 * cell] {
                maps.push([b, channels, side, side]);
            }
        }
        maps
    }

    /// At the paper's search (C=16, batch 256, 32×32), one-stage (C=36, batch 96) and ImageNet
    /// (C=48, batch 1024, 224×224) scales, every reduction call that touches 2²⁰ values or more
    /// launches 2¹⁶ threads or more, and no thread loops more than 256 times.
    #[test]
    fn reductions_fill_a_gpu_at_the_papers_scales() {
        let mut maps = feature_maps(256, 16, 32, false);
        maps.extend(feature_maps(96, 36, 32, false));
        maps.extend(feature_maps(1024, 48, 56, true));
        for dims in maps {
            let plans = batch_norm_statistics(dims)
                .into_iter()
                .chain(batch_norm_grad_sums(dims));
            let [b, c, ..] = dims;
            let weights = [c * 9, c * 25, c * c];
            let sums = weights
                .into_iter()
                .flat_map(|n| column_sums(b, n))
                .map(|(_, p)| p);
            for plan in plans.chain(sums) {
                if plan.elements >= 1 << 20 {
                    assert!(plan.threads() >= 1 << 16, "{dims:?}: {plan:?}");
                }
                assert!(plan.serial_loop <= MAX_SERIAL, "{dims:?}: {plan:?}");
                assert!(plan.groups.iter().all(|&g| g <= MAX_GROUPS), "{plan:?}");
            }
        }
    }

    #[test]
    fn column_sums_pass_rows_through_groups() {
        let passes = column_sums(1024, 144);
        assert_eq!(passes.len(), 2);
        assert_eq!(passes[0].1.groups, [1, 1, 64]);
        assert_eq!(passes[1].1.groups, [1, 1, 1]);
        assert_eq!(passes[1].1.serial_loop, 64);
        assert_eq!(column_sums(8, 10)[0].1.serial_loop, 8);
    }
}
