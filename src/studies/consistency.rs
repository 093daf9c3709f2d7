//! Search–evaluation consistency (docs/method.md §8): per seed, the supernet's accuracy and the
//! stand-alone accuracy of its genotype, and the rank correlations between the two.

use serde::{Deserialize, Serialize};

use crate::search_space::genotype::Genotype;
use crate::studies::rank::{kendall_p_value, kendall_tau_b, spearman_rho};

/// Columns of consistency.csv.
pub const CONSISTENCY_CSV_HEADER: &str = "seed,supernet_acc,recorded_supernet_acc,standalone_test_top1,standalone_std,standalone_runs,trainings_test_top1,search_seconds,train_seconds,genotype";

/// One seed's search and stand-alone training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsistencyRow {
    /// Seed of the search (and of the training).
    pub seed: u64,
    /// The supernet's score: [`Self::recorded_supernet_acc`], or in a study with BN
    /// recalibration the found architecture's accuracy with recomputed BN statistics.
    pub supernet_acc: f64,
    /// Supernet accuracy in eval mode as the search recorded it: two-stage, DARTS, PC-DARTS on
    /// the val half after the last search epoch; one-stage on the test split at the epoch its
    /// architecture froze.
    pub recorded_supernet_acc: f64,
    /// Test top-1 of the genotype trained from scratch, after the last epoch (the mean over
    /// its trainings).
    pub standalone_test_top1: f64,
    /// Sample standard deviation of that test top-1 over the trainings (0 for one).
    pub standalone_std: f64,
    /// Trainings of the genotype (different seeds).
    pub standalone_runs: usize,
    /// Test top-1 of each training, in training order.
    pub trainings_test_top1: Vec<f64>,
    /// Seconds of the search's epochs.
    pub search_seconds: f64,
    /// Seconds of the training's epochs.
    pub train_seconds: f64,
    /// The genotype the search found.
    pub genotype: Genotype,
}

/// Kendall τ-b and Spearman ρ over the rows (`None` with fewer than 2 rows or a constant side).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    /// Seeds that count.
    pub n: usize,
    /// Kendall's τ-b.
    pub kendall_tau: Option<f64>,
    /// Spearman's ρ (average ranks for ties).
    pub spearman_rho: Option<f64>,
    /// One-sided permutation p-value of τ against no association: how often a τ this high
    /// comes from genotypes the supernet ranks at random.
    #[serde(default)]
    pub kendall_p: Option<f64>,
}

/// The correlation between supernet and stand-alone accuracy.
pub fn correlation(rows: &[ConsistencyRow]) -> Correlation {
    correlate(rows, |r| r.supernet_acc)
}

/// The correlation between the supernet accuracy the searches recorded and stand-alone
/// accuracy (the same as [`correlation`] unless the study recalibrates BN).
pub fn recorded_correlation(rows: &[ConsistencyRow]) -> Correlation {
    correlate(rows, |r| r.recorded_supernet_acc)
}

fn correlate(rows: &[ConsistencyRow], score: impl Fn(&ConsistencyRow) -> f64) -> Correlation {
    let x: Vec<f64> = rows.iter().map(score).collect();
    let y: Vec<f64> = rows.iter().map(|r| r.standalone_test_top1).collect();
    pair(&x, &y)
}

fn pair(x: &[f64], y: &[f64]) -> Correlation {
    Correlation {
        n: x.len(),
        kendall_tau: kendall_tau_b(x, y),
        spearman_rho: spearman_rho(x, y),
        kendall_p: kendall_p_value(x, y),
    }
}

/// Whether the ground truth ranks the genotypes at all (test–retest): the correlation between
/// each genotype's first training and the mean of its other trainings. Near 0 (a large p)
/// when the trainings' own noise hides every difference between the genotypes, so no supernet
/// could be seen to rank them. `None` unless every row has two trainings or more.
pub fn ground_truth_reliability(rows: &[ConsistencyRow]) -> Option<Correlation> {
    let mut first = Vec::with_capacity(rows.len());
    let mut others = Vec::with_capacity(rows.len());
    for r in rows {
        let (head, rest) = r.trainings_test_top1.split_first()?;
        if rest.is_empty() {
            return None;
        }
        first.push(*head);
        others.push(rest.iter().sum::<f64>() / rest.len() as f64);
    }
    Some(pair(&first, &others))
}

/// The rows as CSV, header included (the genotype as JSON in one quoted field).
pub fn consistency_csv(rows: &[ConsistencyRow]) -> String {
    let mut csv = format!("{CONSISTENCY_CSV_HEADER}\n");
    for r in rows {
        csv.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.6},{},{},{:.1},{:.1},\"{}\"\n",
            r.seed,
            r.supernet_acc,
            r.recorded_supernet_acc,
            r.standalone_test_top1,
            r.standalone_std,
            r.standalone_runs,
            r.trainings_test_top1
                .iter()
                .map(|a| format!("{a:.6}"))
                .collect::<Vec<_>>()
                .join(";"),
            r.search_seconds,
            r.train_seconds,
            serde_json::to_string(&r.genotype)
                .expect("a genotype always serialises")
                .replace('"', "\"\"")
        ));
    }
    csv
}

/// One share of a study's seeds, for spreading a study over machines: shard `index` of
/// `count` (from 0, as a Slurm job array numbers its tasks) owns the seeds whose offset from
/// the first seed leaves remainder `index` when divided by `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// Shards in all.
    pub count: u64,
}

impl Shard {
    /// Whether the seed at `offset` from the first seed belongs to this shard.
    pub fn owns(&self, offset: u64) -> bool {
        offset % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// Parses `i/n` with 0 ≤ i < n.
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a shard: write i/n, e.g. 0/4"))?;
        let parse = |v: &str, what: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{s}`: the shard's {what} `{v}` is not a whole number"))
        };
        let (index, count) = (parse(i, "index")?, parse(n, "count")?);
        if count == 0 || index >= count {
            return Err(format!(
                "`{s}`: a shard i/n needs n ≥ 1 and 0 ≤ i < n (Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT with --array=0-(n−1))"
            ));
        }
        Ok(Self { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}
