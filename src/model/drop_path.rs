//! Drop path (DARTS): during training, each sample's output of a non-identity op is zeroed
//! with probability p and otherwise scaled by 1/(1 − p). Masks come from a host RNG seeded per
//! step, so a resumed run draws exactly the masks of an uninterrupted one.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use burn::tensor::{Tensor, TensorData};

/// Per-step drop-path state: probability and the RNG the masks come from.
pub struct DropPath {
    /// Drop probability p of this step.
    pub prob: f64,
    rng: StdRng,
}

impl DropPath {
    /// Masks with drop probability `prob` from a generator seeded with `seed`.
    pub fn new(prob: f64, seed: u64) -> Self {
        Self {
            prob,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// `[B, C, H, W]` → the same shape, each sample kept (and scaled by 1/(1 − p)) or zeroed.
    pub fn apply(&mut self, x: Tensor<4>) -> Tensor<4> {
        if self.prob <= 0.0 {
            return x;
        }
        let keep = 1.0 - self.prob;
        let batch = x.dims()[0];
        let mask: Vec<f32> = (0..batch)
            .map(|_| {
                if self.rng.random::<f64>() < keep {
                    (1.0 / keep) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::<4>::from_data(TensorData::new(mask, [batch, 1, 1, 1]), &x.device()); // [B, 1, 1, 1]
        x * mask
    }
}
