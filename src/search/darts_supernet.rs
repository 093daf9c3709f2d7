//! The DARTS (first order) and PC-DARTS baselines in the same search loop (docs/method.md §7): the
//! supernet runs all 8 ops on every edge, weighted by softmax(α); α (and PC-DARTS's β) are
//! trained by Adam on val batches, the weights by SGD on train batches.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

use super::alphas::ArchAlphas;
use super::supernet::{
    EpochArchitecture, Evaluator, Supernet, add_module_grads, apply_step, format_supports, frozen,
    module_step,
};
use super::supernet_file::{ReferenceTensors, param_entry};
use crate::devices::parallel::copy_values;
use crate::error::Result;
use crate::model::mixed_cell::{MixedNetwork, MixedWeights};
use crate::model::norm::map_running_stats;
use crate::model::skeleton::NetworkConfig;
use crate::optim::Optimiser;
use crate::search_space::genotype::Genotype;
use crate::storage::records::{load_module, module_bytes};
use crate::storage::torch_names::Reference;

/// A DARTS or PC-DARTS supernet with its α (and β).
pub struct DartsSupernet {
    /// The supernet.
    pub model: MixedNetwork,
    /// α, and β for PC-DARTS.
    pub alphas: ArchAlphas,
}

impl DartsSupernet {
    /// DARTS when `partial` is 1; PC-DARTS (K = `partial`, with edge normalisation) otherwise.
    pub fn new(network: &NetworkConfig, partial: usize, seed: u64, device: &Device) -> Self {
        Self {
            model: MixedNetwork::new(network, partial, device),
            alphas: ArchAlphas::new(partial > 1, seed, device),
        }
    }
}

fn inner(w: MixedWeights) -> MixedWeights {
    MixedWeights {
        ops: w.ops.inner(),
        edges: w.edges.map(|e| e.inner()),
    }
}

impl Supernet for DartsSupernet {
    fn logits(&self, images: Tensor<4>, fixed_arch: bool) -> Result<Tensor<2>> {
        let (normal, reduce) = self.alphas.weights(fixed_arch);
        if fixed_arch {
            self.model.forward(images, &normal, &reduce, &mut 0)
        } else {
            frozen(&self.model).forward(images, &normal, &reduce, &mut 0)
        }
    }

    fn step_arch(&mut self, loss: Tensor<1>, optim: &mut Optimiser, lr: f64) {
        module_step(&mut self.alphas, loss, optim, lr, None);
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
        let (normal, reduce) = self.alphas.weights(true);
        let (normal, reduce) = (inner(normal), inner(reduce));
        Box::new(move |x| model.forward(x, &normal, &reduce, &mut 0))
    }

    fn map_running_stats(&mut self, f: &mut dyn FnMut(Tensor<1>) -> Tensor<1>) {
        self.model = map_running_stats(self.model.clone(), f);
    }

    fn end_epoch(&mut self, _device: &Device) -> Result<EpochArchitecture> {
        let (normal, reduce) = self.alphas.picks();
        Ok(EpochArchitecture {
            supports: format_supports(&normal, &reduce),
            genotype: Genotype::from_supports(&normal, &reduce),
            unconverged: 0,
        })
    }

    fn use_genotype(&mut self, _genotype: &Genotype, _device: &Device) -> Result<()> {
        Ok(())
    }

    fn records(&self) -> Result<[Vec<u8>; 2]> {
        Ok([
            module_bytes(&self.model, "model")?,
            module_bytes(&self.alphas, "alpha")?,
        ])
    }

    fn restore(&mut self, [model, alphas]: [Vec<u8>; 2], _device: &Device) -> Result<()> {
        self.model = load_module(self.model.clone(), model, "model")?;
        self.alphas = load_module(self.alphas.clone(), alphas, "alpha")?;
        Ok(())
    }

    fn sync_from(&mut self, master: &dyn Supernet, _device: &Device) -> Result<()> {
        let master = same(master);
        self.model = copy_values(self.model.clone(), &master.model);
        self.alphas = copy_values(self.alphas.clone(), &master.alphas);
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
            add_module_grads(&self.alphas, &master.alphas, loss, into, device);
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
            apply_step(&mut self.alphas, grads, optim, lr, clip)
        } else {
            apply_step(&mut self.model, grads, optim, lr, clip)
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn reference_tensors(&self) -> Result<ReferenceTensors> {
        let a = &self.alphas;
        let mut extra = vec![
            param_entry("alphas_normal", &a.normal),
            param_entry("alphas_reduce", &a.reduce),
        ];
        if let (Some(normal), Some(reduce)) = (&a.normal_beta, &a.reduce_beta) {
            extra.push(param_entry("betas_normal", normal));
            extra.push(param_entry("betas_reduce", reduce));
        }
        ReferenceTensors::of(&self.model, Reference::DartsSearch, extra)
    }
}

fn same(master: &dyn Supernet) -> &DartsSupernet {
    master
        .as_any()
        .downcast_ref()
        .expect("replicas run the master's method")
}
