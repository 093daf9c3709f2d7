//! What the search loop needs of a method: a supernet with its architecture parameters, their
//! two optimiser steps, evaluation, the end-of-epoch genotype and the checkpoint records; and the
//! helpers the methods share. ISTA-NAS implements it in [`super::ista_supernet`], DARTS and
//! PC-DARTS in [`super::darts_supernet`].

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

use super::supernet_file::ReferenceTensors;
use crate::devices::parallel::add_keyed;
use crate::error::Result;
#[cfg(doc)]
use crate::model::norm::map_running_stats;
use crate::optim::Optimiser;
use crate::profile::scope;
use crate::search_space::genotype::Genotype;

/// What an epoch's architecture was: the supports it ran, the genotype derived after it.
#[derive(Clone, Debug)]
pub struct EpochArchitecture {
    /// Support indices per node used during the epoch (DARTS: the picks of its genotype):
    /// `normal|reduce`, nodes by `;`, indices by spaces.
    pub supports: String,
    /// The genotype at the end of the epoch.
    pub genotype: Genotype,
    /// Recovery problems that did not converge (ISTA-NAS; 0 otherwise).
    pub unconverged: usize,
}

/// Eval-mode logits of a batch on the device without autodiff.
pub type Evaluator<'a> = Box<dyn Fn(Tensor<4>) -> Result<Tensor<2>> + 'a>;

/// A search method's supernet and architecture parameters.
pub trait Supernet {
    /// Logits `[B, classes]` of `images`; the gradient reaches the architecture unless `fixed_arch`.
    fn logits(&self, images: Tensor<4>, fixed_arch: bool) -> Result<Tensor<2>>;
    /// Steps the architecture parameters on the gradient of `loss`.
    fn step_arch(&mut self, loss: Tensor<1>, optim: &mut Optimiser, lr: f64);
    /// Steps the network weights on the gradient of `loss`, clipped to global norm `clip`;
    /// returns the norm before clipping, on the device.
    fn step_weights(
        &mut self,
        loss: Tensor<1>,
        optim: &mut Optimiser,
        lr: f64,
        clip: f32,
    ) -> Option<Tensor<1>>;
    /// Eval-mode logits with the current architecture.
    fn evaluator(&self) -> Evaluator<'_>;
    /// Applies `f` to every BN running state of the supernet (see [`map_running_stats`]).
    fn map_running_stats(&mut self, f: &mut dyn FnMut(Tensor<1>) -> Tensor<1>);
    /// Ends an epoch: what it ran, and the genotype now (ISTA-NAS recovers the next supports).
    fn end_epoch(&mut self, device: &Device) -> Result<EpochArchitecture>;
    /// Runs `genotype`'s ops until the epoch ends (ISTA-NAS: its picks become the supports; the
    /// DARTS supernets run every op anyway). For benchmarks and parity runs.
    fn use_genotype(&mut self, genotype: &Genotype, device: &Device) -> Result<()>;
    /// Model and architecture records, for a checkpoint.
    fn records(&self) -> Result<[Vec<u8>; 2]>;
    /// Restores model and architecture from a checkpoint's records.
    fn restore(&mut self, records: [Vec<u8>; 2], device: &Device) -> Result<()>;
    /// What an epoch fixes at its start beyond the records (ISTA-NAS: each node's z on its
    /// support), for a mid-epoch checkpoint; `None` for methods that fix nothing.
    fn epoch_state(&self) -> Option<Vec<Vec<f64>>> {
        None
    }
    /// Puts back [`Supernet::epoch_state`] after [`Supernet::restore`].
    fn restore_epoch_state(&mut self, _state: &[Vec<f64>], _device: &Device) -> Result<()> {
        Ok(())
    }
    /// Takes the weights, architecture parameters and supports of `master`, a supernet of the
    /// same method on another device (a data-parallel replica; `device` is this one's).
    fn sync_from(&mut self, master: &dyn Supernet, device: &Device) -> Result<()>;
    /// Adds the gradient of `loss` for the architecture (`arch`) or the weights into `into`,
    /// keyed by the matching parameters of `master` (same method) and moved to `device`.
    fn add_grads(
        &self,
        loss: Tensor<1>,
        arch: bool,
        master: &dyn Supernet,
        into: &mut GradientsParams,
        device: &Device,
    );
    /// One optimiser step of the architecture (`arch`) or the weights on `grads`, clipped to
    /// global norm `clip` when given; returns the norm before clipping, on the device.
    fn apply_grads(
        &mut self,
        grads: GradientsParams,
        arch: bool,
        optim: &mut Optimiser,
        lr: f64,
        clip: Option<f32>,
    ) -> Option<Tensor<1>>;
    /// This supernet, for a replica of the same method to read.
    fn as_any(&self) -> &dyn std::any::Any;
    /// The supernet's tensors under the reference search code's names (`supernet.safetensors`).
    fn reference_tensors(&self) -> Result<ReferenceTensors>;
}

/// One optimiser step of `module` on the gradient of `loss`, clipped to global norm `clip` when
/// given; returns the norm before clipping, on the device (`None` without `clip`). Nothing is
/// read: a non-finite norm is found where the trainer reads its steps' values.
pub fn module_step<M: Module>(
    module: &mut M,
    loss: Tensor<1>,
    optim: &mut Optimiser,
    lr: f64,
    clip: Option<f32>,
) -> Option<Tensor<1>> {
    let grads = scope("backward", || loss.backward());
    let grads = GradientsParams::from_grads(grads, module);
    apply_step(module, grads, optim, lr, clip)
}

/// One optimiser step of `module` on `grads`, clipped as in [`module_step`].
pub fn apply_step<M: Module>(
    module: &mut M,
    grads: GradientsParams,
    optim: &mut Optimiser,
    lr: f64,
    clip: Option<f32>,
) -> Option<Tensor<1>> {
    let (stepped, norm) = optim.step(lr, module.clone(), grads, clip);
    *module = stepped;
    norm
}

/// The weights as constants for an architecture step, which needs dL/d(architecture) only: the
/// backward pass then skips every weight gradient (the optimiser would discard them). BN running
/// statistics are shared with `model`, so they update as in an ordinary forward pass.
pub fn frozen<M: Module>(model: &M) -> M {
    scope("freeze weights", || {
        // A lazily initialised parameter shares its pending initialisation with every clone, so
        // `no_grad` on the copy would also make the original start without gradients.
        // Initialise them all first.
        model.visit(&mut Initialise);
        model.clone().no_grad()
    })
}

/// Adds `loss`'s gradient for `module` (a replica) into `into`, keyed by `master`'s parameters.
pub fn add_module_grads<M: Module>(
    module: &M,
    master: &M,
    loss: Tensor<1>,
    into: &mut GradientsParams,
    device: &Device,
) {
    let grads = scope("backward", || loss.backward());
    let mut grads = GradientsParams::from_grads(grads, module);
    add_keyed(module, master, &mut grads, into, device);
}

/// Forces the lazy initialisation of every parameter it visits.
struct Initialise;

impl ModuleVisitor for Initialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// `normal|reduce` support lists as metrics.csv writes them.
pub fn format_supports(normal: &[Vec<usize>], reduce: &[Vec<usize>]) -> String {
    let cell = |cell: &[Vec<usize>]| {
        let node = |s: &Vec<usize>| s.iter().map(usize::to_string).collect::<Vec<_>>().join(" ");
        cell.iter().map(node).collect::<Vec<_>>().join(";")
    };
    format!("{}|{}", cell(normal), cell(reduce))
}
