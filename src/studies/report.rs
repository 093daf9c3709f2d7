//! Reports as papers give them: several trainings of one genotype (different seeds) summarised
//! as mean ± standard deviation of the final and the best test error, with the network's
//! parameters and multiply-adds, as a Markdown table.

use crate::search_space::genotype::{BUILTIN, Genotype};

/// What one finished training run contributes.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Where it is (its folder's name in the table).
    pub name: String,
    /// The architecture.
    pub genotype: Genotype,
    /// Seed of the run.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: usize,
    /// Test top-1 accuracy after each epoch, as fractions.
    pub test_top1: Vec<f64>,
    /// Parameters of the network, auxiliary head excluded.
    pub params: u64,
    /// Multiply-adds for one image.
    pub multiply_adds: u64,
}

/// Mean and sample standard deviation (n − 1; 0 for a single value).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n.max(1.0);
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The runs of one genotype and network, with their summary.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The genotype's built-in name, or the name of its first run.
    pub name: String,
    /// The runs, in the order given.
    pub runs: Vec<RunResult>,
}

impl Group {
    /// Final test error in % (last epoch): mean and standard deviation over the runs.
    pub fn final_error(&self) -> (f64, f64) {
        let errors: Vec<f64> = self
            .runs
            .iter()
            .map(|r| 100.0 * (1.0 - r.test_top1.last().copied().unwrap_or(0.0)))
            .collect();
        mean_std(&errors)
    }

    /// Best test error in % over the epochs (as DARTS's scripts report it; picked on the test
    /// set, so optimistic): mean and standard deviation over the runs.
    pub fn best_error(&self) -> (f64, f64) {
        let errors: Vec<f64> = self
            .runs
            .iter()
            .map(|r| 100.0 * (1.0 - r.test_top1.iter().copied().fold(0.0, f64::max)))
            .collect();
        mean_std(&errors)
    }
}

/// The runs grouped by genotype and network size (parameters), in first-seen order.
pub fn group(runs: Vec<RunResult>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for run in runs {
        let same = |g: &&mut Group| {
            g.runs[0].genotype == run.genotype
                && g.runs[0].params == run.params
                && g.runs[0].epochs == run.epochs
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.runs.push(run),
            None => {
                let name = BUILTIN
                    .iter()
                    .find(|n| Genotype::builtin(n).as_ref() == Some(&run.genotype))
                    .map_or_else(|| run.name.clone(), |n| n.to_string());
                groups.push(Group {
                    name,
                    runs: vec![run],
                });
            }
        }
    }
    groups
}

fn millions(n: u64) -> String {
    format!("{:.2} M", n as f64 / 1e6)
}

/// The Markdown table of `groups`: one row per genotype.
pub fn markdown(groups: &[Group]) -> String {
    let mut out = String::from(
        "| genotype | runs (seeds) | epochs | params | multiply-adds | final test error (%) | best test error (%) |\n|---|---|---|---|---|---|---|\n",
    );
    for g in groups {
        let seeds: Vec<String> = g.runs.iter().map(|r| r.seed.to_string()).collect();
        let (fm, fs) = g.final_error();
        let (bm, bs) = g.best_error();
        let first = &g.runs[0];
        out.push_str(&format!(
            "| {} | {} ({}) | {} | {} | {} | {fm:.2} ± {fs:.2} | {bm:.2} ± {bs:.2} |\n",
            g.name,
            g.runs.len(),
            seeds.join(", "),
            first.epochs,
            millions(first.params),
            millions(first.multiply_adds),
        ));
    }
    out
}
