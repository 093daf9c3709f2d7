//! The one-stage supernet (docs/method.md §5): sparse cells in the one-stage style (affine BN everywhere,
//! also after pools and the identity), the target network's auxiliary head, b for every node,
//! each node's accepted z and frozen state. The γ/β of a node's candidate ops are held at 1/0
//! until the node freezes; from then on they train, in every cell of that type.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::config::{OneStageConfig, SPARSITY};
use super::fold::{FixedNode, fold};
use super::freezing::NodeState;
use crate::error::Result;
use crate::model::complexity::complexity;
use crate::model::eval_network::{EvalConfig, EvalNetwork};
use crate::model::heads::NetKind;
use crate::model::norm::with_affine_trainable;
use crate::model::ops::OpStyle;
use crate::model::skeleton::NetworkConfig;
use crate::model::sparse_cell::{NodeWeights, SparseNetwork, plain_weights};
use crate::search::ista_arch::{ArchParams, Architect, EpochSupports};
use crate::search::supernet::format_supports;
use crate::search::supernet_file::{ReferenceTensors, listed_b, sparse_coding};
use crate::search_space::genotype::Genotype;
use crate::search_space::primitives::STEPS;
use crate::sparse::recovery::RecoverySolver;
use crate::sparse::support::top_s;
use crate::storage::torch_names::{Reference, i64_entry};

/// The supernet, its architecture and where each node stands.
pub struct OneStageSupernet {
    /// The network (on the training device).
    pub model: SparseNetwork,
    /// b of every node.
    pub arch: ArchParams,
    /// Measurement matrices and recovery (f64 on the CPU).
    pub architect: Architect,
    /// Each node's accepted z and frozen state: the normal cell's 4 nodes, then the reduction cell's.
    pub nodes: Vec<NodeState>,
    /// The network's shape.
    pub network: NetworkConfig,
    supports: EpochSupports,
}

/// The one-stage evaluation network of `genotype` at the supernet's shape.
pub fn eval_config(network: &NetworkConfig, genotype: Genotype, auxiliary: bool) -> EvalConfig {
    EvalConfig {
        kind: NetKind::Cifar,
        genotype,
        channels: network.channels,
        layers: network.layers,
        classes: network.classes,
        in_channels: network.in_channels,
        auxiliary,
        extra_norms: true,
    }
}

/// The genotype of one z per node (normal cell first): the top-2 |z| of each.
pub fn genotype_of(zs: &[Vec<f64>]) -> Genotype {
    let supports: Vec<Vec<usize>> = zs.iter().map(|z| top_s(z, SPARSITY)).collect();
    Genotype::from_supports(&supports[..STEPS], &supports[STEPS..])
}

impl OneStageSupernet {
    /// The supernet's tensors under the names of the authors' one-stage search network
    /// (`ista_nas_single/search/models/model_search.py`), b as its per-node lists, each node's
    /// sparse-coding state, and `frozen_{cell}s` (the epoch each node froze after, −1 while
    /// it searches).
    pub fn reference_tensors(&self) -> Result<ReferenceTensors> {
        let mut extra = listed_b(&self.arch);
        extra.extend(sparse_coding(&self.architect, &self.supports));
        let frozen = |nodes: &[NodeState]| {
            let at = nodes.iter().map(|n| n.frozen_at.map_or(-1, |e| e as i64));
            i64_entry(vec![nodes.len()], at)
        };
        extra.push(("frozen_normals".into(), frozen(&self.nodes[..STEPS])));
        extra.push(("frozen_reduces".into(), frozen(&self.nodes[STEPS..])));
        ReferenceTensors::of(&self.model, Reference::IstaSearch, extra)
    }

