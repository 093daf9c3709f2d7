//! Host slices in and out of Burn's CPU backend tensors, for the CPU kernels.

use burn::backend::flex::{FlexTensor, Layout};
use burn::tensor::{Bytes, DType, Shape};

/// The tensor in contiguous row-major f32 storage starting at offset 0.
pub fn contiguous(t: FlexTensor) -> FlexTensor {
    let t = t.to_contiguous();
    match t.as_slice::<f32>() {
        Some(_) => t,
        None => FlexTensor::from_data(t.into_data()), // an offset view: copy it out
    }
}

/// The values of a tensor made by [`contiguous`].
pub fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

/// A contiguous f32 tensor of `dims` holding `values`.
pub fn flex_tensor(values: Vec<f32>, dims: &[usize]) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(Shape::from(dims.to_vec())),
        DType::F32,
    )
}

/// The first four dims of a tensor.
pub fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    [s[0], s[1], s[2], s[3]]
}

/// True for an f32 tensor on Burn's CPU backend (with or without autodiff): the CPU kernels apply.
pub fn on_cpu<const D: usize>(x: &burn::tensor::Tensor<D>) -> bool {
    let flex = matches!(
        x.device().inner().as_dispatch(),
        burn::backend::DispatchDevice::Flex(_)
    );
    flex && x.dtype() == DType::F32
}
