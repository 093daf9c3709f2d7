//! The architecture: b_i ∈ R^m for every node of both cell types, recovered into sparse
//! supports once per epoch (docs/method.md §3–4).

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::Result;
use crate::model::sparse_cell::NodeWeights;
use crate::search_space::genotype::Genotype;
use crate::search_space::primitives::{PRIMITIVES, STEPS};
use crate::sparse::matrix::Matrix;
use crate::sparse::measurement::{CellMeasurements, MeasurementKind};
use crate::sparse::recovery::{RecoverySolver, recover};
use crate::sparse::support::{NodeSupport, SupportTensors};

/// The trainable architecture parameters b.
#[derive(Module, Debug)]
pub struct ArchParams {
    /// b of the normal cell's nodes, each `[m]`.
    pub normal: Vec<Param<Tensor<1>>>,
    /// b of the reduction cell's nodes.
    pub reduce: Vec<Param<Tensor<1>>>,
}

impl ArchParams {
    /// b = 1e-3 · N(0, 1), seeded.
    pub fn new(m: usize, seed: u64, device: &Device) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut draw = || {
            let values: Vec<f32> = (0..m)
                .map(|_| 1e-3 * Distribution::<f64>::sample(&StandardNormal, &mut rng) as f32)
                .collect();
            Param::from_tensor(Tensor::from_data(TensorData::new(values, [m]), device))
        };
        let normal = (0..STEPS).map(|_| draw()).collect();
        let reduce = (0..STEPS).map(|_| draw()).collect();
        Self { normal, reduce }
    }

    /// b on the host, normal cell first.
    pub fn to_host(&self) -> Vec<Vec<f64>> {
        self.normal
            .iter()
            .chain(&self.reduce)
            .map(|b| {
                b.val()
                    .into_data()
                    .iter::<f32>()
                    .map(|v| v as f64)
                    .collect()
            })
            .collect()
    }
}

/// What recovery fixed for an epoch: per node its support, A_S and bias (normal, then reduce).
#[derive(Clone, Debug)]
pub struct EpochSupports {
    /// Normal cell nodes.
    pub normal: Vec<(NodeSupport, SupportTensors)>,
    /// Reduction cell nodes.
    pub reduce: Vec<(NodeSupport, SupportTensors)>,
    /// Problems whose solver stopped without converging (iteration cap, or no GPU certificate).
    pub unconverged: usize,
}

impl EpochSupports {
    /// Supports as index lists, normal then reduce.
    pub fn supports(&self) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
        let list = |cell: &[(NodeSupport, SupportTensors)]| {
            cell.iter().map(|(s, _)| s.support.clone()).collect()
        };
        (list(&self.normal), list(&self.reduce))
    }

    /// The genotype of these supports.
    pub fn genotype(&self) -> Genotype {
        let (normal, reduce) = self.supports();
        Genotype::from_supports(&normal, &reduce)
    }

    /// Node weights w = bᵀA_S − bias from the current b (gradient reaches b unless `detach`).
    pub fn weights(&self, arch: &ArchParams, detach: bool) -> (Vec<NodeWeights>, Vec<NodeWeights>) {
        let cell = |supports: &[(NodeSupport, SupportTensors)], b: &[Param<Tensor<1>>]| {
            supports
                .iter()
                .zip(b)
                .map(|((support, tensors), b)| {
                    let b = if detach { b.val().detach() } else { b.val() };
                    NodeWeights {
                        support: support.support.clone(),
                        w: tensors.weights(b),
                    }
                })
                .collect()
        };
        (
            cell(&self.normal, &arch.normal),
            cell(&self.reduce, &arch.reduce),
        )
    }
}

/// Measurement matrices and the recovery settings.
#[derive(Clone, Debug)]
pub struct Architect {
    /// A_i for both cells.
    pub measurements: CellMeasurements,
    /// Active ops per node s.
    pub sparsity: usize,
    /// LASSO weight λ.
    pub lambda: f64,
    /// Which solver recovers z.
    pub solver: RecoverySolver,
}

impl Architect {
    /// Draws A (m rows, `kind`) from `seed`.
    pub fn new(
        kind: MeasurementKind,
        m: usize,
        sparsity: usize,
        lambda: f64,
        solver: RecoverySolver,
        seed: u64,
    ) -> Self {
        Self {
            measurements: CellMeasurements::draw(kind, m, STEPS, PRIMITIVES.len(), seed),
            sparsity,
            lambda,
            solver,
        }
    }

    /// Supports that run the picks of `genotype` (two per node, s = 2) instead of recovered
    /// ones: z is 1 on the picks, so w = bᵀA_S − bias as in a search. For benchmarks and parity runs.
    pub fn supports_of(&self, genotype: &Genotype, device: &Device) -> Result<EpochSupports> {
        genotype
            .validate()
            .map_err(|e| crate::error::IstaError::Shape(e.to_string()))?;
        let cell = |reduction: bool, matrices: &[Matrix]| {
            matrices
                .iter()
                .zip(genotype.supports(reduction))
                .map(|(a, picks)| {
                    let mut z = vec![0.0; a.cols];
                    for &k in &picks {
                        z[k] = 1.0;
                    }
                    fix_support(a, &z, picks.len(), device)
                })
                .collect()
        };
        Ok(EpochSupports {
            normal: cell(false, &self.measurements.normal),
            reduce: cell(true, &self.measurements.reduce),
            unconverged: 0,
        })
    }

    /// Recovers z from the current b for all nodes of both cells (normal first) with the
    /// configured solver; also the number of problems that did not converge.
    pub fn recover_z(&self, arch: &ArchParams, device: &Device) -> Result<(Vec<Vec<f64>>, usize)> {
        let bs = arch.to_host();
        let problems: Vec<(&Matrix, &[f64])> = self
            .measurements
            .all()
            .zip(&bs)
            .map(|(a, b)| (a, b.as_slice()))
            .collect();
        let solver_device = device.clone().inner();
        let recovery = recover(&problems, self.solver, self.lambda, &solver_device)?;
        let unconverged = recovery.solutions.iter().filter(|s| !s.converged).count();
        let zs = recovery.solutions.into_iter().map(|s| s.z).collect();
        Ok((zs, unconverged))
    }

    /// The supports of the `s` largest |z| of every node (normal first), with their constants.
    pub fn supports_from(&self, zs: &[Vec<f64>], device: &Device) -> EpochSupports {
        let mut nodes = self
            .measurements
            .all()
            .zip(zs)
            .map(|(a, z)| fix_support(a, z, self.sparsity, device));
        let normal = nodes.by_ref().take(STEPS).collect();
        let reduce = nodes.collect();
        EpochSupports {
            normal,
            reduce,
            unconverged: 0,
        }
    }

    /// Recovers z from the current b for all nodes of both cells and fixes the supports.
    pub fn recover(&self, arch: &ArchParams, device: &Device) -> Result<EpochSupports> {
        let (zs, unconverged) = self.recover_z(arch, device)?;
        Ok(EpochSupports {
            unconverged,
            ..self.supports_from(&zs, device)
        })
    }
}

/// The support of the `s` largest |z| for measurement matrix `a`, with its constants on `device`.
fn fix_support(a: &Matrix, z: &[f64], s: usize, device: &Device) -> (NodeSupport, SupportTensors) {
    let support = NodeSupport::new(a, z, s);
    let tensors = support.to_tensors(device);
    (support, tensors)
}
