//! A small builder of ONNX graphs (opset 17) over the ONNX protobuf messages: named f32
//! weights become initializers, each layer one node whose output is named after its module.

use std::collections::BTreeMap;

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{Dimension, dimension};
use onnx_protobuf::type_proto::{self, Value};
use onnx_protobuf::{
    AttributeProto, GraphProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use crate::error::{IstaError, Result};

/// The BN epsilon every network here uses.
const EPSILON: f32 = 1e-5;

/// One f32 tensor: shape and row-major values.
pub type Weight = (Vec<usize>, Vec<f32>);

/// A graph being built: the weights it may use, the initializers and nodes it has.
pub struct GraphBuilder {
    weights: BTreeMap<String, Weight>,
    graph: GraphProto,
    nodes: usize,
}

/// A tensor's value info: f32 with `dims`, where `None` is the symbolic batch size.
pub fn value_info(name: &str, dims: &[Option<usize>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(n) => dimension::Value::DimValue(*n as i64),
                None => dimension::Value::DimParam("batch".into()),
            }),
            ..Default::default()
        })
        .collect();
    let tensor = type_proto::Tensor {
        elem_type: DataType::FLOAT as i32,
        shape: Some(TensorShapeProto {
            dim,
            ..Default::default()
        })
        .into(),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.into(),
        type_: Some(TypeProto {
            value: Some(Value::TensorType(tensor)),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}

fn ints(name: &str, values: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INTS.into(),
        ints: values.iter().map(|&v| v as i64).collect(),
        ..Default::default()
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INT.into(),
        i: value,
        ..Default::default()
    }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::FLOAT.into(),
        f: value,
        ..Default::default()
    }
}

/// Geometry of a square convolution or pool.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Kernel side.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Padding on every side.
    pub padding: usize,
    /// Dilation.
    pub dilation: usize,
}

impl GraphBuilder {
    /// A graph named `name` that may use `weights` (named as the model's modules name them).
    pub fn new(name: &str, weights: BTreeMap<String, Weight>) -> Self {
        Self {
            weights,
            graph: GraphProto {
                name: name.into(),
                ..Default::default()
            },
            nodes: 0,
        }
    }

    /// True when the weights hold `name`.
    pub fn has(&self, name: &str) -> bool {
        self.weights.contains_key(name)
    }

