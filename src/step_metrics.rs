//! An epoch's loss, accuracy and non-finite guard kept on the device: a training step issues
//! no host read (a read drains the GPU's queue and leaves it idle while the host records the
//! next step). The host reads the steps' values once per epoch, and for the progress bar at most
//! once a second, in one read each time; then it checks every step's loss and gradient norm, so
//! a NaN or infinite value still stops the run naming its epoch and step, before anything of
//! that epoch is written (as PyTorch's GradScaler keeps `found_inf` on the device).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::optim::{StepReport, StepStats, finite_step};

/// Least time between two reads for the progress bar.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

static HOST_READS: AtomicU64 = AtomicU64::new(0);

/// Reads of step values to the host so far in this process (each drains the device's queue).
pub fn host_reads() -> u64 {
    HOST_READS.load(Ordering::Relaxed)
}

/// The values of `t` on the host, counted in [`host_reads`].
pub fn read_to_host(t: Tensor<1>) -> Vec<f32> {
    HOST_READS.fetch_add(1, Ordering::Relaxed);
    t.into_data().iter::<f32>().collect()
}

/// Right top-1 predictions of `logits` `[B, classes]` for `labels` `[B]`, on the device: `[1]`.
pub fn right_on_device(logits: &Tensor<2>, labels: &Tensor<1, Int>) -> Tensor<1> {
    let predicted = logits.clone().inner().argmax(1).flatten::<1>(0, 1); // [B]
    predicted.equal(labels.clone().inner()).float().sum() // [1]
}

/// What one step leaves on the device: its mean loss, images, right predictions and the
/// gradient norm before clipping (where it clips).
pub struct StepOutcome {
    /// Mean loss of the batch, `[1]`.
    pub loss: Tensor<1>,
    /// Images in the batch.
    pub count: usize,
    /// Right top-1 predictions, `[1]`.
    pub right: Tensor<1>,
    /// Global gradient norm before clipping, `[1]`.
    pub norm: Option<Tensor<1>>,
}

/// Where an epoch stopped: steps done and their sums, read (a mid-epoch checkpoint holds it;
/// the data order, augmentation and drop path of every step follow from seed, epoch and step).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochPosition {
    /// Steps of the epoch done.
    pub batch: usize,
    /// Their loss and accuracy sums.
    pub stats: StepStats,
    /// Seconds the epoch ran before it stopped.
    pub seconds: f64,
}

/// How a call to run an epoch ended.
#[derive(Clone, Debug, PartialEq)]
pub enum EpochEnd<R> {
    /// The epoch finished: its record.
    Done(R),
    /// The caller asked to stop after a step; the position is kept for a mid-epoch checkpoint
    /// and for the next call, which goes on from there.
    Paused,
}

impl<R> EpochEnd<R> {
    /// The record of an epoch whose caller never asked it to pause.
    pub fn into_record(self) -> R {
        match self {
            EpochEnd::Done(record) => record,
            EpochEnd::Paused => unreachable!("an epoch pauses only when its caller asks"),
        }
    }
}

/// Whether the caller of an epoch wants it to go on after a step.
pub type StepControl = std::ops::ControlFlow<()>;

/// Which value a fault-injection test turns into NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Loss,
    Norm,
}

/// The fault `ISTA_NAS_INJECT_NAN=loss|norm:EPOCH:STEP` asks for at step `step` of epoch
/// `epoch` (both from 1), for the tests of the non-finite stop in any epoch and on either value.
fn injected_fault(epoch: usize, step: usize) -> Option<Fault> {
    static FAULT: OnceLock<Option<(Fault, usize, usize)>> = OnceLock::new();
    let fault = FAULT.get_or_init(|| {
        let spec = std::env::var("ISTA_NAS_INJECT_NAN").ok()?;
        let mut parts = spec.split(':');
        let which = match parts.next()? {
            "loss" => Fault::Loss,
            "norm" => Fault::Norm,
            _ => return None,
        };
        Some((
            which,
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
        ))
    });
    fault.and_then(|(which, e, s)| (e == epoch && s == step).then_some(which))
}

