//! Data parallel for one-stage ISTA-NAS: one replica of the network per further device; b's
//! node weights are computed per share on the run's device and moved to the share's device,
//! so b's gradient flows back to the one b through the move, and the weight gradients of the
//! replicas are summed on the run's device into one step of each.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};

use super::trainer::OneStageSearch;
use crate::devices::parallel::{add_keyed, copy_values, split_batch};
use crate::error::Result;
use crate::model::drop_path::DropPath;
use crate::model::ops::OpStyle;
use crate::model::sparse_cell::{NodeWeights, SparseNetwork};
use crate::step_metrics::right_on_device;

impl OneStageSearch {
    /// Splits each batch over `others` as well as the run's device (synchronous data
    /// parallel: a replica of the network per further device; b's node weights are computed
    /// per share on the run's device and moved, so b's gradient comes back to it).
    pub fn use_devices(&mut self, others: &[Device]) {
        let auxiliary = self.config.auxiliary_weight > 0.0;
        let network = &self.net.network;
        self.replicas = others
            .iter()
            .map(|d| {
                let device = d.clone().autodiff();
                let style = OpStyle::ONE_STAGE;
                let model = SparseNetwork::with_style(network, style, auxiliary, &device);
                (model, device)
            })
            .collect();
    }

    /// Main loss, right predictions and the summed b and weight gradients of the batch split
    /// across the devices (the shares draw their drop-path masks from `drop` in turn).
    pub(super) fn parallel_grads(
        &mut self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        drop: &mut DropPath,
    ) -> Result<(Tensor<1>, Tensor<1>, GradientsParams, GradientsParams)> {
        let master = &self.net.model;
        for (replica, _) in &mut self.replicas {
            *replica = copy_values(replica.clone(), master);
        }
        let (mut b_total, mut w_total) = (GradientsParams::new(), GradientsParams::new());
        // the shares' main loss and right predictions, summed on the first device
        let inner = self.device.clone().inner();
        let (mut value, mut right) = (Tensor::zeros([1], &inner), Tensor::zeros([1], &inner));
        let devices: Vec<Device> = std::iter::once(self.device.clone())
            .chain(self.replicas.iter().map(|r| r.1.clone()))
            .collect();
        for (i, x, y, weight) in split_batch(images, labels, &devices) {
            let (model, device) = match i {
                0 => (master, &self.device),
                _ => (&self.replicas[i - 1].0, &self.replicas[i - 1].1),
            };
            let moved = |w: Vec<NodeWeights>| -> Vec<NodeWeights> {
                w.into_iter()
                    .map(|n| NodeWeights {
                        support: n.support,
                        w: n.w.to_device(device),
                    })
                    .collect()
            };
            let (normal, reduce) = self.net.node_weights(true);
            let (normal, reduce) = (moved(normal), moved(reduce));
            let (logits, aux) = model.forward_train(x, &normal, &reduce, Some(drop), &mut 0)?;
            let main = self.loss.forward(logits.clone(), y.clone());
            value = value + (main.clone().inner() * weight as f32).to_device(&inner);
            right = right + right_on_device(&logits, &y).to_device(&inner);
            let loss = match aux {
                Some(aux) => main + self.loss.forward(aux, y) * self.config.auxiliary_weight,
                None => main,
            };
            let mut grads = (loss * weight as f32).backward();
            let mut b = GradientsParams::from_module(&mut grads, &self.net.arch);
            let mut w = GradientsParams::from_module(&mut grads, model);
            let arch = &self.net.arch;
            add_keyed(arch, arch, &mut b, &mut b_total, &self.device);
            add_keyed(model, master, &mut w, &mut w_total, &self.device);
        }
        Ok((value, right, b_total, w_total))
    }
}
