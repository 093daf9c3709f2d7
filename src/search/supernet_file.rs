//! `supernet.safetensors`, rewritten after every search epoch: the supernet's weights and BN
//! running statistics under the state-dict names of the reference search code (the authors'
//! `NetWork` for ISTA-NAS, DARTS's `Network` for the baselines; see `storage::torch_names`),
//! the architecture variables under the names those networks give them, and for ISTA-NAS each
//! node's measurement matrix A, recovered z, support and the bias the authors'
//! `sample_and_proj` computes; metadata: method, epoch, C, L, classes, seed, genotype.

use std::collections::HashMap;

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use super::ista_arch::{ArchParams, Architect, EpochSupports};
use crate::error::Result;
use crate::model::skeleton::NetworkConfig;
use crate::search_space::genotype::Genotype;
use crate::search_space::primitives::PRIMITIVES;
use crate::storage::model_file::module_safetensors;
use crate::storage::torch_names::{Entry, Reference, f32_entry, i64_entry, to_torch};

/// The file's name in a search's run folder.
pub const SUPERNET_FILE: &str = "supernet.safetensors";

/// Named tensors beyond the network's own.
pub type Extra = Vec<(String, Entry<'static>)>;

/// What a supernet puts in the file: its network's tensors, whose names those are, the rest.
pub struct ReferenceTensors {
    /// The network's SafeTensors under this project's module paths.
    pub weights: Vec<u8>,
    /// The reference network they are renamed after.
    pub reference: Reference,
    /// Architecture variables (and the sparse-coding state), already under reference names.
    pub extra: Extra,
}

impl ReferenceTensors {
    /// The tensors of `network`'s weights, renamed after `reference`, with `extra`.
    pub fn of<M: Module>(network: &M, reference: Reference, extra: Extra) -> Result<Self> {
        Ok(Self {
            weights: module_safetensors(network)?,
            reference,
            extra,
        })
    }

    /// The SafeTensors file of a `method` run's supernet of shape `network` after `epoch`
    /// epochs, with the run's `seed` and current `genotype` in the metadata.
    pub fn file_bytes(
        self,
        method: &str,
        epoch: usize,
        network: &NetworkConfig,
        seed: u64,
        genotype: Option<&Genotype>,
    ) -> Result<Vec<u8>> {
        let genotype = serde_json::to_string(&genotype).expect("genotypes serialise");
        let metadata = [
            ("format", "pt".to_string()),
            ("method", method.to_string()),
            ("epoch", epoch.to_string()),
            ("C", network.channels.to_string()),
            ("layers", network.layers.to_string()),
            ("classes", network.classes.to_string()),
            ("in_channels", network.in_channels.to_string()),
            ("seed", seed.to_string()),
            ("genotype", genotype),
        ];
        let metadata: HashMap<String, String> = metadata
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        to_torch(&self.weights, self.reference, self.extra, metadata)
    }
}

/// The values of a parameter on the host.
fn host<const D: usize>(param: &Param<Tensor<D>>) -> Vec<f32> {
    param.val().into_data().iter::<f32>().collect()
}

/// One parameter as an f32 tensor named `name`.
pub fn param_entry<const D: usize>(
    name: &str,
    param: &Param<Tensor<D>>,
) -> (String, Entry<'static>) {
    let shape = param.val().dims().to_vec();
    (name.to_string(), f32_entry(shape, host(param)))
}

/// b as the authors' two-stage `NetWork` holds it: `alphas_normal_`, `alphas_reduce_`, each
/// `[nodes, m]`.
pub fn stacked_b(arch: &ArchParams) -> Extra {
    let cell = |name: &str, nodes: &[Param<Tensor<1>>]| {
        let rows: Vec<Vec<f32>> = nodes.iter().map(host).collect();
        let shape = vec![rows.len(), rows.first().map_or(0, Vec::len)];
        (name.to_string(), f32_entry(shape, rows.concat()))
    };
    vec![
        cell("alphas_normal_", &arch.normal),
        cell("alphas_reduce_", &arch.reduce),
    ]
}

/// b as the authors' one-stage `NetWork` holds it: lists `alphas_normal_.{i}`,
/// `alphas_reduce_.{i}` of `[m]` per node.
pub fn listed_b(arch: &ArchParams) -> Extra {
    let cell = |name: &str, nodes: &[Param<Tensor<1>>]| {
        let each = nodes.iter().enumerate();
        each.map(|(i, b)| param_entry(&format!("{name}.{i}"), b))
            .collect::<Vec<_>>()
    };
    [
        cell("alphas_normal_", &arch.normal),
        cell("alphas_reduce_", &arch.reduce),
    ]
    .concat()
}

/// Each node's sparse-coding state, per cell type (`normal`, `reduce`): `base_A_{cell}s.{i}`
/// (A as drawn, `[m, n_i]`), `A_{cell}s.{i}` (A_S, what the authors' `init_proj_mat` is
/// given), `z_{cell}s.{i}` (z as recovered, `[n_i]`), `support_{cell}s.{i}` (the s indices,
/// largest |z| first; index k is input k / 7, op k % 7) and `{cell}_bias` (Eᵀz_S of every node,
/// `[Σ n_i / 7, 7]`, as `sample_and_proj` stacks it).
pub fn sparse_coding(architect: &Architect, supports: &EpochSupports) -> Extra {
    let m = &architect.measurements;
    let cells = [
        ("normal", &supports.normal, &m.normal),
        ("reduce", &supports.reduce, &m.reduce),
    ];
    let f32s = |values: &[f64]| values.iter().map(|&v| v as f32).collect::<Vec<_>>();
    let mut out = Extra::new();
    for (cell, nodes, matrices) in cells {
        let mut bias = Vec::new();
        for (i, ((node, _), a)) in nodes.iter().zip(matrices).enumerate() {
            let shape = vec![a.rows, a.cols];
            out.push((
                format!("base_A_{cell}s.{i}"),
                f32_entry(shape.clone(), f32s(&a.data)),
            ));
            out.push((
                format!("A_{cell}s.{i}"),
                f32_entry(shape, f32s(&node.a_s.data)),
            ));
            let z = f32_entry(vec![node.z.len()], f32s(&node.z));
            out.push((format!("z_{cell}s.{i}"), z));
            let support = node.support.iter().map(|&k| k as i64);
            out.push((
                format!("support_{cell}s.{i}"),
                i64_entry(vec![node.support.len()], support),
            ));
            bias.extend(f32s(&node.bias));
        }
        let rows = bias.len() / PRIMITIVES.len();
        out.push((
            format!("{cell}_bias"),
            f32_entry(vec![rows, PRIMITIVES.len()], bias),
        ));
    }
    out
}
