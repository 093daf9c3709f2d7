//! Data parallel for the two-stage search (ISTA-NAS, DARTS, PC-DARTS): one supernet replica
//! per further device, synced from the run's supernet before each step; each architecture and
//! weight batch is split across the devices and the replicas' gradients summed on the run's
//! device into one step of b (or α) and one of the weights.

use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};

use super::supernet::Supernet;
use super::trainer::{Searcher, supernet};
use crate::devices::parallel::split_batch;
use crate::error::Result;
use crate::step_metrics::right_on_device;

impl Searcher {
    /// Splits each architecture and weight batch over `others` as well as the run's device
    /// (synchronous data parallel: one supernet replica per further device, gradients summed
    /// into one step of b or α and one of the weights).
    pub fn use_devices(&mut self, others: &[Device]) -> Result<()> {
        self.replicas = others
            .iter()
            .map(|d| {
                let device = d.clone().autodiff();
                Ok((supernet(&self.config, &self.network, &device)?, device))
            })
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// Loss, right predictions and the summed gradient of the mean loss over `images` split
    /// across the devices, for the architecture (`arch`) or the weights.
    pub(super) fn parallel_grads(
        &mut self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        arch: bool,
    ) -> Result<(Tensor<1>, Tensor<1>, GradientsParams)> {
        let master: &dyn Supernet = self.net.as_ref();
        for (replica, device) in &mut self.replicas {
            replica.sync_from(master, device)?;
        }
        let mut grads = GradientsParams::new();
        // the shares' loss and right predictions, summed on the first device
        let inner = self.device.clone().inner();
        let (mut loss, mut right) = (Tensor::zeros([1], &inner), Tensor::zeros([1], &inner));
        let devices: Vec<Device> = std::iter::once(self.device.clone())
            .chain(self.replicas.iter().map(|r| r.1.clone()))
            .collect();
        for (i, x, y, weight) in split_batch(images, labels, &devices) {
            let net: &dyn Supernet = match i {
                0 => master,
                _ => self.replicas[i - 1].0.as_ref(),
            };
            let logits = net.logits(x, !arch)?; // [b, classes]
            let share = self.loss.forward(logits.clone(), y.clone());
            loss = loss + (share.clone().inner() * weight as f32).to_device(&inner);
            right = right + right_on_device(&logits, &y).to_device(&inner);
            net.add_grads(
                share * weight as f32,
                arch,
                master,
                &mut grads,
                &self.device,
            );
        }
        Ok((loss, right, grads))
    }
}
