//! The batch sums of the weight gradients (`shaders/column_sums.wgsl`): `[rows, n]` → `[n]`, in
//! one pass on software adapters, in row groups then their sums on GPUs.

use burn::backend::wgpu::CubeTensor;
use burn::tensor::Shape;

use super::launch_plan;
use super::variant::current;
use super::wgsl::{Program, empty_like, launch, plan_grid};

/// The column sums `[rows, n]` → `out` `[n]` (`shaders/column_sums.wgsl`), in the passes of
/// [`launch_plan::column_sums_for`].
pub(super) fn column_sums(m: CubeTensor, rows: usize, n: usize, out: CubeTensor) -> CubeTensor {
    let passes = launch_plan::column_sums_for(rows, n, current());
    let last = passes.len() - 1;
    let (mut input, mut input_rows) = (m, rows);
    for (i, (per_group, plan)) in passes.into_iter().enumerate() {
        let groups = plan.groups[2];
        let target = if i == last {
            out.clone()
        } else {
            empty_like(&input, Shape::new([groups, n]))
        };
        let handles = vec![input.handle.clone(), target.handle.clone()];
        let params = [input_rows as u32, n as u32, per_group as u32];
        launch(
            &input,
            Program::ColumnSums,
            plan_grid(&plan),
            handles,
            &params,
        );
        (input, input_rows) = (target, groups);
    }
    input
}
