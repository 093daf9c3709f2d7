//! The search space as Burn modules: ops, the shared network skeleton, sparse (ISTA-NAS) and
//! mixed (DARTS) search cells, evaluation cells and networks.

pub mod complexity;
pub mod conv;
pub mod drop_path;
pub mod eval_cell;
pub mod eval_network;
pub mod heads;
pub mod mixed_cell;
pub mod norm;
pub mod ops;
pub mod running_stat;
pub mod skeleton;
pub mod sparse_cell;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// Trainable parameters of a module living on an autodiff device (BN running statistics,
/// which are buffers, are not counted; Burn's `num_params` counts them).
pub fn trainable_params<M: Module>(module: &M) -> usize {
    struct Count(usize);
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.is_require_grad() {
                self.0 += param.lazy_shape().num_elements();
            }
        }
    }
    let mut count = Count(0);
    module.visit(&mut count);
    count.0
}
