//! A consistency study's folder as a whole: its shared settings (created once, even by shards
//! starting together; extended to more seeds when asked), each seed's row read from its
//! finished runs, the summary (τ with its p-value, ρ, the spread of the ground truth,
//! consistency.csv / correlation.json / consistency.svg), and `--merge`, which summarises
//! whatever the shards have finished.

use std::path::Path;

use anyhow::{Context, bail};
use ista_nas::bench::plot::scatter_svg;
use ista_nas::search_space::genotype::Genotype;
use ista_nas::storage::run_dir::RunDir;
use ista_nas::studies::consistency::{
    ConsistencyRow, Correlation, consistency_csv, correlation, ground_truth_reliability,
    recorded_correlation,
};
use ista_nas::studies::report::mean_std;

use super::consistency_args::{ConsistencyArgs, StudyMethod, training};
use super::study_runs::{recalibrated_result, search_result, train_result};

/// Creates the study folder and its config.json, or checks that the one there holds the same
/// settings. Shards that start together all land here: the file appears whole, once (written
/// aside, then hard-linked into place, which fails for all but the first).
pub fn open_study(args: &ConsistencyArgs, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let settings = out.join("config.json");
    let json = serde_json::to_string_pretty(args)?;
    let aside = out.join(format!("config.json.{}.tmp", std::process::id()));
    std::fs::write(&aside, &json).with_context(|| format!("cannot write {}", aside.display()))?;
    let linked = std::fs::hard_link(&aside, &settings);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mut saved: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&settings)?)
                    .with_context(|| format!("reading {}", settings.display()))?;
            if !saved.is_object() {
                bail!(
                    "{} is not a consistency study's settings (not a JSON object); choose another --out",
                    settings.display()
                );
            }
            let mut wanted = serde_json::to_value(args)?;
            // studies written before the options' renaming: `seeds` and `train_seeds`
            if let Some(o) = saved.as_object_mut() {
                if let Some(r) = o.remove("train_seeds") {
                    o.insert("trainings".into(), r);
                }
                if let Some(k) = o.remove("seeds") {
                    o.insert("searches".into(), k);
                }
            }
            let saved_seeds = saved["searches"].take().as_u64().unwrap_or(0);
            wanted["searches"].take();
            // The score is not a setting of the runs: another one scores the same runs again.
            let saved_score = saved
                .as_object_mut()
                .and_then(|s| s.remove("recalibrate_bn"))
                .and_then(|n| n.as_u64())
                .unwrap_or(0);
            if let Some(wanted) = wanted.as_object_mut() {
                wanted.remove("recalibrate_bn");
            }
            if saved != wanted {
                bail!(
                    "{} holds a study with other settings; continue it with the same options or choose another --out",
                    out.display()
                );
            }
            let rescored = saved_score != args.recalibrate_bn as u64;
            extend_study(args, out, (saved_seeds, rescored), &json)
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", settings.display())),
    }
}

/// Continues the study in `out` (settled to `saved_seeds` seeds, `rescored` when its supernet
/// score changes) with `args.searches`: as it was, or extended to more seeds (config.json
/// rewritten to `json`, the finished seeds kept); fewer seeds than the study has are refused.
fn extend_study(
    args: &ConsistencyArgs,
    out: &Path,
    (saved_seeds, rescored): (u64, bool),
    json: &str,
) -> anyhow::Result<()> {
    if rescored && args.searches >= saved_seeds {
        RunDir { path: out.into() }.write("config.json", json.as_bytes())?;
        println!(
            "scoring the supernets of the study in {} {} (its runs are kept)",
            out.display(),
            score_name(args.recalibrate_bn)
        );
    }
    match args.searches.cmp(&saved_seeds) {
        std::cmp::Ordering::Equal => println!("continuing the study in {}", out.display()),
        std::cmp::Ordering::Greater => {
            RunDir { path: out.into() }.write("config.json", json.as_bytes())?;
            println!(
                "extending the study in {} from {saved_seeds} to {} seeds (the finished seeds are kept)",
                out.display(),
                args.searches
            );
        }
        std::cmp::Ordering::Less => bail!(
            "{} holds a study of {saved_seeds} seeds; continue it with --seeds {saved_seeds}, or more to extend it",
            out.display()
        ),
    }
    Ok(())
}