/// The steps of one epoch: values still on the device, and the sums of those already read.
pub struct StepMetrics {
    pending: Vec<StepOutcome>,
    read: StepStats,
    steps_read: usize,
    last_read: Instant,
    epoch: usize,
    run: String,
    /// Seconds the epoch ran before this part of it (a paused epoch goes on), and when this
    /// part began.
    earlier: f64,
    started: Instant,
}

impl StepMetrics {
    /// The metrics of epoch `epoch` (1-based) of `run` (for messages).
    pub fn new(epoch: usize, run: impl Into<String>) -> Self {
        Self {
            pending: Vec::new(),
            read: StepStats::default(),
            steps_read: 0,
            last_read: Instant::now(),
            epoch,
            run: run.into(),
            earlier: 0.0,
            started: Instant::now(),
        }
    }

    /// The metrics of epoch `epoch` (1-based) of `run` going on from `position`.
    pub fn resume(epoch: usize, run: impl Into<String>, position: &EpochPosition) -> Self {
        let mut metrics = Self::new(epoch, run);
        metrics.read = position.stats;
        metrics.steps_read = position.batch;
        metrics.earlier = position.seconds;
        metrics
    }

    /// Reports step `done` of `batches` to `progress`; when it asks to pause and steps are
    /// left, the epoch's position (read and checked) for a mid-epoch checkpoint.
    pub fn pause_requested(
        &mut self,
        done: usize,
        batches: usize,
        progress: &mut dyn FnMut(StepReport) -> StepControl,
    ) -> Result<Option<EpochPosition>> {
        if progress(self.report(done, batches)?).is_continue() || done >= batches {
            return Ok(None);
        }
        self.read()?;
        Ok(Some(EpochPosition {
            batch: self.steps_read,
            stats: self.read,
            seconds: self.earlier + self.started.elapsed().as_secs_f64(),
        }))
    }

    /// Records a step; nothing is read.
    pub fn add(&mut self, outcome: StepOutcome) {
        // without autodiff: no graph is kept, and every value sits on one backend
        let detached = |t: Tensor<1>| t.inner();
        let step = self.steps_read + self.pending.len() + 1;
        let (mut loss, mut norm) = (detached(outcome.loss), outcome.norm.map(detached));
        match injected_fault(self.epoch, step) {
            Some(Fault::Loss) => loss = loss * f32::NAN,
            Some(Fault::Norm) => norm = norm.map(|n| n * f32::NAN),
            None => {}
        }
        self.pending.push(StepOutcome {
            loss,
            right: detached(outcome.right),
            norm,
            count: outcome.count,
        });
    }

    /// The progress after `batch` of `batches`: the values read so far, refreshed by a read
    /// when a second has passed since the last one.
    pub fn report(&mut self, batch: usize, batches: usize) -> Result<StepReport> {
        if self.last_read.elapsed() >= PROGRESS_EVERY {
            self.read()?;
        }
        Ok(self.read.report(batch, batches))
    }

    /// The epoch's loss and accuracy, after a last read; an error naming the first step whose
    /// loss or gradient norm is not finite.
    pub fn finish(mut self) -> Result<StepStats> {
        self.read()?;
        Ok(self.read)
    }

    /// Reads the pending steps in one transfer and checks each.
    fn read(&mut self) -> Result<()> {
        self.last_read = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        let steps = std::mem::take(&mut self.pending);
        let n = steps.len();
        let mut parts = Vec::with_capacity(3 * n);
        let mut counts = Vec::with_capacity(n);
        for step in &steps {
            parts.push(step.loss.clone().reshape([1]));
            parts.push(step.right.clone().reshape([1]));
            let device = step.loss.device();
            let norm = step
                .norm
                .clone()
                .unwrap_or_else(|| Tensor::zeros([1], &device));
            parts.push(norm.reshape([1]));
            counts.push(step.count);
        }
        let values = read_to_host(Tensor::cat(parts, 0)); // [3n]: loss, right, norm per step
        for (i, (v, count)) in values.chunks_exact(3).zip(counts).enumerate() {
            let (loss, right, norm) = (f64::from(v[0]), v[1] as usize, v[2]);
            let step = self.steps_read + i + 1;
            finite_step(loss, norm, self.epoch, step, &self.run)?;
            self.read.add(loss, count, right);
        }
        self.steps_read += n;
        Ok(())
    }
}
