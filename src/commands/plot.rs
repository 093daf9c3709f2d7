//! `ista-nas plot RUN_DIR…`: the curves of several runs (searches, one-stage runs, trainings)
//! overlaid in one SVG, each run in its own colour, with a legend.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use ista_nas::curves::RunCurves;
use ista_nas::curves::svg::curves_svg;
use ista_nas::storage::framed::write_atomic;

/// Options of `ista-nas plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Run folders to overlay (each holds the curves.json its run writes after every epoch), e.g. an ISTA-NAS and a DARTS search, or the seeds of a study.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// SVG file to write (a file: `--out` names folders elsewhere).
    #[arg(long, value_name = "FILE", default_value = "curves.svg")]
    pub svg: PathBuf,
    /// Title of the drawing; default: the kinds of the runs.
    #[arg(long)]
    pub title: Option<String>,
}

/// The legend names of `runs`: their folder names, or their paths where two folder names agree.
fn labels(runs: &[PathBuf]) -> Vec<String> {
    let names: Vec<String> = runs
        .iter()
        .map(|p| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
        })
        .collect();
    let unique = names
        .iter()
        .all(|n| names.iter().filter(|m| *m == n).count() == 1);
    if unique {
        names
    } else {
        runs.iter().map(|p| p.display().to_string()).collect()
    }
}

/// Runs `ista-nas plot`.
pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    let mut curves = Vec::with_capacity(args.runs.len());
    for dir in &args.runs {
        let run = RunCurves::load(dir).with_context(|| {
            format!(
                "{} has no readable curves (run folders get curves.json after their first epoch)",
                dir.display()
            )
        })?;
        if run.epochs.is_empty() {
            bail!("{}: no finished epoch to plot", dir.display());
        }
        curves.push(run);
    }
    let labelled: Vec<(String, &RunCurves)> = labels(&args.runs).into_iter().zip(&curves).collect();
    let title = args.title.clone().unwrap_or_else(|| {
        let mut kinds: Vec<&str> = curves.iter().map(|c| c.kind.as_str()).collect();
        kinds.dedup();
        kinds.join(" vs ")
    });
    let svg = curves_svg(&labelled, &title)?;
    write_atomic(&args.svg, svg.as_bytes())
        .with_context(|| format!("writing {}", args.svg.display()))?;
    println!("{} runs plotted: {}", curves.len(), args.svg.display());
    Ok(())
}