    /// A new supernet of `network`'s shape with b drawn and z recovered from it.
    pub fn new(config: &OneStageConfig, network: NetworkConfig, device: &Device) -> Result<Self> {
        let auxiliary = config.auxiliary_weight > 0.0;
        let model = SparseNetwork::with_style(&network, OpStyle::ONE_STAGE, auxiliary, device);
        let arch = ArchParams::new(config.m, config.seed.wrapping_add(2), device);
        let architect = Architect::new(
            config.measurement,
            config.m,
            SPARSITY,
            config.lambda,
            RecoverySolver::Cpu,
            config.seed.wrapping_add(1),
        );
        let (zs, _) = architect.recover_z(&arch, device)?;
        let supports = architect.supports_from(&zs, device);
        let mut net = Self {
            model,
            arch,
            architect,
            nodes: zs.into_iter().map(NodeState::new).collect(),
            network,
            supports,
        };
        net.refresh(device);
        Ok(net)
    }

    /// Re-derives the supports from the nodes' accepted z, and which BN γ/β train from which
    /// nodes are frozen (after a freeze, and after restoring a checkpoint).
    pub fn refresh(&mut self, device: &Device) {
        let zs: Vec<Vec<f64>> = self.nodes.iter().map(|n| n.z.clone()).collect();
        self.supports = self.architect.supports_from(&zs, device);
        let mut model = self.model.clone();
        for cell in &mut model.cells {
            let offset = if cell.reduction { STEPS } else { 0 };
            let edges = std::mem::take(&mut cell.edges);
            cell.edges = edges
                .into_iter()
                .enumerate()
                .map(|(node, ops)| {
                    with_affine_trainable(ops, self.nodes[offset + node].is_frozen())
                })
                .collect();
        }
        self.model = model;
    }

    /// True when every node has frozen: the architecture is fixed.
    pub fn all_frozen(&self) -> bool {
        self.nodes.iter().all(NodeState::is_frozen)
    }

    /// The genotype of the accepted z.
    pub fn genotype(&self) -> Genotype {
        self.supports.genotype()
    }

    /// The supports in use, as metrics.csv writes them.
    pub fn supports_string(&self) -> String {
        let (normal, reduce) = self.supports.supports();
        format_supports(&normal, &reduce)
    }

    /// Parameters of the one-stage evaluation network of `zs` (auxiliary head excluded).
    pub fn params_of(&self, zs: &[Vec<f64>]) -> u64 {
        let config = eval_config(&self.network, genotype_of(zs), false);
        complexity(&config, 32).params
    }

    /// Node weights w = bᵀA_S − bias, normal cell first; the gradient reaches the b of
    /// active nodes when `train`, never that of frozen ones.
    pub fn node_weights(&self, train: bool) -> (Vec<NodeWeights>, Vec<NodeWeights>) {
        let cell = |offset: usize, supports: &EpochSupports, reduction: bool| {
            let (cell, bs) = if reduction {
                (&supports.reduce, &self.arch.reduce)
            } else {
                (&supports.normal, &self.arch.normal)
            };
            cell.iter()
                .zip(bs)
                .enumerate()
                .map(|(node, ((support, tensors), b))| {
                    let tracked = train && !self.nodes[offset + node].is_frozen();
                    let b = if tracked { b.val() } else { b.val().detach() };
                    NodeWeights {
                        support: support.support.clone(),
                        w: tensors.weights(b),
                    }
                })
                .collect()
        };
        (
            cell(0, &self.supports, false),
            cell(STEPS, &self.supports, true),
        )
    }

    /// Eval-mode node weights on the plain device.
    pub fn plain_weights(&self) -> (Vec<NodeWeights>, Vec<NodeWeights>) {
        let (normal, reduce) = self.node_weights(false);
        (plain_weights(normal), plain_weights(reduce))
    }

    /// Eq. 12: the plain evaluation network with the current architecture and weights, its
    /// config (genotype included) and its eval-mode weights.
    pub fn folded(&self) -> Result<(EvalConfig, EvalNetwork)> {
        let host = |w: Vec<NodeWeights>| -> Vec<FixedNode> {
            w.into_iter()
                .map(|n| FixedNode {
                    support: n.support,
                    w: host_values(n.w),
                })
                .collect()
        };
        let (normal, reduce) = self.plain_weights();
        let model = self.model.valid();
        let (genotype, folded) = fold(&model, &host(normal), &host(reduce))?;
        Ok((
            eval_config(&self.network, genotype, model.has_aux()),
            folded,
        ))
    }
}

fn host_values(t: Tensor<1>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}
