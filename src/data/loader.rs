//! Batches prepared on a worker thread, so the device never waits for decoding or augmentation:
//! the images of a batch are decoded (when streamed) and augmented in parallel, and at most
//! `PREFETCH` batches wait in memory. Every random choice is seeded from (seed, epoch, batch,
//! image), so an epoch replays exactly.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::DataError;
use super::augment::{Augment, Normalization, prepare};
use super::stream::ImageSet;

/// Batches kept ready ahead of the consumer.
const PREFETCH: usize = 4;

/// One batch: images `[B, C, S, S]` (row-major) and class labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Normalised, augmented pixels.
    pub images: Vec<f32>,
    /// Labels.
    pub labels: Vec<i64>,
    /// `[B, C, S, S]`.
    pub shape: [usize; 4],
}

impl Batch {
    /// Images `[B, C, S, S]` and labels `[B]` on `device`.
    pub fn tensors(self, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let n = self.labels.len();
        let images = Tensor::from_data(TensorData::new(self.images, self.shape), device); // [B, C, S, S]
        let labels = Tensor::from_data(TensorData::new(self.labels, [n]), device); // [B]
        (images, labels)
    }
}

/// How batches are drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchPlan {
    /// Images per batch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Shuffle each epoch.
    pub shuffle: bool,
    /// Preprocessing.
    pub augment: Augment,
    /// Normalisation.
    pub norm: Normalization,
}

impl BatchPlan {
    /// Batches in one pass over `len` images.
    pub fn batches(&self, len: usize) -> usize {
        len.div_ceil(self.batch_size.max(1))
    }
}

/// A well-mixed seed for the stream (a, b) of `seed` (splitmix-style).
pub fn mix(seed: u64, a: u64, b: u64) -> u64 {
    // splitmix-style mixing so nearby (epoch, batch) pairs get unrelated streams
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The image order of an epoch.
pub fn epoch_order(len: usize, shuffle: bool, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    if shuffle {
        order.shuffle(&mut StdRng::seed_from_u64(mix(seed, epoch, u64::MAX)));
    }
    order
}

/// Builds batch `index` of an epoch whose image order is `order`.
pub fn make_batch(
    data: &dyn ImageSet,
    plan: &BatchPlan,
    order: &[usize],
    seed: u64,
    epoch: u64,
    index: usize,
) -> Result<Batch, DataError> {
    let ids = &order[index * plan.batch_size..((index + 1) * plan.batch_size).min(order.len())];
    let size = plan.augment.size;
    let channels = data.channels();
    let prepared: Vec<Vec<f32>> = ids
        .par_iter()
        .enumerate()
        .map(|(k, &i)| {
            let stream = ((index as u64) << 20) | k as u64;
            let mut rng = StdRng::seed_from_u64(mix(seed, epoch, stream));
            let (pixels, dims) = data.pixels(i)?;
            Ok(prepare(&pixels, dims, &plan.augment, &plan.norm, &mut rng))
        })
        .collect::<Result<_, DataError>>()?;
    Ok(Batch {
        images: prepared.concat(),
        labels: ids.iter().map(|&i| data.label(i) as i64).collect(),
        shape: [ids.len(), channels, size, size],
    })
}

/// One epoch of batches, produced by a worker thread; iterate to receive them in order.
pub struct EpochLoader {
    receiver: Receiver<Result<Batch, DataError>>,
    worker: Option<JoinHandle<()>>,
}

impl EpochLoader {
    /// Starts producing the batches of `epoch` from batch `first` on.
    pub fn start(
        data: Arc<dyn ImageSet>,
        plan: BatchPlan,
        seed: u64,
        epoch: u64,
        first: usize,
    ) -> Self {
        let (sender, receiver) = sync_channel(PREFETCH);
        let worker = std::thread::spawn(move || {
            let order = epoch_order(data.len(), plan.shuffle, seed, epoch);
            for index in first..plan.batches(data.len()) {
                let batch = make_batch(data.as_ref(), &plan, &order, seed, epoch, index);
                let failed = batch.is_err();
                if sender.send(batch).is_err() || failed {
                    return; // the consumer stopped listening, or an image could not be read
                }
            }
        });
        Self {
            receiver,
            worker: Some(worker),
        }
    }
}

impl Iterator for EpochLoader {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.receiver.recv().ok()
    }
}

impl Drop for EpochLoader {
    fn drop(&mut self) {
        // Unblock a worker waiting on a full channel, then wait for it.
        let (_, empty) = sync_channel(0);
        drop(std::mem::replace(&mut self.receiver, empty));
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
