//! Launch plans of the convolution kernels (depthwise and 1×1) as pure functions of the shapes
//! and the kernel shape: the launch code dispatches these plans, and `bench --shapes` prints
//! them for any scale without a GPU.

use super::depthwise_cpu::{Geometry, Planes};
use super::launch_plan::{COLUMN_WORKGROUP, LaunchPlan, MAX_SERIAL, folded, pieces};
use super::variant::KernelShape;

/// Threads per workgroup of the depthwise forward and input-gradient kernels (a row of them per
/// image plane, so that the 8×8 planes of the last cells fill a workgroup).
pub const PLANE_WORKGROUP: usize = 64;
/// Output rows (channel mix) per thread where they divide the rows, and the side of the block
/// of weights per thread of the 1×1 weight gradient where it divides both sides (else 1).
pub const ROW_TILE: usize = 4;

/// A per-plane kernel over `[B, C, P]` reading `read` and writing `written` values, `taps`
/// multiply-adds per thread.
fn per_plane(kernel: &'static str, [b, c, p]: [usize; 3], taps: usize, read: usize) -> LaunchPlan {
    LaunchPlan {
        kernel,
        groups: [p.div_ceil(PLANE_WORKGROUP), c, b],
        workgroup: PLANE_WORKGROUP,
        serial_loop: taps,
        elements: read,
        bytes_read: read * 4,
        bytes_written: b * c * p * 4,
    }
}

/// The depthwise forward pass on `[B, C, H, W]`: a thread per output pixel.
pub fn depthwise_forward(dims: [usize; 4], g: Geometry) -> LaunchPlan {
    let p = Planes::new(dims, &g);
    let out = p.output[0] * p.output[1];
    let read = dims.iter().product();
    per_plane(
        "depthwise_forward",
        [p.batch, p.channels, out],
        g.kernel * g.kernel,
        read,
    )
}

/// The depthwise input gradient for an input `[B, C, H, W]`: a thread per input pixel, which
/// also reads its input pixel where the op's ReLU is fused in (the gate).
pub fn depthwise_input_grad(dims: [usize; 4], g: Geometry) -> LaunchPlan {
    let p = Planes::new(dims, &g);
    let read = p.batch * p.channels * p.output[0] * p.output[1];
    let taps = g.kernel * g.kernel;
    let plan = per_plane(
        "depthwise_input_grad",
        [p.batch, p.channels, dims[2] * dims[3]],
        taps,
        read,
    );
    if !g.relu {
        return plan;
    }
    let input: usize = dims.iter().product();
    LaunchPlan {
        elements: read.max(input),
        bytes_read: (read + input) * 4,
        ..plan
    }
}

/// The pieces of a depthwise weight gradient: output rows per thread and pieces per plane.
/// GPUs cut each plane into pieces of at most [`MAX_SERIAL`] pixels (whole rows), more where
/// the threads would not fill the GPU; software adapters take each plane whole.
pub fn depthwise_weight_grad_pieces(
    dims: [usize; 4],
    g: Geometry,
    shape: KernelShape,
) -> (usize, usize) {
    let p = Planes::new(dims, &g);
    let [oh, ow] = p.output;
    match shape {
        KernelShape::Software => (oh.max(1), 1),
        KernelShape::Gpu => {
            let items = p.batch * p.channels * g.kernel * g.kernel;
            pieces(items, oh, (MAX_SERIAL / ow.max(1)).max(1))
        }
    }
}

/// The depthwise weight gradient's first pass for an input `[B, C, H, W]`: a thread per
/// (image, piece of the output plane, weight), writing `[B · pieces, C·k²]` for the column sums.
pub fn depthwise_weight_grad(dims: [usize; 4], g: Geometry, shape: KernelShape) -> LaunchPlan {
    let p = Planes::new(dims, &g);
    let (rows, count) = depthwise_weight_grad_pieces(dims, g, shape);
    let weights = p.channels * g.kernel * g.kernel;
    let threads = p.batch * count * weights;
    let (x, y) = folded(threads.div_ceil(COLUMN_WORKGROUP));
    let input: usize = dims.iter().product();
    let output_grad = p.batch * p.channels * p.output[0] * p.output[1];
    let read = input + output_grad;
    LaunchPlan {
        kernel: "depthwise_weight_grad",
        groups: [x, y, 1],
        workgroup: COLUMN_WORKGROUP,
        serial_loop: rows * p.output[1],
        elements: input.max(output_grad),
        bytes_read: read * 4,
        bytes_written: threads * 4,
    }
}

