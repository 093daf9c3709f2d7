//! Synchronous data parallel over several devices: the global batch split across devices, one
//! replica of the model per device, each replica's gradient of its share of the mean loss
//! summed on the first device into one optimiser step, and the stepped weights copied to every
//! replica before the next forward pass.
//!
//! Burn's `MultiGradientsParams` sums gradients across devices inside `step_multi`, which leaves
//! no place for the global-norm clipping the reference applies to the summed gradient; the sum
//! here is the same `to_device` + add, done before clipping. BatchNorm normalises each replica's
//! share with its own batch statistics, as PyTorch's DDP does; the running statistics kept are
//! the first device's (DDP broadcasts rank 0's buffers).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};

use crate::error::Result;

/// What a replica's step returns: the loss to differentiate (a mean over its share), the main
/// loss's value and the correct predictions, for the epoch's statistics.
pub struct ShareLoss {
    /// The loss to differentiate (mean over the share).
    pub loss: Tensor<1>,
    /// Its main-head value.
    pub value: f64,
    /// Correct top-1 predictions in the share.
    pub correct: usize,
}

/// A replica's forward pass and loss on its share: `(replica, images, labels, device index)`.
pub type ShareFn<'a, M> =
    dyn Fn(&M, Tensor<4>, Tensor<1, Int>, usize) -> Result<ShareLoss> + Sync + 'a;

/// The combined result of one data-parallel forward/backward.
pub struct StepGradients {
    /// Gradients of the global mean loss, keyed by the first device's parameters, on it.
    pub grads: GradientsParams,
    /// The global mean of the main loss.
    pub loss: f64,
    /// Correct top-1 predictions over the batch.
    pub correct: usize,
}

/// Sizes of the per-device shares of a batch of `batch`: as even as possible, the first
/// devices taking the remainder; devices past the batch get none.
pub fn shares(batch: usize, devices: usize) -> Vec<usize> {
    let devices = devices.max(1);
    (0..devices)
        .map(|i| batch / devices + usize::from(i < batch % devices))
        .collect()
}

/// Replicas of a module on devices after the first; the first device runs the caller's module.
pub struct DataParallel<M> {
    /// Autodiff devices; the first holds the model the optimiser steps.
    pub devices: Vec<Device>,
    replicas: Vec<M>,
}

impl<M: Module + Send + Sync> DataParallel<M> {
    /// Builds a replica on every device after the first with `build` (each replica has its own
    /// parameters and running statistics; their values come from the stepped model each step).
    pub fn new(devices: Vec<Device>, build: impl Fn(&Device) -> M) -> Self {
        let replicas = devices.iter().skip(1).map(&build).collect();
        Self { devices, replicas }
    }

    /// Devices in use.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// True with no device (never, once built from a device list).
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Gradients of the mean loss over the batch `x`, `y` (on the first device), each device
    /// running `share_loss` on its share with its replica (`model` on the first); the loss of a
    /// share of b images is weighted by b / B, so the summed gradient is the global mean's.
    pub fn gradients(
        &mut self,
        model: &M,
        (x, y): (Tensor<4>, Tensor<1, Int>),
        share_loss: &ShareFn<'_, M>,
    ) -> Result<StepGradients> {
        let batch = x.dims()[0]; // [B, C, H, W]
        if self.devices.len() == 1 {
            let out = share_loss(model, x, y, 0)?;
            let grads = GradientsParams::from_grads(out.loss.backward(), model);
            return Ok(StepGradients {
                grads,
                loss: out.value,
                correct: out.correct,
            });
        }
        for replica in &mut self.replicas {
            *replica = copy_values(replica.clone(), model);
        }
        let mut inputs = Vec::new();
        let mut start = 0;
        for (i, size) in shares(batch, self.devices.len()).into_iter().enumerate() {
            if size > 0 {
                let xs = x.clone().narrow(0, start, size).to_device(&self.devices[i]); // [b, C, H, W]
                let ys = y.clone().narrow(0, start, size).to_device(&self.devices[i]); // [b]
                inputs.push((i, xs, ys, size as f64 / batch as f64));
            }
            start += size;
        }
        let replicas = &self.replicas;
        let results: Vec<Result<(usize, GradientsParams, f64, usize)>> = std::thread::scope(|s| {
            let handles: Vec<_> = inputs
                .into_iter()
                .map(|(i, xs, ys, weight)| {
                    s.spawn(move || {
                        let replica = if i == 0 { model } else { &replicas[i - 1] };
                        let out = share_loss(replica, xs, ys, i)?;
                        let grads = (out.loss * weight as f32).backward();
                        let grads = GradientsParams::from_grads(grads, replica);
                        Ok((i, grads, out.value * weight, out.correct))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a replica's thread panicked"))
                .collect()
        });
        let (mut grads, mut loss, mut correct) = (GradientsParams::new(), 0.0, 0);
        for result in results {
            let (i, mut share, value, right) = result?;
            loss += value;
            correct += right;
            let source = if i == 0 { model } else { &self.replicas[i - 1] };
            add_keyed(source, model, &mut share, &mut grads, &self.devices[0]);
        }
        Ok(StepGradients {
            grads,
            loss,
            correct,
        })
    }
}

/// `to` with the values of `from`'s parameters and running statistics (same structure) and
/// which of them train, on its own device and with its own ids. The values travel as one
/// tensor: between wgpu devices each move is a trip through the host.
pub fn copy_values<M: Module>(to: M, from: &M) -> M {
    let values = flat_values(from);
    if values.is_empty() {
        return to;
    }
    let same_device = first_device(&to) == Some(values[0].0.device());
    to.map(&mut SetValues {
        values,
        same_device,
        moved: None,
        offset: 0,
        next: 0,
    })
}

/// Moves the gradients `from` of `replica` to `device`, keyed by the matching parameters of
/// `master` (same structure), adding them to those already in `into`. They travel as one
/// tensor when the devices differ.
pub fn add_keyed<M: Module>(
    replica: &M,
    master: &M,
    from: &mut GradientsParams,
    into: &mut GradientsParams,
    device: &Device,
) {
    let ids = param_ids(master);
    let mut taken = TakeGrads {
        from,
        grads: Vec::new(),
        next: 0,
    };
    replica.visit(&mut taken);
    let grads = taken.grads;
    if grads.is_empty() {
        return;
    }
    if grads[0].1.device() == *device {
        // Nothing to move: add each gradient as it is.
        replica.visit(&mut PutGrads {
            ids: &ids,
            with_grad: grads.iter().map(|g| g.0).collect(),
            all: grads[0].1.clone(),
            parts: Some(grads.into_iter().map(|g| g.1).collect()),
            sizes: Vec::new(),
            offset: 0,
            next: 0,
            taken: 0,
            into,
        });
        return;
    }
    let sizes: Vec<usize> = grads.iter().map(|g| g.1.shape().num_elements()).collect();
    let all = Tensor::cat(grads.iter().map(|g| g.1.clone()).collect(), 0); // [P]
    let all = all.to_device(device);
    let mut put = PutGrads {
        ids: &ids,
        with_grad: grads.iter().map(|g| g.0).collect(),
        all,
        parts: None,
        sizes,
        offset: 0,
        next: 0,
        taken: 0,
        into,
    };
    replica.visit(&mut put);
}

/// Every float parameter (and running statistic) of `module` in visiting order, flattened and
/// detached, with whether it trains.
fn flat_values<M: Module>(module: &M) -> Vec<(Tensor<1>, bool)> {
    struct Values(Vec<(Tensor<1>, bool)>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            let trains = value.is_require_grad();
            let n = value.shape().num_elements();
            self.0.push((value.detach().reshape([n]), trains));
        }
    }
    let mut values = Values(Vec::new());
    module.visit(&mut values);
    values.0
}

/// The device of `module`'s first float parameter.
fn first_device<M: Module>(module: &M) -> Option<Device> {
    struct First(Option<Device>);
    impl ModuleVisitor for First {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0.is_none() {
                self.0 = Some(param.val().device());
            }
        }
    }
    let mut first = First(None);
    module.visit(&mut first);
    first.0
}

/// The ids of `module`'s float parameters in visiting order.
fn param_ids<M: Module>(module: &M) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id);
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}

