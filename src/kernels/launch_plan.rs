//! Launch plans of the project's reduction kernels as pure functions of the shapes: the grid,
//! the threads, the longest loop one thread runs and the bytes moved. The launch code dispatches
//! exactly these plans, so their arithmetic can be checked at any scale without a GPU.

use super::variant::KernelShape;

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
/// Threads a launch aims for where its loop can be cut: an H100 keeps 132 × 2,048 threads
/// resident, so 2¹⁷ is about half of it, enough to hide memory latency on any GPU.
pub const TARGET_THREADS: usize = 1 << 17;
/// wgpu's largest storage binding in bytes on any adapter (`i32::MAX`: wgpu-hal caps every
/// backend's limit there, whatever the driver reports).
pub const MAX_BINDING: usize = crate::devices::adapter::MAX_STORAGE_BINDING;

/// How a loop of `length` iterations in each of `items` threads is cut into pieces of at most
/// `most` iterations, more where `items` × pieces stays under [`TARGET_THREADS`]: (iterations
/// per piece, pieces).
pub fn pieces(items: usize, length: usize, most: usize) -> (usize, usize) {
    let length = length.max(1);
    let want = length
        .div_ceil(most.max(1))
        .max(TARGET_THREADS.div_ceil(items.max(1)))
        .min(length);
    let per = length.div_ceil(want);
    (per, length.div_ceil(per))
}

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

    /// Bytes of the launch's largest binding: its largest input, or everything it writes where
    /// that is more (a bound on its largest output).
    pub fn largest_binding(&self) -> usize {
        (self.elements * 4).max(self.bytes_written)
    }
}

/// Most chunks per channel of the GPU batch norm where the loops allow: every workgroup of the
/// second pass reads all of its channel's partials, so they stay few.
pub const MAX_CHUNKS: usize = 64;

/// Loop iterations left to the merge of the second pass when a thread's chunk loop is longest.
const MERGE_ROOM: usize = 16;

/// How the `count` = B·P values of a channel are split for batch norm's two passes on GPUs:
/// (chunk length, chunks per channel). A chunk is [`REDUCTION_WORKGROUP`] threads of
/// [`VALUES_PER_THREAD`] values or more, as many as keep the chunks at [`MAX_CHUNKS`] per
/// channel, at most [`MAX_SERIAL`] − [`MERGE_ROOM`] (more chunks past 983,040 values per
/// channel).
pub fn reduction_chunks(count: usize) -> (usize, usize) {
    let wg = REDUCTION_WORKGROUP;
    let per_thread = count
        .div_ceil(wg * MAX_CHUNKS)
        .clamp(VALUES_PER_THREAD, MAX_SERIAL - MERGE_ROOM);
    let chunk = wg * per_thread;
    (chunk, count.div_ceil(chunk).max(1))
}

