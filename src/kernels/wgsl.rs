//! Launch code of the WGSL kernels on Burn's CubeCL wgpu runtime (f32 tensors).

use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{
    CubeBackend, CubeTensor, KernelSource, SourceKernel, SourceTemplate, into_contiguous,
};
use burn::cubecl::server::{Handle, KernelArguments, MetadataBindingInfo};
use burn::cubecl::{CubeCount, CubeDim, prelude::KernelId};
use burn::tensor::{DType, FloatDType, Shape};

use super::depthwise_cpu::Geometry;
use super::launch_plan::{self, LaunchPlan};
use super::{FistaLaunch, IstaOps, SolverOps, Support};

const SOFT_THRESHOLD_FN: &str = include_str!("../../shaders/soft_threshold.wgsl");
const SOFT_THRESHOLD_MAP: &str = include_str!("../../shaders/soft_threshold_map.wgsl");
const MASKED_MIXED_OP: &str = include_str!("../../shaders/masked_mixed_op.wgsl");
const MASKED_MIXED_OP_GRAD: &str = include_str!("../../shaders/masked_mixed_op_grad.wgsl");
const LASSO_FISTA: &str = include_str!("../../shaders/lasso_fista.wgsl");
const WORKGROUP_SUM: &str = include_str!("../../shaders/workgroup_sum.wgsl");
const BN_WRITE_STATISTICS: &str = include_str!("../../shaders/batch_norm_write_statistics.wgsl");
const BN_STATISTICS: &str = include_str!("../../shaders/batch_norm_statistics.wgsl");
const BN_GRAD_SUMS: &str = include_str!("../../shaders/batch_norm_grad_sums.wgsl");
const WELFORD: &str = include_str!("../../shaders/welford.wgsl");
const BN_PARTIALS: &str = include_str!("../../shaders/batch_norm_partials.wgsl");
const BN_MERGE_NORMALISE: &str = include_str!("../../shaders/batch_norm_merge_normalise.wgsl");
const BN_NORMALISE: &str = include_str!("../../shaders/batch_norm_normalise.wgsl");
const BN_GRAD_PARTIALS: &str = include_str!("../../shaders/batch_norm_grad_partials.wgsl");
const BN_MERGE_INPUT_GRAD: &str = include_str!("../../shaders/batch_norm_merge_input_grad.wgsl");
const BN_INPUT_GRAD: &str = include_str!("../../shaders/batch_norm_input_grad.wgsl");
const BN_PIXEL: &str = include_str!("../../shaders/batch_norm_pixel.wgsl");
const RELU: &str = include_str!("../../shaders/relu.wgsl");
const SGD_STEP: &str = include_str!("../../shaders/sgd_step.wgsl");
const DW_GEOMETRY: &str = include_str!("../../shaders/depthwise_geometry.wgsl");
const DW_FORWARD: &str = include_str!("../../shaders/depthwise_forward.wgsl");
const DW_INPUT_GRAD: &str = include_str!("../../shaders/depthwise_input_grad.wgsl");
const DW_WEIGHT_GRAD: &str = include_str!("../../shaders/depthwise_weight_grad.wgsl");
const COLUMN_SUMS: &str = include_str!("../../shaders/column_sums.wgsl");
const POINTWISE_MIX: &str = include_str!("../../shaders/pointwise_mix.wgsl");
const POINTWISE_WEIGHT_GRAD: &str = include_str!("../../shaders/pointwise_weight_grad.wgsl");

/// Threads per workgroup of the elementwise and per-channel kernels.
pub(super) const WORKGROUP: u32 = 256;
/// Threads per workgroup of the kernels that give each workgroup one image plane (so that the
/// 8×8 planes of the last cells do not leave most of a larger workgroup idle).
pub(super) const PLANE_WORKGROUP: u32 = 64;
const _: () = assert!(
    PLANE_WORKGROUP as usize == super::launch_plan::REDUCTION_WORKGROUP
        && PLANE_WORKGROUP as usize == super::conv_launch_plan::PLANE_WORKGROUP
        && WORKGROUP as usize == super::launch_plan::COLUMN_WORKGROUP
);
/// Threads per workgroup of the solver (one problem per workgroup).
pub const SOLVER_WORKGROUP: u32 = 64;
/// Largest M whose QR polishing fits the solver's workgroup memory.
pub const MAX_POLISH_ROWS: u32 = 16;
/// Most workgroups per dispatch dimension (WebGPU's guaranteed limit).
pub(super) const MAX_GROUPS: u32 = super::launch_plan::MAX_GROUPS as u32;

