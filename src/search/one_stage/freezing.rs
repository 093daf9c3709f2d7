//! Per-node convergence of one-stage ISTA-NAS (docs/method.md §5). After each search epoch every node
//! not yet frozen gets a candidate z recovered from its b; it freezes when
//! ‖z_new − z_old‖₂ ≤ ε. A candidate architecture whose evaluation network has at least
//! `max_params` parameters is rejected: every node keeps its previous z. As in the authors'
//! code, that epoch's freeze decisions still stand (a node that froze had a candidate within ε
//! of the z it keeps).

use serde::{Deserialize, Serialize};

/// One node's accepted z and, once frozen, when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    /// The accepted z (length n_i), whose top-s entries are the node's support. Written as
    /// shortest round-trip strings, so a resumed run reads back exactly the same values.
    #[serde(with = "exact")]
    pub z: Vec<f64>,
    /// The epoch after which the node froze, if it has.
    pub frozen_at: Option<usize>,
    /// True when the node was frozen because the search ran out of epochs, not by converging.
    #[serde(default)]
    pub forced: bool,
}

impl NodeState {
    /// An active node starting from `z`.
    pub fn new(z: Vec<f64>) -> Self {
        Self {
            z,
            frozen_at: None,
            forced: false,
        }
    }

    /// True once the node has frozen.
    pub fn is_frozen(&self) -> bool {
        self.frozen_at.is_some()
    }
}

/// What one epoch's convergence check decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// ‖z_new − z_old‖₂ per node (`None` for nodes frozen before this epoch).
    pub delta: Vec<Option<f64>>,
    /// Nodes that froze after this epoch.
    pub newly_frozen: Vec<usize>,
    /// Parameters of the candidate's evaluation network.
    pub params: u64,
    /// False when the candidate reached the parameter budget and the previous z were kept.
    pub accepted: bool,
}

/// The convergence rule: freeze threshold ε and parameter budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Convergence {
    /// A node freezes when its z moves by at most this (L2).
    pub epsilon: f64,
    /// A candidate whose evaluation network has at least this many parameters is rejected.
    pub max_params: u64,
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

impl Convergence {
    /// Applies the rule after search epoch `epoch` to `nodes`, given each node's candidate z
    /// (frozen nodes' candidates are ignored); `params_of` counts the evaluation network of a
    /// full set of z (one per node, in node order).
    pub fn update(
        &self,
        nodes: &mut [NodeState],
        candidates: &[Vec<f64>],
        epoch: usize,
        params_of: impl Fn(&[Vec<f64>]) -> u64,
    ) -> Decision {
        let delta: Vec<Option<f64>> = nodes
            .iter()
            .zip(candidates)
            .map(|(node, z)| (!node.is_frozen()).then(|| distance(&node.z, z)))
            .collect();
        let proposed = proposal(nodes, candidates);
        let params = params_of(&proposed);
        let accepted = params < self.max_params;
        let mut newly_frozen = Vec::new();
        for (i, (node, z)) in nodes.iter_mut().zip(proposed).enumerate() {
            if node.is_frozen() {
                continue;
            }
            if delta[i].is_some_and(|d| d <= self.epsilon) {
                node.frozen_at = Some(epoch);
                newly_frozen.push(i);
            }
            if accepted {
                node.z = z;
            }
        }
        Decision {
            delta,
            newly_frozen,
            params,
            accepted,
        }
    }
}

/// The candidate architecture: each active node's candidate z, each frozen node's own z.
pub fn proposal(nodes: &[NodeState], candidates: &[Vec<f64>]) -> Vec<Vec<f64>> {
    nodes
        .iter()
        .zip(candidates)
        .map(|(node, z)| if node.is_frozen() { &node.z } else { z }.clone())
        .collect()
}

/// Freezes every node still active after `epoch`, marked as forced (the search ran out of
/// epochs before they converged); returns which.
pub fn force_freeze(nodes: &mut [NodeState], epoch: usize) -> Vec<usize> {
    let mut forced = Vec::new();
    for (i, node) in nodes.iter_mut().enumerate() {
        if !node.is_frozen() {
            node.frozen_at = Some(epoch);
            node.forced = true;
            forced.push(i);
        }
    }
    forced
}

/// `Vec<f64>` as strings that parse back to the same bits (JSON numbers need not).
mod exact {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|v| format!("{v:?}")))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|_| D::Error::custom(format!("not a number: {s:?}")))
            })
            .collect()
    }
}