/// Batch norm's two passes over `inputs` tensors `[B, C, H, W]` on a grid of chunks ×
/// channels: `kernels[0]` reduces each chunk to `width` partial values, `kernels[1]` merges the
/// partials of its channel (every workgroup all of them, so the merge needs no launch of its
/// own), writes the channel's `[C]` results once (`results` rows) and then its chunk of the
/// `[B, C, H, W]` output.
fn two_passes(
    [b, c, h, w]: [usize; 4],
    kernels: [&'static str; 2],
    inputs: usize,
    width: usize,
    results: usize,
) -> [LaunchPlan; 2] {
    let count = b * h * w;
    let (chunk, chunks) = reduction_chunks(count);
    let wg = REDUCTION_WORKGROUP;
    let partial_bytes = c * chunks * width * 4;
    let per_thread = chunk.div_ceil(wg);
    [
        LaunchPlan {
            kernel: kernels[0],
            groups: [chunks, c, 1],
            workgroup: wg,
            serial_loop: per_thread,
            elements: count * c,
            bytes_read: inputs * count * c * 4,
            bytes_written: partial_bytes,
        },
        LaunchPlan {
            kernel: kernels[1],
            groups: [chunks, c, 1],
            workgroup: wg,
            serial_loop: chunks.div_ceil(wg) + per_thread,
            elements: count * c,
            bytes_read: inputs * count * c * 4 + chunks * partial_bytes,
            bytes_written: count * c * 4 + results * c * 4,
        },
    ]
}

/// Training-mode batch norm forward on GPUs: Welford partials per chunk, then per chunk the
/// channel's partials merged (statistics and running statistics written once) and the chunk
/// normalised.
pub fn batch_norm_forward(dims: [usize; 4]) -> [LaunchPlan; 2] {
    two_passes(
        dims,
        ["batch_norm_partials", "batch_norm_merge_normalise"],
        1,
        3,
        4,
    )
}

/// The batch-norm backward on GPUs: partial Σdy and Σdy·x̂ per chunk of `x` and `dy`, then per
/// chunk the channel's sums added (written once: dβ, dγ) and the chunk's input gradient.
pub fn batch_norm_backward(dims: [usize; 4]) -> [LaunchPlan; 2] {
    two_passes(
        dims,
        ["batch_norm_grad_partials", "batch_norm_merge_input_grad"],
        2,
        2,
        2,
    )
}

/// Most partial values a column-sums pass writes, so that the next pass stays a small launch.
const MAX_PARTIALS: usize = 1 << 20;

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

/// The column sums of `[rows, n]` as `(rows per group, plan)` per pass: groups of
/// [`ROWS_PER_GROUP`] rows (more where the groups' sums would reach [`MAX_PARTIALS`] values,
/// at most [`MAX_SERIAL`]), then the groups' sums the same way, until one pass of at most
/// [`ROWS_PER_GROUP`] rows is left.
pub fn column_sums(rows: usize, n: usize) -> Vec<(usize, LaunchPlan)> {
    let mut passes = Vec::new();
    let mut rows = rows;
    while rows > ROWS_PER_GROUP {
        let per_group = ROWS_PER_GROUP
            .max(rows * n / MAX_PARTIALS + 1)
            .min(MAX_SERIAL);
        passes.push(column_pass(rows, n, per_group));
        rows = rows.div_ceil(per_group);
    }
    passes.push(column_sums_one_pass(rows, n));
    passes
}

/// The column-sums passes of `[rows, n]` under `shape`: one pass, a thread per column, on
/// software adapters (a second launch costs more there than it gains), [`column_sums`] on GPUs.
pub fn column_sums_for(rows: usize, n: usize, shape: KernelShape) -> Vec<(usize, LaunchPlan)> {
    match shape {
        KernelShape::Software => vec![column_sums_one_pass(rows, n)],
        KernelShape::Gpu => column_sums(rows, n),
    }
}

/// ReLU or its backward over `n` values, reading `inputs` tensors (the backward: the output
/// and its gradient), four values per thread where 4 divides `n`.
pub fn relu(n: usize, inputs: usize) -> LaunchPlan {
    let per_thread = if n.is_multiple_of(4) { 4 } else { 1 };
    elementwise("relu", n, per_thread, COLUMN_WORKGROUP, (inputs, 1), 1)
}

/// An elementwise launch of one thread per `per_thread` of `n` values of `inputs` tensors into
/// `outputs`, on 1-D workgroups of `workgroup` folded past [`MAX_GROUPS`], each thread looping
/// `serial_loop` times.
pub fn elementwise(
    kernel: &'static str,
    n: usize,
    per_thread: usize,
    workgroup: usize,
    (inputs, outputs): (usize, usize),
    serial_loop: usize,
) -> LaunchPlan {
    let (x, y) = folded(n.div_ceil(per_thread).div_ceil(workgroup));
    LaunchPlan {
        kernel,
        groups: [x, y, 1],
        workgroup,
        serial_loop,
        elements: n,
        bytes_read: inputs * n * 4,
        bytes_written: outputs * n * 4,
    }
}

/// A per-channel reduction of `inputs` tensors `[B, C, H, W]` in one launch, one workgroup per
/// channel walking its B·H·W values (software adapters): the serial loop of one pass.
pub fn batch_norm_per_channel(
    kernel: &'static str,
    [b, c, h, w]: [usize; 4],
    inputs: usize,
) -> LaunchPlan {
    let count = b * h * w;
    let (x, y) = folded(c);
    LaunchPlan {
        kernel,
        groups: [x, y, 1],
        workgroup: REDUCTION_WORKGROUP,
        serial_loop: count.div_ceil(REDUCTION_WORKGROUP),
        elements: count * c,
        bytes_read: inputs * count * c * 4,
        bytes_written: 4 * c * 4,
    }
}

/// The mixed op over `support` stacked op outputs of `width` values: a thread per output
/// value, a loop over the ops.
pub fn masked_mixed_op(width: usize, support: usize) -> LaunchPlan {
    let plan = elementwise(
        "masked_mixed_op",
        width,
        1,
        COLUMN_WORKGROUP,
        (support, 1),
        support,
    );
    LaunchPlan {
        elements: width * support,
        ..plan
    }
}

/// The mixed op's gradient for its `support` op outputs from one of `width` values: a thread
/// per four values (one where 4 does not divide the width), a loop over the ops.
pub fn masked_mixed_op_grad(width: usize, support: usize) -> LaunchPlan {
    let per_thread = if width.is_multiple_of(4) { 4 } else { 1 };
    elementwise(
        "masked_mixed_op_grad",
        width,
        per_thread,
        COLUMN_WORKGROUP,
        (1, support),
        support,
    )
}

/// Batch norm's per-pixel kernels on software adapters (`batch_norm_normalise`,
/// `batch_norm_input_grad`) on `[B, C, H, W]`, reading `inputs` such tensors: a row of
/// [`REDUCTION_WORKGROUP`] threads per plane, four pixels per thread where 4 divides the plane
/// (no division by the plane, which llvmpipe runs one lane at a time).
pub fn batch_norm_per_pixel(
    kernel: &'static str,
    [b, c, h, w]: [usize; 4],
    inputs: usize,
) -> LaunchPlan {
    let plane = h * w;
    let per_thread = if plane.is_multiple_of(4) { 4 } else { 1 };
    let n = b * c * plane;
    LaunchPlan {
        kernel,
        groups: [(plane / per_thread).div_ceil(REDUCTION_WORKGROUP), c, b],
        workgroup: REDUCTION_WORKGROUP,
        serial_loop: 1,
        elements: n,
        bytes_read: inputs * n * 4,
        bytes_written: n * 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_channel() {
        for count in [
            1,
            63,
            64,
            1024,
            1025,
            262_144,
            1 << 20,
            12_845_056,
            300_000_000,
        ] {
            let (chunk, chunks) = reduction_chunks(count);
            assert!(chunk * chunks >= count && chunk * (chunks - 1) < count.max(1));
            let merge = chunks.div_ceil(REDUCTION_WORKGROUP);
            assert!(chunk / REDUCTION_WORKGROUP + merge <= MAX_SERIAL || count > 1 << 24);
            let most = REDUCTION_WORKGROUP * MAX_CHUNKS * (MAX_SERIAL - MERGE_ROOM);
            assert!(count > most || chunks <= MAX_CHUNKS, "{count}");
        }
        assert_eq!(reduction_chunks(262_144), (4096, 64));
        assert_eq!(reduction_chunks(16_384), (1024, 16));
    }

    #[test]
    fn column_sums_pass_rows_through_groups() {
        let passes = column_sums(1024, 144);
        let groups: Vec<_> = passes.iter().map(|(_, p)| p.groups[2]).collect();
        assert_eq!(groups, [64, 4, 1]);
        assert!(passes.iter().all(|(_, p)| p.serial_loop <= ROWS_PER_GROUP));
        assert_eq!(column_sums(8, 10)[0].1.serial_loop, 8);
        // 13,312 rows (ImageNet's depthwise pieces): 832, 52, 4, 1
        let passes = column_sums(13_312, 1200);
        assert_eq!(passes.len(), 4);
        assert!(passes.iter().all(|(_, p)| p.serial_loop <= MAX_SERIAL));
    }

    #[test]
    fn pieces_cut_long_loops_and_fill_the_gpu() {
        assert_eq!(pieces(1 << 20, 1024, 256), (256, 4));
        assert_eq!(pieces(1 << 20, 100, 256), (100, 1));
        assert_eq!(pieces(1 << 12, 1024, 256), (32, 32));
        assert_eq!(pieces(1, 5, 256), (1, 5));
        for (items, length) in [(1, 1), (7, 1000), (300_000, 3), (4096, 257)] {
            let (per, count) = pieces(items, length, 64);
            assert!(per <= 64 && per * count >= length && per * (count - 1) < length);
        }
    }
}
