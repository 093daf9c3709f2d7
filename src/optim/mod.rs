//! The optimisers as the PyTorch code runs them: SGD with undampened momentum and weight decay
//! for the weights, Adam for the architecture, gradient clipping by the global L2 norm over all
//! parameters (`clip_grad_norm_`; Burn's own clipping acts on each parameter separately); the
//! learning-rate schedule, and the running loss and accuracy of an epoch's steps.

mod fused_sgd;
pub mod lr_plan;
mod optimiser;

pub use fused_sgd::Velocity;
pub use optimiser::{Optimiser, arch_adam, sgd};

/// The cosine schedule `η(t) = min + ½(peak − min)(1 + cos(πt/total))` (PyTorch's
/// `CosineAnnealingLR`) after `t` scheduler steps. The reference search and evaluation scripts
/// step it at the start of each epoch, so their epoch e (from 0) trains at `η(e + 1)` and the
/// last at `min`; the one-stage script steps it at the end, so its epoch e trains at `η(e)`.
pub fn cosine_lr(peak: f64, min: f64, t: usize, total: usize) -> f64 {
    let progress = t as f64 / total.max(1) as f64;
    min + 0.5 * (peak - min) * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// An error naming the epoch and step (1-based) of `run` when a step's loss or gradient norm
/// is NaN or infinite: the run stops there, before anything of that epoch is written.
pub fn finite_step(
    loss: f64,
    grad_norm: f32,
    epoch: usize,
    step: usize,
    run: &str,
) -> crate::error::Result<()> {
    let what = if !loss.is_finite() {
        format!("the training loss is {loss}")
    } else if !grad_norm.is_finite() {
        format!("the gradient norm is {grad_norm}")
    } else {
        return Ok(());
    };
    Err(crate::error::IstaError::NonFinite(format!(
        "{what} at epoch {epoch}, step {step} of the {run}; the run stopped, and its checkpoint \
         (if any) holds the last good epoch. Start again with a lower learning rate"
    )))
}

/// Progress of one step, for the caller's progress bar.
#[derive(Clone, Copy, Debug)]
pub struct StepReport {
    /// Batch index within the epoch.
    pub batch: usize,
    /// Batches in the epoch.
    pub batches: usize,
    /// Mean training loss so far this epoch.
    pub loss: f64,
    /// Training accuracy so far this epoch.
    pub accuracy: f64,
}

/// Running mean loss and accuracy over batches of an epoch or an evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepStats {
    loss_sum: f64,
    seen: usize,
    right: usize,
}

impl StepStats {
    /// Adds a batch of `count` images with mean loss `loss`, `right` of them predicted correctly.
    pub fn add(&mut self, loss: f64, count: usize, right: usize) {
        self.loss_sum += loss * count as f64;
        self.seen += count;
        self.right += right;
    }

    /// Mean loss so far (0 before any batch).
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1) as f64
    }

    /// Accuracy so far (0 before any batch).
    pub fn accuracy(&self) -> f64 {
        self.right as f64 / self.seen.max(1) as f64
    }

    /// Images seen so far.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// The report after batch `batch` of `batches`.
    pub fn report(&self, batch: usize, batches: usize) -> StepReport {
        StepReport {
            batch,
            batches,
            loss: self.loss(),
            accuracy: self.accuracy(),
        }
    }
}
