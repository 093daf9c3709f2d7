//! Two-stage ISTA-NAS as a [`Supernet`]: the supernet runs only each node's support, with
//! w = bᵀA_S − bias; b is recovered into the next supports after every epoch.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

use super::ista_arch::{ArchParams, Architect, EpochSupports};
use super::supernet::{
    EpochArchitecture, Evaluator, Supernet, add_module_grads, apply_step, format_supports, frozen,
    module_step,
};
use super::supernet_file::{ReferenceTensors, sparse_coding, stacked_b};
use crate::devices::parallel::copy_values;
use crate::error::{IstaError, Result};
use crate::model::norm::map_running_stats;
use crate::model::sparse_cell::{SparseNetwork, plain_weights};
use crate::optim::Optimiser;
use crate::search_space::genotype::Genotype;
use crate::search_space::primitives::STEPS;
use crate::sparse::support::{NodeSupport, SupportTensors};
use crate::storage::records::{load_module, module_bytes};
use crate::storage::torch_names::Reference;

/// Two-stage ISTA-NAS: the supernet runs only each node's support, w = bᵀA_S − bias.
pub struct IstaSupernet {
    /// The supernet.
    pub model: SparseNetwork,
    /// The architecture parameters b.
    pub arch: ArchParams,
    /// Measurement matrices and recovery.
    pub architect: Architect,
    /// Supports of the current epoch.
    pub supports: EpochSupports,
}

impl IstaSupernet {
    /// A supernet with supports recovered from the initial b.
    pub fn new(
        model: SparseNetwork,
        arch: ArchParams,
        architect: Architect,
        device: &Device,
    ) -> Result<Self> {
        let supports = architect.recover(&arch, device)?;
        Ok(Self {
            model,
            arch,
            architect,
            supports,
        })
    }
}

impl Supernet for IstaSupernet {
    fn logits(&self, images: Tensor<4>, fixed_arch: bool) -> Result<Tensor<2>> {
        let (normal, reduce) = self.supports.weights(&self.arch, fixed_arch);
        if fixed_arch {
            self.model.forward(images, &normal, &reduce, &mut 0)
        } else {
            frozen(&self.model).forward(images, &normal, &reduce, &mut 0)
        }
    }

    fn step_arch(&mut self, loss: Tensor<1>, optim: &mut Optimiser, lr: f64) {
        module_step(&mut self.arch, loss, optim, lr, None);
    }

    fn step_weights(
        &mut self,
        loss: Tensor<1>,
        optim: &mut Optimiser,
        lr: f64,
        clip: f32,
    ) -> Option<Tensor<1>> {
        module_step(&mut self.model, loss, optim, lr, Some(clip))
    }

    fn evaluator(&self) -> Evaluator<'_> {
        let model = self.model.valid();
        let (normal, reduce) = self.supports.weights(&self.arch, true);
        let (normal, reduce) = (plain_weights(normal), plain_weights(reduce));
        Box::new(move |x| model.forward(x, &normal, &reduce, &mut 0))
    }

    fn map_running_stats(&mut self, f: &mut dyn FnMut(Tensor<1>) -> Tensor<1>) {
        self.model = map_running_stats(self.model.clone(), f);
    }

    fn end_epoch(&mut self, device: &Device) -> Result<EpochArchitecture> {
        let (normal, reduce) = self.supports.supports();
        let used = format_supports(&normal, &reduce);
        // The recovery after the epoch gives its genotype and the next epoch's supports.
        self.supports = self.architect.recover(&self.arch, device)?;
        Ok(EpochArchitecture {
            supports: used,
            genotype: self.supports.genotype(),
            unconverged: self.supports.unconverged,
        })
    }

    fn use_genotype(&mut self, genotype: &Genotype, device: &Device) -> Result<()> {
        self.supports = self.architect.supports_of(genotype, device)?;
        Ok(())
    }

    fn records(&self) -> Result<[Vec<u8>; 2]> {
        Ok([
            module_bytes(&self.model, "model")?,
            module_bytes(&self.arch, "b")?,
        ])
    }

    fn restore(&mut self, [model, arch]: [Vec<u8>; 2], device: &Device) -> Result<()> {
        self.model = load_module(self.model.clone(), model, "model")?;
        self.arch = load_module(self.arch.clone(), arch, "b")?;
        self.supports = self.architect.recover(&self.arch, device)?;
        Ok(())
    }

    fn epoch_state(&self) -> Option<Vec<Vec<f64>>> {
        let cells = self.supports.normal.iter().chain(&self.supports.reduce);
        Some(cells.map(|(support, _)| support.z_s.clone()).collect())
    }

    fn restore_epoch_state(&mut self, state: &[Vec<f64>], device: &Device) -> Result<()> {
        if state.len() != 2 * STEPS {
            return Err(IstaError::Checkpoint(format!(
                "{} node supports in a mid-epoch checkpoint, expected {}",
                state.len(),
                2 * STEPS
            )));
        }
        // z restricted to its support has the same s largest |z| as the z it came from
        self.supports = self.architect.supports_from(state, device);
        Ok(())
    }

    fn sync_from(&mut self, master: &dyn Supernet, device: &Device) -> Result<()> {
        let master = same(master);
        self.model = copy_values(self.model.clone(), &master.model);
        self.arch = copy_values(self.arch.clone(), &master.arch);
        if self.supports.supports() != master.supports.supports() {
            // The master's supports changed (a recovery, or a genotype to run): the same S,
            // A_S and bias, with their constants on this device.
            let on = |cell: &[(NodeSupport, SupportTensors)]| {
                cell.iter()
                    .map(|(s, _)| (s.clone(), s.to_tensors(device)))
                    .collect()
            };
            self.supports = EpochSupports {
                normal: on(&master.supports.normal),
                reduce: on(&master.supports.reduce),
                unconverged: master.supports.unconverged,
            };
        }
        Ok(())
    }

    fn add_grads(
        &self,
        loss: Tensor<1>,
        arch: bool,
        master: &dyn Supernet,
        into: &mut GradientsParams,
        device: &Device,
    ) {
        let master = same(master);
        if arch {
            add_module_grads(&self.arch, &master.arch, loss, into, device);
        } else {
            add_module_grads(&self.model, &master.model, loss, into, device);
        }
    }

    fn apply_grads(
        &mut self,
        grads: GradientsParams,
        arch: bool,
        optim: &mut Optimiser,
        lr: f64,
        clip: Option<f32>,
    ) -> Option<Tensor<1>> {
        if arch {
            apply_step(&mut self.arch, grads, optim, lr, clip)
        } else {
            apply_step(&mut self.model, grads, optim, lr, clip)
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn reference_tensors(&self) -> Result<ReferenceTensors> {
        let mut extra = stacked_b(&self.arch);
        extra.extend(sparse_coding(&self.architect, &self.supports));
        ReferenceTensors::of(&self.model, Reference::IstaSearch, extra)
    }
}

fn same(master: &dyn Supernet) -> &IstaSupernet {
    master
        .as_any()
        .downcast_ref()
        .expect("replicas run the master's method")
}