/// Which WGSL program, with its template values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Program {
    SoftThreshold,
    MaskedMixedOp,
    /// Four elements per thread when `quads`.
    MaskedMixedOpGrad {
        quads: bool,
    },
    /// Four elements per thread when `quads`.
    Relu {
        quads: bool,
    },
    /// Four values per thread when `quads`.
    SgdStep {
        quads: bool,
    },
    LassoFista {
        m: u32,
        n: u32,
    },
    /// The batch statistics, one workgroup per channel (software adapters).
    BatchNormStatistics,
    /// The gradient sums, one workgroup per channel (software adapters).
    BatchNormGradSums,
    /// Welford partials of the batch statistics per chunk of a channel.
    BatchNormPartials,
    /// Per chunk, the partials of its channel merged and the chunk normalised.
    BatchNormMergeNormalise,
    /// Four pixels per thread when `quads`, a row of workgroups per plane (software adapters).
    BatchNormNormalise {
        quads: bool,
    },
    /// Partial gradient sums per chunk of a channel.
    BatchNormGradPartials,
    /// Per chunk, the partial gradient sums of its channel added and the chunk's input gradient.
    BatchNormMergeInputGrad,
    /// Four pixels per thread when `quads`, a row of workgroups per plane (software adapters).
    BatchNormInputGrad {
        quads: bool,
    },
    DepthwiseForward(Geometry),
    DepthwiseInputGrad(Geometry),
    DepthwiseWeightGrad(Geometry),
    /// Rows per thread.
    PointwiseMix {
        tile: u32,
    },
    /// Weights per thread: a tile × tile block.
    PointwiseWeightGrad {
        tile: u32,
    },
    ColumnSums,
}

impl Program {
    /// Threads per workgroup.
    pub(super) fn workgroup(self) -> u32 {
        match self {
            Program::BatchNormNormalise { .. }
            | Program::BatchNormInputGrad { .. }
            | Program::DepthwiseForward(_)
            | Program::DepthwiseInputGrad(_)
            | Program::BatchNormStatistics
            | Program::BatchNormGradSums
            | Program::BatchNormPartials
            | Program::BatchNormMergeNormalise
            | Program::BatchNormGradPartials
            | Program::BatchNormMergeInputGrad => PLANE_WORKGROUP,
            Program::LassoFista { .. } => SOLVER_WORKGROUP,
            _ => WORKGROUP,
        }
    }
}

struct WgslKernel(Program);