/// The row of `seed` once its search and all its trainings have finished.
pub fn seed_row(
    args: &ConsistencyArgs,
    out: &Path,
    seed: u64,
) -> anyhow::Result<Option<ConsistencyRow>> {
    let search_dir = out.join(format!("seed-{seed}/search"));
    let Some((recorded_supernet_acc, search_seconds)) = search_result(&search_dir)? else {
        return Ok(None);
    };
    let supernet_acc = match args.recalibrate_bn {
        0 => recorded_supernet_acc,
        batches => match recalibrated_result(&search_dir, batches)? {
            Some(accuracy) => accuracy,
            None => return Ok(None),
        },
    };
    let (mut accuracies, mut train_seconds) = (Vec::new(), 0.0);
    for r in 0..args.trainings {
        let Some((top1, seconds)) = train_result(&training(out, seed, r).0)? else {
            return Ok(None);
        };
        accuracies.push(top1);
        train_seconds += seconds;
    }
    let (standalone_test_top1, standalone_std) = mean_std(&accuracies);
    let genotype = Genotype::load(&search_dir.join("genotype.json").display().to_string())?;
    Ok(Some(ConsistencyRow {
        seed,
        supernet_acc,
        recorded_supernet_acc,
        standalone_test_top1,
        standalone_std,
        standalone_runs: args.trainings,
        trainings_test_top1: accuracies,
        search_seconds,
        train_seconds,
        genotype,
    }))
}

/// What is left to do for an unfinished `seed`.
fn missing_part(args: &ConsistencyArgs, out: &Path, seed: u64) -> anyhow::Result<String> {
    let search = out.join(format!("seed-{seed}/search"));
    if search_result(&search)?.is_none() {
        return Ok("its search".into());
    }
    let mut parts = Vec::new();
    if args.recalibrate_bn > 0 && recalibrated_result(&search, args.recalibrate_bn)?.is_none() {
        parts.push(format!(
            "its supernet score {}",
            score_name(args.recalibrate_bn)
        ));
    }
    let left = (0..args.trainings)
        .filter_map(|r| match train_result(&training(out, seed, r).0) {
            Ok(Some(_)) => None,
            _ => Some((r + 1).to_string()),
        })
        .collect::<Vec<_>>();
    if !left.is_empty() {
        parts.push(format!(
            "training {} of {}",
            left.join(", "),
            args.trainings
        ));
    }
    Ok(parts.join(", "))
}

/// How the study scores its supernets, for the summary.
fn score_name(bn_batches: usize) -> String {
    match bn_batches {
        0 => "as the search recorded it".into(),
        n => format!("with BN recalibrated on {n} training batches"),
    }
}

/// What the supernet side of the scatter plot measures.
fn supernet_axis(method: StudyMethod, bn_batches: usize) -> &'static str {
    match (method, bn_batches) {
        (StudyMethod::IstaOneStage, 0) => "supernet test accuracy when frozen (%)",
        (StudyMethod::IstaOneStage, _) => "supernet test accuracy, BN recalibrated (%)",
        (_, 0) => "supernet val accuracy (%)",
        _ => "supernet val accuracy, BN recalibrated (%)",
    }
}

/// Prints a correlation's τ with its p-value and ρ, after `what`.
fn print_correlation(what: &str, c: &Correlation) {
    let p = c
        .kendall_p
        .map_or(String::new(), |p| format!(" (p = {p:.3})"));
    println!(
        "{what}: Kendall τ = {}{p}, Spearman ρ = {}",
        show(c.kendall_tau),
        show(c.spearman_rho)
    );
}

fn show(v: Option<f64>) -> String {
    v.map_or("undefined (a constant side)".into(), |v| format!("{v:+.3}"))
}

/// Prints τ, ρ and the ground truth's spread over `rows`, and writes consistency.csv,
/// correlation.json and consistency.svg into `out`.
pub fn summarise(
    args: &ConsistencyArgs,
    rows: &[ConsistencyRow],
    out: &Path,
) -> anyhow::Result<()> {
    let study = RunDir { path: out.into() };
    study.write("consistency.csv", consistency_csv(rows).as_bytes())?;
    let result = correlation(rows);
    println!(
        "\n{} seeds of {}: Kendall τ = {}, Spearman ρ = {} (supernet accuracy {} vs stand-alone test top-1)",
        result.n,
        args.method.name(),
        show(result.kendall_tau),
        show(result.spearman_rho),
        score_name(args.recalibrate_bn)
    );
    if let Some(p) = result.kendall_p {
        println!(
            "p = {p:.3}: the chance of a τ this high if the supernet ranked the genotypes at random (one-sided permutation test){}",
            if p < 0.05 {
                ""
            } else {
                "; above 0.05, so these seeds do not show the ranking is better than chance"
            }
        );
    }
    let mut saved = serde_json::to_value(&result)?;
    saved["supernet_score"] = score_name(args.recalibrate_bn).into();
    checks(args, rows, &mut saved)?;
    study.write(
        "correlation.json",
        serde_json::to_string_pretty(&saved)?.as_bytes(),
    )?;
    scatter(args, rows, &result, out)?;
    println!(
        "results in {}: consistency.csv, correlation.json, consistency.svg, seed-*/search, seed-*/train*",
        out.display()
    );
    Ok(())
}

