//! The checkpoint of a one-stage run (settings, the network's shape, position, every node's
//! accepted z and frozen state, history, model, b and both optimisers' states: everything to
//! resume exactly, across freezes) and its run folder's files: `metrics.csv` with each node's
//! state per epoch, `genotype.json` with every change, the cell drawings, and the folded
//! network `folded.model` + `folded.safetensors`.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::config::OneStageConfig;
use super::freezing::NodeState;
use super::supernet::OneStageSupernet;
use super::trainer::{OneStageRecord, OneStageSearch, Phase};
use crate::curves::{CHANGED_PICKS, CurvesBuilder, DELTA_Z, RunCurves, changed_picks, node_name};
use crate::data::Dataset;
use crate::data::augment::{Augment, Normalization};
use crate::error::{IstaError, Result};
use crate::model::skeleton::NetworkConfig;
use crate::search::supernet_file::SUPERNET_FILE;
use crate::search_space::genotype::Genotype;
use crate::search_space::primitives::{PRIMITIVES, STEPS};
use crate::sparse::measurement::node_width;
use crate::step_metrics::EpochPosition;
use crate::storage::checkpoint::{RunCheckpoint, RunHeader};
use crate::storage::framed::FrameKind;
use crate::storage::model_file::{ModelHeader, export_safetensors, save_model};
use crate::storage::records::{load_module, load_optimiser, module_bytes, optimiser_bytes};
use crate::storage::run_dir::RunDir;

/// The signature of one-stage checkpoints.
pub const KIND: FrameKind = FrameKind {
    magic: b"ISTA1ST\x01",
    name: "ista-nas one-stage checkpoint",
};

/// Columns of a one-stage run's metrics.csv (node columns: `active`, `frozen@E` or `forced@E`).
pub const ONE_STAGE_METRICS_HEADER: &str = "epoch,phase,train_loss,train_acc,test_loss,test_acc,test_top5,lr,drop_path,supports,normal_0,normal_1,normal_2,normal_3,reduce_0,reduce_1,reduce_2,reduce_3,delta_z,candidate_params,candidate,seconds,peak_memory_bytes";

/// Everything but the binary records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneStageHeader {
    /// Settings of the run.
    pub config: OneStageConfig,
    /// The supernet's shape.
    pub network: NetworkConfig,
    /// Class names of the data.
    pub class_names: Vec<String>,
    /// Evaluation preprocessing.
    pub augment: Augment,
    /// Normalisation of the training set.
    pub norm: Normalization,
    /// Epochs completed.
    pub epochs_done: usize,
    /// Of those, search epochs.
    pub search_epochs_done: usize,
    /// Where the epoch after those stopped, in a mid-epoch checkpoint.
    #[serde(default)]
    pub position: Option<EpochPosition>,
    /// Each node's accepted z and frozen state (normal cell first).
    pub nodes: Vec<NodeState>,
    /// Per-epoch records so far.
    pub history: Vec<OneStageRecord>,
}

/// A full one-stage checkpoint: settings, position, node states and history; model, b,
/// weight-optimiser and b-optimiser records.
pub type OneStageCheckpoint = RunCheckpoint<OneStageHeader, 4>;

impl RunHeader for OneStageHeader {
    type Config = OneStageConfig;
    type Record = OneStageRecord;
    const KIND: FrameKind = KIND;

    fn config(&self) -> &OneStageConfig {
        &self.config
    }

    fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    fn counted_epochs_done(&self) -> usize {
        self.epochs_done - self.search_epochs_done
    }

    fn set_epochs(&mut self, epochs: usize) {
        self.config.epochs = epochs;
    }

    fn history(&self) -> &[OneStageRecord] {
        &self.history
    }

    fn position(&self) -> Option<EpochPosition> {
        self.position
    }

    fn problem(&self) -> Option<String> {
        if self.nodes.len() != 2 * STEPS {
            return Some(format!(
                "{} node states, expected {}",
                self.nodes.len(),
                2 * STEPS
            ));
        }
        self.nodes.iter().enumerate().find_map(|(i, node)| {
            let n = node_width(i % STEPS, PRIMITIVES.len());
            (node.z.len() != n || node.z.iter().any(|v| !v.is_finite())).then(|| {
                format!(
                    "node {i}: z of {} values (expected {n} finite ones)",
                    node.z.len()
                )
            })
        })
    }
}

