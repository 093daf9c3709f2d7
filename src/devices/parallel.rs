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
    /// Its main-head value, `[1]` on the device.
    pub value: Tensor<1>,
    /// Correct top-1 predictions in the share.
    pub correct: Tensor<1>,
}

/// A replica's forward pass and loss on its share: `(replica, images, labels, device index)`.
pub type ShareFn<'a, M> =
    dyn Fn(&M, Tensor<4>, Tensor<1, Int>, usize) -> Result<ShareLoss> + Sync + 'a;

/// The combined result of one data-parallel forward/backward.
pub struct StepGradients {
    /// Gradients of the global mean loss, keyed by the first device's parameters, on it.
    pub grads: GradientsParams,
    /// The global mean of the main loss, `[1]` on the first device (no autodiff).
    pub loss: Tensor<1>,
    /// Correct top-1 predictions over the batch.
    pub correct: Tensor<1>,
}

/// Sizes of the per-device shares of a batch of `batch`: as even as possible, the first
/// devices taking the remainder; devices past the batch get none.
pub fn shares(batch: usize, devices: usize) -> Vec<usize> {
    let devices = devices.max(1);
    (0..devices)
        .map(|i| batch / devices + usize::from(i < batch % devices))
        .collect()
}

/// The non-empty shares of a batch `images`, `labels` across `devices`, each on its device:
/// (device index, images `[b, C, H, W]`, labels `[b]`, weight b / B).
pub fn split_batch(
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    devices: &[Device],
) -> Vec<(usize, Tensor<4>, Tensor<1, Int>, f64)> {
    let batch = labels.dims()[0];
    let mut start = 0;
    let mut out = Vec::new();
    for (i, size) in shares(batch, devices.len()).into_iter().enumerate() {
        if size > 0 {
            let x = images.clone().narrow(0, start, size).to_device(&devices[i]); // [b, C, H, W]
            let y = labels.clone().narrow(0, start, size).to_device(&devices[i]); // [b]
            out.push((i, x, y, size as f64 / batch as f64));
        }
        start += size;
    }
    out
}

/// `parts` (flattened, on one device) moved to `device` as one tensor and split again: between
/// wgpu devices each move is a trip through the host. On the same device they stay as they are.
fn moved_parts(parts: Vec<Tensor<1>>, device: &Device) -> Vec<Tensor<1>> {
    if parts.is_empty() || parts[0].device() == *device {
        return parts;
    }
    let sizes: Vec<usize> = parts.iter().map(|p| p.shape().num_elements()).collect();
    let all = Tensor::cat(parts, 0).to_device(device); // [P]
    let mut start = 0;
    sizes
        .into_iter()
        .map(|n| {
            start += n;
            all.clone().narrow(0, start - n, n) // [n]
        })
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

    /// Gradients of the mean loss over the batch `x`, `y` (on the first device), each device
    /// running `share_loss` on its share with its replica (`model` on the first); the loss of a
    /// share of b images is weighted by b / B, so the summed gradient is the global mean's.
    pub fn gradients(
        &mut self,
        model: &M,
        (x, y): (Tensor<4>, Tensor<1, Int>),
        share_loss: &ShareFn<'_, M>,
    ) -> Result<StepGradients> {
        if self.devices.len() == 1 {
            let out = share_loss(model, x, y, 0)?;
            let grads = GradientsParams::from_grads(out.loss.backward(), model);
            return Ok(StepGradients {
                grads,
                loss: out.value.inner(),
                correct: out.correct.inner(),
            });
        }
        for replica in &mut self.replicas {
            *replica = copy_values(replica.clone(), model);
        }
        let inputs = split_batch(x, y, &self.devices);
        let replicas = &self.replicas;
        type Share = (usize, GradientsParams, Tensor<1>, Tensor<1>);
        let results: Vec<Result<Share>> = std::thread::scope(|s| {
            let handles: Vec<_> = inputs
                .into_iter()
                .map(|(i, xs, ys, weight)| {
                    s.spawn(move || {
                        let replica = if i == 0 { model } else { &replicas[i - 1] };
                        let out = share_loss(replica, xs, ys, i)?;
                        let grads = (out.loss * weight as f32).backward();
                        let grads = GradientsParams::from_grads(grads, replica);
                        let value = out.value.inner() * weight as f32;
                        Ok((i, grads, value, out.correct.inner()))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a replica's thread panicked"))
                .collect()
        });
        let first = self.devices[0].clone().inner();
        let mut grads = GradientsParams::new();
        let (mut loss, mut correct) = (Tensor::zeros([1], &first), Tensor::zeros([1], &first));
        for result in results {
            let (i, mut share, value, right) = result?;
            loss = loss + value.to_device(&first);
            correct = correct + right.to_device(&first);
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
/// which of them train, on its own device and with its own ids. From another device the
/// values travel as one tensor.
pub fn copy_values<M: Module>(to: M, from: &M) -> M {
    let Some(device) = first_device(&to) else {
        return to;
    };
    let (values, trains): (Vec<_>, Vec<_>) = flat_values(from).into_iter().unzip();
    to.map(&mut SetValues {
        values: moved_parts(values, &device),
        trains,
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
    let mut taken = TakeGrads {
        from,
        grads: Vec::new(),
        next: 0,
    };
    replica.visit(&mut taken);
    let (with_grad, grads): (Vec<_>, Vec<_>) = taken.grads.into_iter().unzip();
    replica.visit(&mut PutGrads {
        ids: &param_ids(master),
        with_grad,
        grads: moved_parts(grads, device),
        next: 0,
        taken: 0,
        into,
    });
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

/// Gives a replica the values of the stepped model (flattened, on the replica's device, in
/// visiting order) and which of them train, keeping the replica's ids.
struct SetValues {
    values: Vec<Tensor<1>>,
    trains: Vec<bool>,
    next: usize,
}

impl ModuleMapper for SetValues {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let (shape, device) = (tensor.shape(), tensor.device());
        let (flat, trains) = (self.values[self.next].clone(), self.trains[self.next]);
        self.next += 1;
        assert_eq!(
            shape.num_elements(),
            flat.shape().num_elements(),
            "replicas share the model's structure"
        );
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

/// Adds the moved gradients (flattened, in visiting order of the parameters `with_grad`
/// names) under the stepped model's ids to what the other replicas gave.
struct PutGrads<'a> {
    ids: &'a [ParamId],
    with_grad: Vec<usize>,
    grads: Vec<Tensor<1>>,
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
        let grad: Tensor<D> = self.grads[self.taken].clone().reshape(param.val().shape());
        self.taken += 1;
        let id = self.ids[index];
        let sum = match self.into.remove::<D>(id) {
            Some(other) => other + grad,
            None => grad,
        };
        self.into.register(id, sum);
    }
}
