//! The project's own kernel launches on this thread, by kernel and grid, while a recording is
//! open: what the tests compare launch by launch with the walk of `bench --shapes`.

use std::cell::RefCell;

use burn::cubecl::CubeCount;

use super::wgsl::Program;

/// One launch: the kernel (its shader's file name, as launch plans name it) and its grid.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Recorded {
    /// The kernel.
    pub kernel: &'static str,
    /// Workgroups along x, y and z.
    pub groups: [usize; 3],
}

thread_local! {
    static RECORD: RefCell<Option<Vec<Recorded>>> = const { RefCell::new(None) };
}

/// Runs `f` and returns what it returns with every own launch it issued on this thread.
pub fn record_launches<T>(f: impl FnOnce() -> T) -> (T, Vec<Recorded>) {
    let outer = RECORD.with(|r| r.borrow_mut().replace(Vec::new()));
    let out = f();
    let recorded = RECORD.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer));
    (out, recorded.unwrap_or_default())
}

/// Notes a launch of `program` on `count` workgroups, when a recording is open.
pub(super) fn note(program: Program, count: &CubeCount) {
    RECORD.with(|r| {
        if let Some(record) = r.borrow_mut().as_mut() {
            let groups = match count {
                CubeCount::Static(x, y, z) => [*x, *y, *z].map(|g| g as usize),
                _ => [0; 3],
            };
            record.push(Recorded {
                kernel: program.kernel(),
                groups,
            });
        }
    });
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