    /// Adds the initializer `name` of `dims` whose little-endian values are `raw`.
    fn initializer(
        &mut self,
        name: &str,
        dims: &[usize],
        data_type: DataType,
        raw: Vec<u8>,
    ) -> String {
        self.graph.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type as i32,
            raw_data: raw,
            ..Default::default()
        });
        name.into()
    }

    fn float32s(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, dims, DataType::FLOAT, raw)
    }

    fn int64s(&mut self, name: &str, values: &[i64]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, &[values.len()], DataType::INT64, raw)
    }

    /// Weight `name` as an initializer (moved out of the weights); its shape.
    fn weight(&mut self, name: &str) -> Result<(String, Vec<usize>)> {
        let (shape, data) = self.weights.remove(name).ok_or_else(|| {
            IstaError::Checkpoint(format!(
                "ONNX export: the model has no tensor {name}, which its network needs"
            ))
        })?;
        Ok((self.float32s(name, &shape, &data), shape))
    }

    /// Adds a node `op` reading `inputs`, named after `module`; its output's name.
    pub fn node(
        &mut self,
        op: &str,
        module: &str,
        inputs: Vec<String>,
        attribute: Vec<AttributeProto>,
    ) -> String {
        self.nodes += 1;
        let name = format!("{module}/{op}_{}", self.nodes);
        let output = format!("{name}:0");
        self.graph.node.push(NodeProto {
            input: inputs,
            output: vec![output.clone()],
            name,
            op_type: op.into(),
            attribute,
            ..Default::default()
        });
        output
    }

    /// ReLU of `x`.
    pub fn relu(&mut self, module: &str, x: String) -> String {
        self.node("Relu", module, vec![x], Vec::new())
    }

    /// The bias-free convolution `{module}.weight` (`groups` groups) of `x`.
    pub fn conv(&mut self, module: &str, x: String, w: Window, groups: usize) -> Result<String> {
        let (weight, shape) = self.weight(&format!("{module}.weight"))?;
        let attributes = vec![
            ints("kernel_shape", &shape[2..]),
            ints("strides", &[w.stride, w.stride]),
            ints("pads", &[w.padding; 4]),
            ints("dilations", &[w.dilation, w.dilation]),
            int("group", groups as i64),
        ];
        Ok(self.node("Conv", module, vec![x, weight], attributes))
    }

    /// The eval-mode batch norm `module` (running statistics; γ = 1, β = 0 when not affine).
    pub fn batch_norm(&mut self, module: &str, x: String) -> Result<String> {
        let (mean, shape) = self.weight(&format!("{module}.running_mean"))?;
        let (var, _) = self.weight(&format!("{module}.running_var"))?;
        let mut affine = |leaf: &str, fill: f32| -> Result<String> {
            let name = format!("{module}.{leaf}");
            if self.has(&name) {
                return Ok(self.weight(&name)?.0);
            }
            Ok(self.float32s(&name, &shape, &vec![fill; shape[0]]))
        };
        let (gamma, beta) = (affine("gamma", 1.0)?, affine("beta", 0.0)?);
        let inputs = vec![x, gamma, beta, mean, var];
        let attributes = vec![float("epsilon", EPSILON)];
        Ok(self.node("BatchNormalization", module, inputs, attributes))
    }

    /// Max pool (padding as −∞) or average pool (padding not counted) of `x`.
    pub fn pool(&mut self, module: &str, x: String, max: bool, w: Window) -> String {
        let mut attributes = vec![
            ints("kernel_shape", &[w.kernel, w.kernel]),
            ints("strides", &[w.stride, w.stride]),
            ints("pads", &[w.padding; 4]),
        ];
        let op = if max {
            "MaxPool"
        } else {
            attributes.push(int("count_include_pad", 0));
            "AveragePool"
        };
        self.node(op, module, vec![x], attributes)
    }

    /// `x[:, :, 1:, 1:]`.
    pub fn shift(&mut self, module: &str, x: String) -> String {
        let starts = self.int64s(&format!("{module}.shift_starts"), &[1, 1]);
        let ends = self.int64s(&format!("{module}.shift_ends"), &[i64::MAX, i64::MAX]);
        let axes = self.int64s(&format!("{module}.shift_axes"), &[2, 3]);
        self.node("Slice", module, vec![x, starts, ends, axes], Vec::new())
    }

    /// `parts` concatenated along the channels.
    pub fn concat(&mut self, module: &str, parts: Vec<String>) -> String {
        self.node("Concat", module, parts, vec![int("axis", 1)])
    }

    /// `a + b`.
    pub fn add(&mut self, module: &str, a: String, b: String) -> String {
        self.node("Add", module, vec![a, b], Vec::new())
    }

    /// Global average pool and flatten: `[B, C, H, W]` → `[B, C]`.
    pub fn global_pool(&mut self, module: &str, x: String) -> String {
        let pooled = self.node("GlobalAveragePool", module, vec![x], Vec::new());
        self.node("Flatten", module, vec![pooled], vec![int("axis", 1)])
    }

    /// The linear layer `module` (weight stored `[in, out]`, bias `[out]`) of `x` `[B, in]`.
    pub fn linear(&mut self, module: &str, x: String) -> Result<String> {
        let (weight, _) = self.weight(&format!("{module}.weight"))?;
        let (bias, _) = self.weight(&format!("{module}.bias"))?;
        Ok(self.node("Gemm", module, vec![x, weight, bias], Vec::new()))
    }

    /// The finished graph with `input` and `output` (the value `last` renamed to it), and
    /// the weights it did not use.
    pub fn finish(
        mut self,
        input: ValueInfoProto,
        last: &str,
        output: ValueInfoProto,
    ) -> (GraphProto, Vec<String>) {
        for node in &mut self.graph.node {
            for name in node.output.iter_mut().chain(node.input.iter_mut()) {
                if name == last {
                    name.clone_from(&output.name);
                }
            }
        }
        self.graph.input.push(input);
        self.graph.output.push(output);
        (self.graph, self.weights.into_keys().collect())
    }
}