/// Rows per thread of a channel mix into `rows` rows.
pub fn mix_tile(rows: usize) -> usize {
    if rows.is_multiple_of(ROW_TILE) {
        ROW_TILE
    } else {
        1
    }
}

/// The pieces of a channel mix `[B, K, P]` → `[B, R, P]`: input channels per thread and
/// pieces of K. GPUs cut K into pieces of at most [`MAX_SERIAL`], more where the threads would
/// not fill the GPU, and add the pieces' outputs in a column sum; software adapters take K
/// whole.
pub fn pointwise_mix_pieces([b, k, r, p]: [usize; 4], shape: KernelShape) -> (usize, usize) {
    match shape {
        KernelShape::Software => (k.max(1), 1),
        KernelShape::Gpu => pieces(b * r / mix_tile(r) * (p / 4), k, MAX_SERIAL),
    }
}

/// The channel mix `[B, K, P]` → `[B, R, P]` (the 1×1 forward pass, or its input gradient with
/// R and K swapped): a thread per (tile of rows, four pixels, piece of K), one image per y.
pub fn pointwise_mix([b, k, r, p]: [usize; 4], shape: KernelShape) -> LaunchPlan {
    let (per, count) = pointwise_mix_pieces([b, k, r, p], shape);
    let threads = r / mix_tile(r) * (p / 4);
    let read = b * k * p;
    LaunchPlan {
        kernel: "pointwise_mix",
        groups: [threads.div_ceil(COLUMN_WORKGROUP), b, count],
        workgroup: COLUMN_WORKGROUP,
        serial_loop: per,
        elements: read.max(b * r * p),
        bytes_read: (read + r * k) * 4,
        bytes_written: count * b * r * p * 4,
    }
}

/// The side of the block of weights per thread of a 1×1 weight gradient `[R, K]`.
pub fn weight_grad_tile(r: usize, k: usize) -> usize {
    if r.is_multiple_of(ROW_TILE) && k.is_multiple_of(ROW_TILE) {
        ROW_TILE
    } else {
        1
    }
}

/// The pieces of a 1×1 weight gradient of `[B, K, P]` and `[B, R, P]`: fours of pixels per
/// thread and pieces per plane (GPUs: at most [`MAX_SERIAL`], more pieces where the threads
/// would not fill the GPU; software adapters: the plane whole).
pub fn pointwise_weight_grad_pieces(
    [b, k, r, p]: [usize; 4],
    shape: KernelShape,
) -> (usize, usize) {
    let quads = p / 4;
    match shape {
        KernelShape::Software => (quads.max(1), 1),
        KernelShape::Gpu => {
            let t = weight_grad_tile(r, k);
            pieces(b * (r / t) * (k / t), quads, MAX_SERIAL)
        }
    }
}

/// The 1×1 weight gradient's first pass: a thread per (image, piece of the plane, block of
/// weights) on a flat grid, writing `[B · pieces, R·K]` for the column sums.
pub fn pointwise_weight_grad([b, k, r, p]: [usize; 4], shape: KernelShape) -> LaunchPlan {
    let (per, count) = pointwise_weight_grad_pieces([b, k, r, p], shape);
    let t = weight_grad_tile(r, k);
    let threads = b * count * (r / t) * (k / t);
    let (x, y) = folded(threads.div_ceil(COLUMN_WORKGROUP));
    let read = b * (k + r) * p;
    LaunchPlan {
        kernel: "pointwise_weight_grad",
        groups: [x, y, 1],
        workgroup: COLUMN_WORKGROUP,
        serial_loop: per,
        elements: b * k.max(r) * p,
        bytes_read: read * 4,
        bytes_written: b * count * r * k * 4,
    }
}