/// The study's checks of itself, printed and added to `saved`: the correlation with the
/// searches' recorded accuracy (when recalibrated), the ground truth's test–retest, and the
/// spread of repeated trainings.
fn checks(
    args: &ConsistencyArgs,
    rows: &[ConsistencyRow],
    saved: &mut serde_json::Value,
) -> anyhow::Result<()> {
    if args.recalibrate_bn > 0 {
        let recorded = recorded_correlation(rows);
        print_correlation(
            "with the supernet accuracy the searches recorded",
            &recorded,
        );
        saved["recorded"] = serde_json::to_value(&recorded)?;
    }
    if let Some(retest) = ground_truth_reliability(rows) {
        print_correlation(
            "ground truth test–retest (each genotype's first training against the mean of its others)",
            &retest,
        );
        if retest.kendall_p.is_none_or(|p| p >= 0.05) {
            println!(
                "the trainings do not rank the genotypes consistently: their noise hides the genotypes' differences, so this study cannot show whether the supernet ranks them (train longer or on more images, or test on more images)"
            );
        }
        saved["ground_truth_retest"] = serde_json::to_value(&retest)?;
    }
    if args.trainings > 1 {
        let spreads: Vec<f64> = rows.iter().map(|r| 100.0 * r.standalone_std).collect();
        let (mean, _) = mean_std(&spreads);
        let widest = spreads.iter().copied().fold(0.0, f64::max);
        let span = |v: &dyn Fn(&ConsistencyRow) -> f64| {
            100.0
                * (rows.iter().map(v).fold(0.0, f64::max) - rows.iter().map(v).fold(1.0, f64::min))
        };
        println!(
            "stand-alone test top-1 over {} trainings per genotype: standard deviation {mean:.2} points on average, {widest:.2} at most; the genotypes' means span {:.2} points, the supernet side {:.2}",
            args.trainings,
            span(&|r| r.standalone_test_top1),
            span(&|r| r.supernet_acc)
        );
    }
    Ok(())
}

/// consistency.svg: supernet against stand-alone accuracy, one point per seed.
fn scatter(
    args: &ConsistencyArgs,
    rows: &[ConsistencyRow],
    result: &Correlation,
    out: &Path,
) -> anyhow::Result<()> {
    let points: Vec<(f64, f64, String)> = rows
        .iter()
        .map(|r| {
            let label = format!("seed {}", r.seed);
            (
                100.0 * r.supernet_acc,
                100.0 * r.standalone_test_top1,
                label,
            )
        })
        .collect();
    let p = result
        .kendall_p
        .map_or(String::new(), |p| format!(" (p = {p:.3})"));
    let title = format!(
        "{}: τ = {}{p}, ρ = {}",
        args.method.name(),
        show(result.kendall_tau),
        show(result.spearman_rho)
    );
    let axes = (
        supernet_axis(args.method, args.recalibrate_bn),
        "stand-alone test top-1 (%)",
    );
    Ok(scatter_svg(
        &points,
        axes,
        &title,
        &out.join("consistency.svg"),
    )?)
}

/// `consistency --merge DIR`: the summary of every finished seed of the study in `dir`, and
/// the list of those still missing.
pub fn merge(dir: &Path) -> anyhow::Result<()> {
    let settings = dir.join("config.json");
    let text = std::fs::read(&settings).with_context(|| {
        format!(
            "{} is not a consistency study (no readable config.json)",
            dir.display()
        )
    })?;
    let args: ConsistencyArgs = serde_json::from_slice(&text)
        .with_context(|| format!("reading the study's settings in {}", settings.display()))?;
    let (mut rows, mut missing) = (Vec::new(), Vec::new());
    for seed in args.first_seed..args.first_seed + args.searches {
        match seed_row(&args, dir, seed)? {
            Some(row) => rows.push(row),
            None => missing.push(format!("seed {seed} ({})", missing_part(&args, dir, seed)?)),
        }
    }
    println!(
        "{} of {} seeds finished in {}",
        rows.len(),
        args.searches,
        dir.display()
    );
    if !missing.is_empty() {
        println!("missing: {}", missing.join("; "));
    }
    if rows.len() < 2 {
        bail!(
            "{} finished seeds: a rank correlation needs at least 2 (run the missing shards, then merge again)",
            rows.len()
        );
    }
    summarise(&args, &rows, dir)
}