impl KernelSource for WgslKernel {
    fn source(&self) -> SourceTemplate {
        match self.0 {
            Program::SoftThreshold => {
                SourceTemplate::new(format!("{SOFT_THRESHOLD_FN}\n{SOFT_THRESHOLD_MAP}"))
                    .register("workgroup_size", WORKGROUP.to_string())
            }
            Program::MaskedMixedOp => plain(MASKED_MIXED_OP),
            Program::MaskedMixedOpGrad { quads } => {
                plain(MASKED_MIXED_OP_GRAD).register("elem", elem(quads))
            }
            Program::Relu { quads } => plain(RELU)
                .register("elem", elem(quads))
                .register("bits", if quads { "vec4<u32>" } else { "u32" }),
            Program::SgdStep { quads } => plain(SGD_STEP).register("elem", elem(quads)),
            Program::LassoFista { m, n } => {
                let polish = m <= MAX_POLISH_ROWS;
                SourceTemplate::new(format!("{SOFT_THRESHOLD_FN}\n{LASSO_FISTA}"))
                    .register("workgroup_size", SOLVER_WORKGROUP.to_string())
                    .register("m", m.to_string())
                    .register("n", n.to_string())
                    .register("polish", polish.to_string())
                    .register("polish_rows", if polish { m } else { 1 }.to_string())
            }
            Program::BatchNormStatistics => {
                with_workgroup_sum(&format!("{BN_WRITE_STATISTICS}\n{BN_STATISTICS}"))
            }
            Program::BatchNormGradSums => with_workgroup_sum(BN_GRAD_SUMS),
            Program::BatchNormPartials => with_moments(BN_PARTIALS),
            Program::BatchNormMergeNormalise => {
                with_moments(&format!("{BN_WRITE_STATISTICS}\n{BN_MERGE_NORMALISE}"))
            }
            Program::BatchNormGradPartials => with_workgroup_sum(BN_GRAD_PARTIALS),
            Program::BatchNormMergeInputGrad => with_workgroup_sum(BN_MERGE_INPUT_GRAD),
            Program::BatchNormNormalise { quads } => per_pixel(BN_NORMALISE, quads),
            Program::BatchNormInputGrad { quads } => per_pixel(BN_INPUT_GRAD, quads),
            Program::DepthwiseForward(g) => {
                with_geometry(per_plane(&format!("{DW_GEOMETRY}\n{DW_FORWARD}")), g)
            }
            Program::DepthwiseInputGrad(g) => {
                with_geometry(per_plane(&format!("{DW_GEOMETRY}\n{DW_INPUT_GRAD}")), g)
            }
            Program::DepthwiseWeightGrad(g) => {
                with_geometry(plain(&format!("{DW_GEOMETRY}\n{DW_WEIGHT_GRAD}")), g)
            }
            Program::PointwiseMix { tile } => {
                plain(POINTWISE_MIX).register("tile", tile.to_string())
            }
            Program::PointwiseWeightGrad { tile } => plain(POINTWISE_WEIGHT_GRAD)
                .register("tile", tile.to_string())
                .register("tile_squared", (tile * tile).to_string()),
            Program::ColumnSums => plain(COLUMN_SUMS),
        }
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info(format!("{:?}", self.0))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// The WGSL source of `program` with its template values filled in.
pub(super) fn render(program: Program) -> String {
    WgslKernel(program).source().complete()
}

/// A depthwise program with its geometry compiled in.
fn with_geometry(template: SourceTemplate, g: Geometry) -> SourceTemplate {
    template
        .register("kernel", g.kernel.to_string())
        .register("stride", g.stride.to_string())
        .register("padding", g.padding.to_string())
        .register("dilation", g.dilation.to_string())
        .register("relu", g.relu.to_string())
}

/// The element type of a program that takes four values per thread when `quads`.
fn elem(quads: bool) -> &'static str {
    if quads { "vec4<f32>" } else { "f32" }
}

/// A program on workgroups of [`WORKGROUP`] threads.
fn plain(program: &str) -> SourceTemplate {
    SourceTemplate::new(program).register("workgroup_size", WORKGROUP.to_string())
}

/// A per-pixel batch-norm program with its thread's place (`shaders/batch_norm_pixel.wgsl`).
fn per_pixel(program: &str, quads: bool) -> SourceTemplate {
    per_plane(&format!("{BN_PIXEL}\n{program}")).register("elem", elem(quads))
}

/// A program on workgroups of [`PLANE_WORKGROUP`] threads.
fn per_plane(program: &str) -> SourceTemplate {
    SourceTemplate::new(program).register("workgroup_size", PLANE_WORKGROUP.to_string())
}

/// A per-channel program on [`PLANE_WORKGROUP`] threads, with the workgroup reduction it calls
/// (fewer threads than [`WORKGROUP`]: on llvmpipe every barrier of its tree switches each group
/// of 8 lanes in turn).
fn with_workgroup_sum(program: &str) -> SourceTemplate {
    per_plane(&format!("{WORKGROUP_SUM}\n{program}"))
}

/// A per-channel program on [`PLANE_WORKGROUP`] threads with the Welford moments and their
/// workgroup merge, and the channel walk.
fn with_moments(program: &str) -> SourceTemplate {
    per_plane(&format!("{WELFORD}\n{WORKGROUP_SUM}\n{program}"))
}

/// Whether the per-plane kernels' launches on `[B, C, H, W]` fit the per-dimension workgroup
/// limit: images and channels are grid dimensions, the pixel blocks of a plane the third.
pub(super) fn fits_planes([b, c, h, w]: [usize; 4]) -> bool {
    let max = MAX_GROUPS as usize;
    b.max(c) <= max && (h * w).div_ceil(PLANE_WORKGROUP as usize) <= max
}

/// The grid of a launch plan.
pub(super) fn plan_grid(plan: &LaunchPlan) -> CubeCount {
    let [x, y, z] = plan.groups.map(|g| g as u32);
    CubeCount::Static(x, y, z)
}

/// A 1-D grid of `groups` workgroups, folded into y past the per-dimension limit.
pub(super) fn grid(groups: u32) -> CubeCount {
    let (x, y) = super::launch_plan::folded(groups as usize);
    CubeCount::Static(x as u32, y as u32, 1)
}

pub(super) fn u32_bytes(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

/// An uninitialised contiguous f32 tensor on the same device as `like`.
pub(super) fn empty_like(like: &CubeTensor, shape: Shape) -> CubeTensor {
    let bytes = shape.num_elements() * DType::F32.size();
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        shape,
        like.client.empty(bytes),
        DType::F32,
    )
}

/// Launches the solver, whose parameters are a storage buffer among `buffers`.
fn launch_solver(like: &CubeTensor, program: Program, count: CubeCount, buffers: Vec<Handle>) {
    let arguments = buffers.into_iter().fold(KernelArguments::new(), |args, h| {
        args.with_buffer(h.binding())
    });
    super::launch_record::note(program.kernel(), &count);
    let kernel = SourceKernel::new(WgslKernel(program), CubeDim::new_1d(SOLVER_WORKGROUP));
    like.client.launch(Box::new(kernel), count, arguments);
}

/// Most u32 parameters of one launch (the shaders' `Params` uniform: 4 × vec4<u32>).
const MAX_PARAMS: usize = 16;

/// Launches `program` on `buffers` with `params` in a uniform bound after them. CubeCL caches
/// uniforms by content, so a launch with the same sizes reuses one instead of uploading a buffer.
pub(super) fn launch(
    like: &CubeTensor,
    program: Program,
    count: CubeCount,
    buffers: Vec<Handle>,
    params: &[u32],
) {
    assert!(
        params.len() <= MAX_PARAMS,
        "at most {MAX_PARAMS} parameters"
    );
    let mut words = [0u32; MAX_PARAMS];
    words[..params.len()].copy_from_slice(params);
    // Two u32 per u64 word, low first: the uniform's bytes are the u32s in order.
    let packed = words
        .chunks_exact(2)
        .map(|p| u64::from(p[0]) | (u64::from(p[1]) << 32))
        .collect();
    let arguments = buffers.into_iter().fold(KernelArguments::new(), |args, h| {
        args.with_buffer(h.binding())
    });
    let arguments = arguments.with_info(MetadataBindingInfo::custom(packed));
    super::launch_record::note(program.kernel(), &count);
    let kernel = SourceKernel::new(WgslKernel(program), CubeDim::new_1d(program.workgroup()));
    like.client.launch(Box::new(kernel), count, arguments);
}

/// `value` where `gate` > 0, else 0 (`shaders/relu.wgsl`): ReLU and its backward.
fn gate(gate: CubeTensor, value: CubeTensor) -> CubeTensor {
    let shape = value.meta.shape().clone();
    let n = shape.num_elements();
    if n == 0 {
        return value;
    }
    let out = empty_like(&value, shape);
    let handles = vec![
        gate.handle.clone(),
        value.handle.clone(),
        out.handle.clone(),
    ];
    let quads = n.is_multiple_of(4);
    // the forward reads x twice (gate and value), the backward y and dy: 2 inputs either way
    let plan = launch_plan::relu(n, 2);
    let elems = if quads { n / 4 } else { n } as u32;
    launch(
        &value,
        Program::Relu { quads },
        plan_grid(&plan),
        handles,
        &[elems],
    );
    out
}

impl IstaOps for CubeBackend {
    fn soft_threshold(x: FloatTensor<Self>, threshold: f32) -> FloatTensor<Self> {
        let x = into_contiguous(x);
        let shape = x.meta.shape().clone();
        let n = shape.num_elements();
        if n == 0 {
            return x;
        }
        let out = empty_like(&x, shape);
        let plan = launch_plan::elementwise("soft_threshold", n, 1, WORKGROUP as usize, (1, 1), 1);
        let groups = plan_grid(&plan);
        let handles = vec![x.handle.clone(), out.handle.clone()];
        let params = [n as u32, threshold.to_bits()];
        launch(&x, Program::SoftThreshold, groups, handles, &params);
        out
    }

