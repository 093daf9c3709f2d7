//! State dicts in tests: the name and shape lists printed by the reference PyTorch networks
//! (tests/fixtures/*.txt) and the tensors of SafeTensors files.

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, SafeTensors};

/// The `name [shape]` lines of the fixture `name`, by name.
pub fn reference_shapes(fixture: &str) -> BTreeMap<String, Vec<usize>> {
    let text = std::fs::read_to_string(format!("tests/fixtures/{fixture}")).unwrap();
    text.lines()
        .map(|line| {
            let (name, shape) = line.split_once(' ').unwrap();
            let dims = shape.trim_matches(|c| c == '[' || c == ']');
            let dims = dims.split(", ").filter(|d| !d.is_empty());
            (name.to_string(), dims.map(|d| d.parse().unwrap()).collect())
        })
        .collect()
}

/// Every tensor's shape, by name.
pub fn shapes(file: &SafeTensors) -> BTreeMap<String, Vec<usize>> {
    let tensors = file.tensors().into_iter();
    tensors.map(|(n, v)| (n, v.shape().to_vec())).collect()
}

/// The values of the f32 tensor `name`.
pub fn f32s(file: &SafeTensors, name: &str) -> Vec<f32> {
    let view = file.tensor(name).unwrap_or_else(|_| panic!("no {name}"));
    assert_eq!(view.dtype(), Dtype::F32, "{name}");
    let data = view.data().chunks_exact(4);
    data.map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// The values of the i64 tensor `name`.
pub fn i64s(file: &SafeTensors, name: &str) -> Vec<i64> {
    let view = file.tensor(name).unwrap_or_else(|_| panic!("no {name}"));
    assert_eq!(view.dtype(), Dtype::I64, "{name}");
    let data = view.data().chunks_exact(8);
    data.map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}