/// Gives a replica the values of the stepped model (in visiting order) and which of them
/// train, keeping the replica's ids and device; from another device they move as one tensor.
struct SetValues {
    values: Vec<(Tensor<1>, bool)>,
    same_device: bool,
    moved: Option<Tensor<1>>,
    offset: usize,
    next: usize,
}

impl ModuleMapper for SetValues {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let (shape, device) = (tensor.shape(), tensor.device());
        let (value, trains) = self.values[self.next].clone();
        let size = value.shape().num_elements();
        assert_eq!(
            shape.num_elements(),
            size,
            "replicas share the model's structure"
        );
        let flat = if self.same_device {
            value
        } else {
            let values = &self.values;
            let all = self.moved.get_or_insert_with(|| {
                let all = Tensor::cat(values.iter().map(|v| v.0.clone()).collect(), 0); // [P]
                all.to_device(&device)
            });
            all.clone().narrow(0, self.offset, size) // [n]
        };
        self.offset += size;
        self.next += 1;
        let mut value = flat.reshape(shape).detach();
        if trains && device.is_autodiff() {
            value = value.require_grad();
        }
        Param::from_mapped_value(id, value, mapper)
    }
}

/// Takes a replica's gradients out, flattened, with the visiting index of their parameter.
struct TakeGrads<'a> {
    from: &'a mut GradientsParams,
    grads: Vec<(usize, Tensor<1>)>,
    next: usize,
}

impl ModuleVisitor for TakeGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.from.remove::<D>(param.id) {
            let n = grad.shape().num_elements();
            self.grads.push((self.next, grad.reshape([n])));
        }
        self.next += 1;
    }
}

/// Adds the moved gradients (`all`, flattened in visiting order) under the stepped model's
/// ids to what the other replicas gave.
struct PutGrads<'a> {
    ids: &'a [ParamId],
    with_grad: Vec<usize>,
    all: Tensor<1>,
    /// The gradients one by one, when they need no move.
    parts: Option<Vec<Tensor<1>>>,
    sizes: Vec<usize>,
    offset: usize,
    next: usize,
    taken: usize,
    into: &'a mut GradientsParams,
}

impl ModuleVisitor for PutGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let index = self.next;
        self.next += 1;
        if self.with_grad.get(self.taken) != Some(&index) {
            return;
        }
        let shape = param.val().shape();
        let flat = match &self.parts {
            Some(parts) => parts[self.taken].clone(),
            None => {
                let size = self.sizes[self.taken];
                self.offset += size;
                self.all.clone().narrow(0, self.offset - size, size)
            }
        };
        self.taken += 1;
        let grad: Tensor<D> = flat.reshape(shape);
        let id = self.ids[index];
        let sum = match self.into.remove::<D>(id) {
            Some(other) => other + grad,
            None => grad,
        };
        self.into.register(id, sum);
    }
}