    fn relu_kernel(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let x = into_contiguous(x);
        gate(x.clone(), x)
    }

    fn relu_kernel_grad(y: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        gate(into_contiguous(y), into_contiguous(dy))
    }

    fn masked_mixed_op(
        ops: FloatTensor<Self>,
        coeffs: FloatTensor<Self>,
        support: Support,
    ) -> FloatTensor<Self> {
        let ops = into_contiguous(ops);
        let coeffs = into_contiguous(coeffs);
        let shape = super::mixed_shape(ops.meta.shape());
        let width = shape.num_elements();
        if support.is_empty() || width == 0 {
            // Zero-size buffers cannot be bound: nothing active means a zero output.
            return Self::float_zeros(shape, &ops.device, FloatDType::F32);
        }
        let out = empty_like(&ops, shape);
        let support_buf = ops.client.create_from_slice(&u32_bytes(&support));
        let plan = launch_plan::masked_mixed_op(width, support.len());
        let groups = plan_grid(&plan);
        let handles = vec![
            ops.handle.clone(),
            coeffs.handle.clone(),
            support_buf,
            out.handle.clone(),
        ];
        let params = [width as u32, support.len() as u32];
        launch(&ops, Program::MaskedMixedOp, groups, handles, &params);
        out
    }

    fn masked_mixed_op_grad(
        g: FloatTensor<Self>,
        coeffs: FloatTensor<Self>,
        support: Support,
    ) -> FloatTensor<Self> {
        let (g, coeffs) = (into_contiguous(g), into_contiguous(coeffs));
        let width = g.meta.shape().num_elements();
        let shape = Shape::new([support.len(), width]);
        if support.is_empty() || width == 0 {
            return Self::float_zeros(shape, &g.device, FloatDType::F32);
        }
        let out = empty_like(&g, shape);
        let support_buf = g.client.create_from_slice(&u32_bytes(&support));
        let plan = launch_plan::masked_mixed_op_grad(width, support.len());
        let quads = width.is_multiple_of(4);
        let handles = vec![
            g.handle.clone(),
            coeffs.handle.clone(),
            support_buf,
            out.handle.clone(),
        ];
        let elems = if quads { width / 4 } else { width };
        let params = [elems as u32, support.len() as u32];
        let program = Program::MaskedMixedOpGrad { quads };
        launch(&g, program, plan_grid(&plan), handles, &params);
        out
    }
}

impl SolverOps for CubeBackend {
    fn lasso_fista(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        state: FloatTensor<Self>,
        launch_: FistaLaunch,
    ) -> FloatTensor<Self> {
        let a = into_contiguous(a);
        let b = into_contiguous(b);
        let state = into_contiguous(state);
        let problems = a.meta.shape()[0];
        if problems == 0 {
            return state;
        }
        let lip = a.client.create_from_slice(&f32_bytes(&launch_.lipschitz));
        let params = a.client.create_from_slice(&u32_bytes(&[
            problems as u32,
            launch_.max_iter,
            launch_.lambda.to_bits(),
            launch_.tol.to_bits(),
            launch_.kkt_tol.to_bits(),
            launch_.chunk,
        ]));
        let program = Program::LassoFista {
            m: launch_.m as u32,
            n: launch_.n as u32,
        };
        for _ in 0..launch_.dispatches {
            launch_solver(
                &a,
                program,
                grid(problems as u32),
                vec![
                    a.handle.clone(),
                    b.handle.clone(),
                    lip.clone(),
                    params.clone(),
                    state.handle.clone(),
                ],
            );
        }
        state
    }
}

/// Loop iterations one solver invocation may spend per dispatch, under llvmpipe's budget of
/// 65,535 per invocation (shared by every loop in the shader).
const LOOP_BUDGET: usize = 50_000;

/// FISTA iterations per dispatch for an M × N problem: a bound on the loop iterations of one
/// iteration of `lasso_fista.wgsl`, and of one polish, keeps a dispatch inside [`LOOP_BUDGET`].
pub fn fista_chunk(m: usize, n: usize) -> u32 {
    let wg = SOLVER_WORKGROUP as usize;
    let per_thread = n.div_ceil(wg);
    let per_iteration = m.div_ceil(wg) * (n + 1) + per_thread * (m + 4) + 8;
    let pm = if m <= MAX_POLISH_ROWS as usize { m } else { 0 };
    let polish = pm * (n + 1)
        + m * (pm + 1)
        + pm * (4 * m + 2 * pm * m)
        + pm * pm
        + n * (m + pm + 1)
        + per_thread * (pm + 1)
        + per_thread;
    let room = LOOP_BUDGET.saturating_sub(polish + n);
    (room / per_iteration).clamp(1, 4096) as u32
}