impl OneStageCheckpoint {
    /// The supernet as saved (on `device`, without data): for folding on demand.
    pub fn supernet(&self, device: &Device) -> Result<OneStageSupernet> {
        let h = &self.header;
        let mut net = OneStageSupernet::new(&h.config, h.network.clone(), device)?;
        restore_supernet(
            &mut net,
            h,
            [self.records[0].clone(), self.records[1].clone()],
            device,
        )?;
        Ok(net)
    }
}

fn restore_supernet(
    net: &mut OneStageSupernet,
    header: &OneStageHeader,
    [model, arch]: [Vec<u8>; 2],
    device: &Device,
) -> Result<()> {
    net.model = load_module(net.model.clone(), model, "model")?;
    net.arch = load_module(net.arch.clone(), arch, "b")?;
    net.nodes = header.nodes.clone();
    net.refresh(device);
    Ok(())
}

impl OneStageSearch {
    /// Settings, position, node states and the run's `history`: a checkpoint's header.
    pub fn header(&self, history: &[OneStageRecord]) -> OneStageHeader {
        let plan = self.test_plan();
        OneStageHeader {
            config: self.config.clone(),
            network: self.net.network.clone(),
            class_names: self.class_names.clone(),
            augment: plan.augment.clone(),
            norm: plan.norm.clone(),
            epochs_done: self.epochs_done,
            search_epochs_done: self.search_epochs_done,
            position: self.position,
            nodes: self.net.nodes.clone(),
            history: history.to_vec(),
        }
    }

    /// Everything needed to resume, with the run's `history`.
    pub fn checkpoint(&self, history: &[OneStageRecord]) -> Result<OneStageCheckpoint> {
        Ok(OneStageCheckpoint {
            header: self.header(history),
            records: [
                module_bytes(&self.net.model, "model")?,
                module_bytes(&self.net.arch, "b")?,
                optimiser_bytes(&self.weight_optim, "weight optimiser")?,
                optimiser_bytes(&self.arch_optim, "b optimiser")?,
            ],
        })
    }

    /// `supernet.safetensors` now (see [`crate::search::supernet_file`]), after the epochs of
    /// `history`.
    pub fn supernet_file(&self, history: &[OneStageRecord]) -> Result<Vec<u8>> {
        let genotype = history.last().map(|r| &r.genotype);
        self.net.reference_tensors()?.file_bytes(
            "ista-one-stage",
            self.epochs_done,
            &self.net.network,
            self.config.seed,
            genotype,
        )
    }

    /// Continues from a checkpoint, on the data the run used.
    pub fn resume(
        checkpoint: OneStageCheckpoint,
        train: Dataset,
        test: Dataset,
        device: &Device,
    ) -> Result<Self> {
        let h = checkpoint.header;
        let mut run = Self::new(h.config.clone(), train, test, h.class_names.clone(), device)?;
        if run.net.network != h.network {
            return Err(IstaError::Checkpoint(format!(
                "the data gives a network of {:?}, the checkpoint holds {:?}",
                run.net.network, h.network
            )));
        }
        let [model, arch, weight_optim, arch_optim] = checkpoint.records;
        restore_supernet(&mut run.net, &h, [model, arch], &run.device)?;
        run.weight_optim = load_optimiser(&run.weight_optim, weight_optim, "weight optimiser")?;
        run.arch_optim = load_optimiser(&run.arch_optim, arch_optim, "b optimiser")?;
        run.epochs_done = h.epochs_done;
        run.search_epochs_done = h.search_epochs_done;
        run.position = h.position;
        Ok(run)
    }
}

fn node_column(record: &OneStageRecord, i: usize) -> String {
    match (record.frozen_at[i], record.forced[i]) {
        (None, _) => "active".into(),
        (Some(e), false) => format!("frozen@{e}"),
        (Some(e), true) => format!("forced@{e}"),
    }
}

