//! Every WGSL program the host renders, with its template values filled in, so that shader
//! compilers can check them all (`tests/shaders.rs`): each program with each geometry, tile and
//! element type the launch code can choose, and the solver at the sizes that bound its range;
//! and each program's kernel name, as launch plans and the launch record give it.

use super::depthwise_cpu::Geometry;
use super::wgsl::{MAX_POLISH_ROWS, Program, render};

/// The depthwise geometries of the search space: 3×3 and 5×5, separable (dilation 1) and
/// dilated (2), stride 1 and 2, padding d·(k − 1)/2, with and without the op's ReLU fused in.
fn geometries() -> Vec<Geometry> {
    let mut all = Vec::new();
    for kernel in [3, 5] {
        for stride in [1, 2] {
            for dilation in [1, 2] {
                for relu in [false, true] {
                    all.push(Geometry {
                        kernel,
                        stride,
                        padding: dilation * (kernel - 1) / 2,
                        dilation,
                        relu,
                    });
                }
            }
        }
    }
    all
}

/// The solver's sizes M × N: the smallest, either side of the polishing limit, and the caps of
/// `sparse::lasso_gpu` (1,024 × 2,048).
fn lasso_sizes() -> Vec<(u32, u32)> {
    let rows = [1, 2, 8, MAX_POLISH_ROWS, MAX_POLISH_ROWS + 1, 64, 1024];
    let columns = [1, 8, 14, 64, 2048];
    rows.iter()
        .flat_map(|&m| columns.iter().map(move |&n| (m, n)))
        .collect()
}

fn programs() -> Vec<Program> {
    let mut all = vec![
        Program::SoftThreshold,
        Program::MaskedMixedOp,
        Program::BatchNormStatistics,
        Program::BatchNormGradSums,
        Program::BatchNormPartials,
        Program::BatchNormMergeNormalise,
        Program::BatchNormGradPartials,
        Program::BatchNormMergeInputGrad,
        Program::ColumnSums,
    ];
    for quads in [false, true] {
        all.push(Program::Relu { quads });
        all.push(Program::SgdStep { quads });
        all.push(Program::MaskedMixedOpGrad { quads });
        all.push(Program::BatchNormNormalise { quads });
        all.push(Program::BatchNormInputGrad { quads });
    }
    for tile in [1, 4] {
        all.push(Program::PointwiseMix { tile });
        all.push(Program::PointwiseWeightGrad { tile });
    }
    for g in geometries() {
        all.push(Program::DepthwiseForward(g));
        all.push(Program::DepthwiseInputGrad(g));
        all.push(Program::DepthwiseWeightGrad(g));
    }
    for (m, n) in lasso_sizes() {
        all.push(Program::LassoFista { m, n });
    }
    all
}

/// Every program variant as (a name for messages, its WGSL source).
pub fn all_programs() -> Vec<(String, String)> {
    programs()
        .into_iter()
        .map(|p| (format!("{p:?}"), render(p)))
        .collect()
}

impl Program {
    /// The shader's file name without `.wgsl`, as launch plans name the kernel.
    pub(super) fn kernel(self) -> &'static str {
        match self {
            Program::SoftThreshold => "soft_threshold",
            Program::MaskedMixedOp => "masked_mixed_op",
            Program::MaskedMixedOpGrad { .. } => "masked_mixed_op_grad",
            Program::Relu { .. } => "relu",
            Program::SgdStep { .. } => "sgd_step",
            Program::LassoFista { .. } => "lasso_fista",
            Program::BatchNormStatistics => "batch_norm_statistics",
            Program::BatchNormGradSums => "batch_norm_grad_sums",
            Program::BatchNormPartials => "batch_norm_partials",
            Program::BatchNormMergeNormalise => "batch_norm_merge_normalise",
            Program::BatchNormNormalise { .. } => "batch_norm_normalise",
            Program::BatchNormGradPartials => "batch_norm_grad_partials",
            Program::BatchNormMergeInputGrad => "batch_norm_merge_input_grad",
            Program::BatchNormInputGrad { .. } => "batch_norm_input_grad",
            Program::DepthwiseForward(_) => "depthwise_forward",
            Program::DepthwiseInputGrad(_) => "depthwise_input_grad",
            Program::DepthwiseWeightGrad(_) => "depthwise_weight_grad",
            Program::PointwiseMix { .. } => "pointwise_mix",
            Program::PointwiseWeightGrad { .. } => "pointwise_weight_grad",
            Program::ColumnSums => "column_sums",
        }
    }
}