fn metrics_row(r: &OneStageRecord) -> String {
    let phase = r.phase.name();
    let nodes: Vec<String> = (0..2 * STEPS).map(|i| node_column(r, i)).collect();
    let (delta, params, candidate) = match &r.decision {
        Some(d) => (
            d.delta
                .iter()
                .map(|x| x.map(|v| format!("{v:.6e}")).unwrap_or_else(|| "-".into()))
                .collect::<Vec<_>>()
                .join(";"),
            d.params.to_string(),
            if d.accepted { "accepted" } else { "rejected" }.to_string(),
        ),
        None => Default::default(),
    };
    let peak = r
        .peak_memory_bytes
        .map(|b| b.to_string())
        .unwrap_or_default();
    format!(
        "{},{phase},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.4},{},{},{delta},{params},{candidate},{:.2},{peak}\n",
        r.epoch,
        r.train_loss,
        r.train_acc,
        r.test.loss,
        r.test.top1,
        r.test.top5,
        r.lr,
        r.drop_path,
        r.supports,
        nodes.join(","),
        r.seconds,
    )
}

/// One entry of genotype.json's history: the accepted genotype after an epoch, the rejected
/// candidate if any, and the nodes that froze.
#[derive(Serialize)]
struct EpochArchitecture<'a> {
    epoch: usize,
    phase: Phase,
    genotype: &'a Genotype,
    rejected: Option<&'a Genotype>,
    newly_frozen: Vec<usize>,
}

/// Writes the metrics, genotypes and drawings of `history` and `supernet` (the bytes of
/// `supernet.safetensors`), then the checkpoint.
pub fn write_epoch(
    run: &RunDir,
    history: &[OneStageRecord],
    supernet: &[u8],
    checkpoint: &OneStageCheckpoint,
) -> Result<()> {
    let mut csv = format!("{ONE_STAGE_METRICS_HEADER}\n");
    csv.extend(history.iter().map(metrics_row));
    run.write("metrics.csv", csv.as_bytes())?;
    if let Some(last) = history.last() {
        let mut was: Vec<Option<usize>> = vec![None; 2 * STEPS];
        let entries: Vec<EpochArchitecture> = history
            .iter()
            .map(|r| {
                let newly_frozen = (0..2 * STEPS)
                    .filter(|&i| was[i].is_none() && r.frozen_at[i].is_some())
                    .collect();
                was.clone_from(&r.frozen_at);
                EpochArchitecture {
                    epoch: r.epoch,
                    phase: r.phase,
                    genotype: &r.genotype,
                    rejected: r.rejected.as_ref(),
                    newly_frozen,
                }
            })
            .collect();
        run.write_genotypes(&last.genotype, &entries)?;
    }
    run.write(SUPERNET_FILE, supernet)?;
    checkpoint
        .save(&run.checkpoint_path())
        .map_err(IstaError::from)
}

/// Folds `net` (Eq. 12), the supernet of the run `h` describes, and writes `folded.model` and
/// `folded.safetensors` into `run`; returns the model file's header.
pub fn write_folded(
    run: &RunDir,
    net: &OneStageSupernet,
    h: &OneStageHeader,
) -> Result<ModelHeader> {
    let (network, model) = net.folded()?;
    let header = ModelHeader {
        network,
        augment: h.augment.clone(),
        norm: h.norm.clone(),
        class_names: h.class_names.clone(),
        epoch: h.epochs_done,
        scores: h.history.last().map(|r| r.test).unwrap_or_default(),
    };
    save_model(&run.path.join("folded.model"), &header, &model)?;
    export_safetensors(&run.path.join("folded.safetensors"), &header, &model)?;
    Ok(header)
}

/// The curves of a one-stage run: as a training run, plus per search epoch each active node's
/// ‖Δz‖₂ and the picks that changed.
pub fn one_stage_curves(history: &[OneStageRecord]) -> RunCurves {
    let mut b = CurvesBuilder::new("one-stage search".into(), "test");
    for (i, r) in history.iter().enumerate() {
        b.epoch(
            r.epoch,
            (r.train_loss, r.train_acc),
            (r.test.loss, r.test.top1),
            r.lr,
        );
        if let Some(decision) = &r.decision {
            for (node, delta) in decision.delta.iter().enumerate() {
                if let Some(delta) = delta {
                    b.add(format!("{DELTA_Z}{}", node_name(node)), *delta);
                }
            }
        }
        if i > 0 && r.phase == Phase::Search {
            let changed = changed_picks(&history[i - 1].genotype, &r.genotype);
            b.add(CHANGED_PICKS.into(), changed as f64);
        }
    }
    b.curves
}
